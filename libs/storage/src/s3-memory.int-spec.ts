import { Readable } from 'node:stream';
import { PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { fsFixture, startHandlerServer, type DriverFixture, type HandlerServer } from '../test/s3-harness';

const MiB = 1024 * 1024;

/** 200 MiB generated on the fly from one reused buffer, so only the upload path can grow memory. */
function generated(totalMiB: number): Readable {
  const chunk = Buffer.alloc(MiB, 7);
  let sent = 0;
  return new Readable({
    read() {
      this.push(sent++ < totalMiB ? chunk : null);
    },
  });
}

describe('S3 handler memory (fs driver)', () => {
  let fx: DriverFixture;
  let srv: HandlerServer;
  beforeAll(async () => {
    fx = await fsFixture();
    srv = await startHandlerServer(fx.driver);
  });
  afterAll(async () => {
    await srv.close();
    await fx.close();
  });

  it('streams a 200 MiB upload with RSS growth under 64 MiB', async () => {
    const s3 = srv.client('job1');
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/huge.bin', Body: generated(200), ContentLength: 200 * MiB }));
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'outputs', Key: 'org1/job1/huge.bin' }));
    expect(head.ContentLength).toBe(200 * MiB);
    expect((peak - before) / MiB).toBeLessThan(64);
  }, 120_000);
});
