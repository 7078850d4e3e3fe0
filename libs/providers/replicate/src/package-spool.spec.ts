import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PackageTooLargeError, spoolPackage } from './package-spool';

describe('spoolPackage', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'spool-spec-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('turns the stream into a named file-backed File and cleans up', async () => {
    const bytes = Buffer.alloc(300_000, 7);
    const s = await spoolPackage(Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]), { tmpDir: dir, fileName: 'ct-job-1.zip', maxBytes: 1_000_000 });
    expect(s.bytes).toBe(300_000);
    expect(s.file.name).toBe('ct-job-1.zip');
    expect(s.file.type).toBe('application/zip');
    expect(Buffer.from(await s.file.arrayBuffer()).equals(bytes)).toBe(true);
    await s.cleanup();
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops at the limit and leaves nothing behind', async () => {
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(100_000));
    await expect(spoolPackage(Readable.from(chunks), { tmpDir: dir, fileName: 'x.zip', maxBytes: 250_000 })).rejects.toBeInstanceOf(PackageTooLargeError);
    expect(await readdir(dir)).toEqual([]);
  });
});
