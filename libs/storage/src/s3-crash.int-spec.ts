import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateMultipartUploadCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import { CODE_FOR, honestUpload, LIES, lyingUpload, sendSigned, type RawResponse, type SignedUpload } from '../test/attacks';
import { credentialsFor } from '../test/s3-harness';

const HOOK = join(__dirname, '../test/ts-register.cjs');
const ENTRY = join(__dirname, '../test/handler-process.ts');
const PREFIX = '/api/cloud/storage';
const s3Code = (xml: string): string | undefined => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

/**
 * The storage endpoint as its own process, attacked with uploads that lie about their bodies. An unhandled
 * stream error used to end the process (every tenant's storage down); here the test sees the process itself.
 */
describe.each(['fs', 'minio'])('the storage process under lying uploads: %s driver', (driver) => {
  let child: ChildProcess;
  let port = 0;
  let stderr = '';
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let s3: S3Client;

  beforeAll(async () => {
    child = spawn(process.execPath, ['-r', HOOK, ENTRY, driver], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code, signal) => (exited = { code, signal }));
    const started = once(createInterface({ input: child.stdout! }), 'line').then(([line]) => (JSON.parse(String(line)) as { port: number }).port);
    const died = once(child, 'exit').then(() => Promise.reject(new Error(`the handler process exited at start: ${stderr}`)));
    port = await Promise.race([started, died]);
    s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}${PREFIX}`, forcePathStyle: true, region: 'us-east-1', credentials: credentialsFor('job1'), maxAttempts: 1 });
  }, 60_000);

  afterAll(async () => {
    s3?.destroy();
    if (child && !exited) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  /** A failed request says why: usually that the process died, with what it printed. */
  const send = async (u: SignedUpload): Promise<RawResponse> => {
    try {
      return await sendSigned(u);
    } catch (e) {
      await Promise.race([once(child, 'exit'), sleep(500)]);
      throw new Error(`request failed (${(e as Error).message}); handler process exit: ${JSON.stringify(exited)}; its stderr: ${stderr.slice(-1500)}`);
    }
  };

  it('answers every lie with S3 XML and is still up and serving afterwards', async () => {
    for (const lie of LIES) {
      for (const size of [100, 300 * 1024]) {
        const data = randomBytes(size);
        const put = await send(lyingUpload(lie, { port, path: `${PREFIX}/outputs/org1/job1/p-${lie}-${size}` }, data));
        expect([lie, size, put.status, s3Code(put.body)]).toEqual([lie, size, 400, CODE_FOR[lie]]);
        const Key = `org1/job1/m-${lie}-${size}`;
        const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'outputs', Key }));
        const part = await send(lyingUpload(lie, { port, path: `${PREFIX}/outputs/${Key}`, query: { partNumber: '1', uploadId: UploadId } }, data));
        expect([lie, size, part.status, s3Code(part.body)]).toEqual([lie, size, 400, CODE_FOR[lie]]);
      }
    }
    await send({ ...honestUpload({ port, path: `${PREFIX}/outputs/org1/job1/gone` }, randomBytes(2 * 1024 * 1024)), disconnectAfter: 512 * 1024 });

    const data = randomBytes(1000);
    expect((await send(honestUpload({ port, path: `${PREFIX}/outputs/org1/job1/after` }, data))).status).toBe(200);
    const back = await s3.send(new GetObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/after' }));
    expect(Buffer.from(await back.Body!.transformToByteArray()).equals(data)).toBe(true);
    expect(exited).toBeUndefined();
    expect(stderr).not.toMatch(/Unhandled|Uncaught|\n\s+at /);
  }, 60_000);
});
