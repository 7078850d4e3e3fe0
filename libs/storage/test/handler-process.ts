/**
 * Test-only child process: the S3 handler on one driver (argv: fs | minio), so a test can tell whether a request
 * ends the process. Prints {"port": n} once listening; SIGTERM closes it.
 */
import { fsFixture, minioFixture, startHandlerServer } from './s3-harness';

async function main(): Promise<void> {
  const fx = process.argv[2] === 'minio' ? await minioFixture() : await fsFixture();
  const srv = await startHandlerServer(fx.driver);
  process.stdout.write(`${JSON.stringify({ port: srv.port })}\n`);
  process.once('SIGTERM', () => {
    void srv.close().then(() => fx.close()).then(() => process.exit(0));
  });
}

void main();
