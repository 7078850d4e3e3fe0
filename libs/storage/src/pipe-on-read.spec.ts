import { PassThrough, Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from '@ct/job-domain';
import { AwsChunkedDecoder } from './aws-chunked';
import { bodyVerifier, verifyBody } from './hashing-stream';
import { pipeOnRead } from './pipe-on-read';

async function failure(r: Readable): Promise<DomainError | Error | undefined> {
  try {
    await text(r);
    return undefined;
  } catch (e) {
    return e as Error;
  }
}
const s3Code = (e: unknown): unknown => (e instanceof DomainError ? e.details?.['s3Code'] : undefined);

describe('pipeOnRead', () => {
  it('reads nothing until the result is read, so a failing check waits for its reader', async () => {
    const source = Readable.from([Buffer.from('abc')]);
    const chain = verifyBody(source, { md5Base64: 'AAAAAAAAAAAAAAAAAAAAAA==' });
    // A driver's own asynchronous work before it reads: with eager piping the check failed here, with no listener.
    await sleep(20);
    expect(source.readableEnded).toBe(false);
    expect(chain.destroyed).toBe(false);
    expect(s3Code(await failure(chain))).toBe('BadDigest');
  });

  it('fails the reader, not the process, when a middle stage fails before the reader listens', async () => {
    const source = Readable.from([Buffer.from('zz\r\nnot a chunk\r\n')]);
    const chain = pipeOnRead(source, [new AwsChunkedDecoder(), bodyVerifier({})]);
    await sleep(20);
    expect(s3Code(await failure(chain))).toBe('InvalidRequest');
  });

  it('never destroys the source when a check fails (the request must still carry the error response)', async () => {
    const source = new PassThrough();
    source.write('abcdef');
    const chain = verifyBody(source, { maxBytes: 3 });
    expect((await failure(chain)) as DomainError).toMatchObject({ code: 'payload_too_large' });
    expect(source.destroyed).toBe(false);
    expect(source.listenerCount('data')).toBe(0);
  });

  it.each([
    ['fails', new Error('read ECONNRESET')],
    ['closes before its end', undefined],
  ])('answers IncompleteBody when the source %s (a client that went away)', async (_what, err) => {
    const source = new Readable({ read: () => undefined });
    source.push('ab');
    const chain = verifyBody(source, { contentLength: 10 });
    const result = failure(chain);
    await sleep(10);
    source.destroy(err);
    expect(s3Code(await result)).toBe('IncompleteBody');
  });

  it('answers IncompleteBody when the source was gone before anyone read', async () => {
    const source = new Readable({ read: () => undefined });
    source.push('ab');
    const chain = verifyBody(source, { contentLength: 10 });
    source.destroy(new Error('socket hang up'));
    await sleep(10);
    expect(s3Code(await failure(chain))).toBe('IncompleteBody');
  });

  it('passes bytes through in order when every check holds', async () => {
    const source = Readable.from(['ab', 'cd', 'e']);
    expect(await text(verifyBody(source, { contentLength: 5 }))).toBe('abcde');
  });
});
