import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { DomainError } from '@ct/job-domain';
import { packageDatasets } from './dataset-packager';
import { planPackage } from './package-plan';

/** A sink that records what reached it and can fail or pause on demand. */
class RecordingSink extends Writable {
  bytes = 0;
  constructor(private readonly onChunk: (sink: RecordingSink) => Error | undefined = () => undefined) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    const err = this.onChunk(this);
    setImmediate(() => callback(err ?? null));
  }
}

async function domainCode(promise: Promise<unknown>): Promise<string> {
  const err = await promise.catch((e: unknown) => e);
  if (err instanceof DomainError) return err.code;
  throw new Error(`expected a DomainError, got ${String(err)}`);
}

describe('packageDatasets', () => {
  let base: string;
  let ds: string;
  const imageBytes = 3 * 256 * 1024;

  beforeAll(() => {
    base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'ct-pack-')));
    ds = path.join(base, 'ds');
    mkdirSync(ds);
    for (let i = 0; i < 12; i++) {
      writeFileSync(path.join(ds, `img-${String(i).padStart(2, '0')}.jpg`), Buffer.alloc(256 * 1024, i));
      writeFileSync(path.join(ds, `img-${String(i).padStart(2, '0')}.txt`), `caption ${i}`);
    }
    mkdirSync(path.join(base, 'empty'));
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('refuses a package over maxBytes before writing anything, saying size, limit and what to do', async () => {
    const sink = new RecordingSink();
    const err = await packageDatasets([{ id: 'ds', dir: ds }], sink, { maxBytes: imageBytes }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('package_too_large');
    expect((err as DomainError).message).toMatch(/3\.0 MiB.*0\.8 MiB.*Remove/);
    expect(sink.bytes).toBe(0);
  });

  it('aborts when the archive itself outgrows maxBytes while writing', async () => {
    const plan = await planPackage([{ id: 'ds', dir: ds }]);
    const sink = new RecordingSink();
    // The raw contents fit; the zip headers around 24 entries do not.
    expect(await domainCode(packageDatasets([{ id: 'ds', dir: ds }], sink, { maxBytes: plan.bytes + 100 }))).toBe('package_too_large');
    expect(sink.bytes).toBeLessThanOrEqual(plan.bytes + 100);
  });

  it('stops when the signal aborts mid-package', async () => {
    const controller = new AbortController();
    const sink = new RecordingSink((s) => {
      if (s.bytes > 1024 * 1024) controller.abort();
      return undefined;
    });
    const err = await packageDatasets([{ id: 'ds', dir: ds }], sink, { signal: controller.signal }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(sink.bytes).toBeLessThan(12 * 256 * 1024);
  });

  it('propagates sink errors', async () => {
    const sink = new RecordingSink((s) => (s.bytes > 512 * 1024 ? new Error('disk full') : undefined));
    await expect(packageDatasets([{ id: 'ds', dir: ds }], sink)).rejects.toThrow('disk full');
  });

  it('counts the bytes that reached the sink and packages an empty dataset as its folder', async () => {
    const sink = new RecordingSink();
    const summary = await packageDatasets([{ id: 'ds', dir: ds }, { id: 'empty', dir: path.join(base, 'empty') }], sink);
    expect(summary.archiveBytes).toBe(sink.bytes);
    expect(summary.files).toBe(24);
    expect(summary.datasets.map((d) => [d.archivePrefix, d.files])).toEqual([
      ['datasets/ds', 24],
      ['datasets/empty', 0],
    ]);
  });

  it('refuses two datasets that would share an archive folder', async () => {
    const datasets = [{ id: 'a b', dir: ds }, { id: 'a_b', dir: ds }];
    expect(await domainCode(packageDatasets(datasets, new RecordingSink()))).toBe('validation_failed');
  });

  it('names a missing dataset folder', async () => {
    const missing = path.join(base, 'gone');
    const err = await packageDatasets([{ id: 'gone', dir: missing }], new RecordingSink()).catch((e: unknown) => e);
    expect((err as DomainError).code).toBe('dataset_path_missing');
    expect((err as DomainError).message).toContain(missing);
  });
});
