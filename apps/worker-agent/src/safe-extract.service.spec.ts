import archiver from 'archiver';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRawZip, type RawZipEntry } from '../test/raw-zip.writer';
import { UnsafeArchiveError, entryTarget, extractZipSafely } from './safe-extract.service';

describe('extractZipSafely', () => {
  let root: string;
  let dataDir: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ct-extract-'));
    // The data dir sits two levels down so '../' escapes land somewhere we can inspect.
    dataDir = join(root, 'job', 'data');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function writeRaw(entries: RawZipEntry[]): string {
    const file = join(root, 'pkg.zip');
    writeFileSync(file, buildRawZip(entries));
    return file;
  }

  async function writeWithArchiver(files: Record<string, string>): Promise<string> {
    const file = join(root, 'good.zip');
    const zip = archiver('zip');
    const out = createWriteStream(file);
    const done = new Promise<void>((res, rej) => out.on('close', () => res()).on('error', rej));
    zip.pipe(out);
    for (const [name, data] of Object.entries(files)) zip.append(data, { name });
    await zip.finalize();
    await done;
    return file;
  }

  it('extracts a normal archive, nested folders included', async () => {
    const zip = await writeWithArchiver({ 'datasets/a/1.txt': 'one', 'datasets/a/sub/2.png': 'two', 'top.txt': 'top' });
    const result = await extractZipSafely(zip, dataDir);
    expect(result).toEqual({ files: 3, bytes: 9 });
    expect(readFileSync(join(dataDir, 'datasets/a/sub/2.png'), 'utf8')).toBe('two');
  });

  it.each([
    ['a parent-directory escape', [{ name: 'ok.txt', data: 'fine' }, { name: '../evil.txt', data: 'evil' }]],
    ['a deep escape', [{ name: 'ok.txt', data: 'fine' }, { name: 'a/../../../evil.txt', data: 'evil' }]],
    ['an absolute path', [{ name: 'ok.txt', data: 'fine' }, { name: '/abs.txt', data: 'evil' }]],
    ['a symlink entry', [{ name: 'ok.txt', data: 'fine' }, { name: 'link', data: '/etc/passwd', unixMode: 0o120777 }]],
  ])('refuses %s and writes nothing at all', async (_label, entries) => {
    const zip = writeRaw(entries);
    await expect(extractZipSafely(zip, dataDir)).rejects.toThrow(UnsafeArchiveError);
    await expect(extractZipSafely(zip, dataDir)).rejects.toThrow(/refusing dataset archive/);
    expect(existsSync(join(root, 'job', 'evil.txt'))).toBe(false);
    expect(existsSync(join(root, 'evil.txt'))).toBe(false);
    expect(existsSync('/abs.txt')).toBe(false);
    // Everything is checked before the first write, so even the harmless entry is absent.
    expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
  });

  it('refuses an archive that is not a zip', async () => {
    const file = join(root, 'junk.zip');
    writeFileSync(file, 'not a zip at all');
    await expect(extractZipSafely(file, dataDir)).rejects.toThrow(/cannot open dataset archive/);
  });

  it('enforces entry and size limits', async () => {
    const zip = writeRaw([{ name: 'a.txt', data: 'x'.repeat(100) }, { name: 'b.txt', data: 'y' }]);
    await expect(extractZipSafely(zip, dataDir, { maxEntries: 1, maxTotalBytes: 1e9 })).rejects.toThrow(/entries exceed/);
    await expect(extractZipSafely(zip, dataDir, { maxEntries: 10, maxTotalBytes: 50 })).rejects.toThrow(/exceed the limit/);
  });
});

describe('entryTarget', () => {
  const entry = (fileName: string, mode = 0o100644): { fileName: string; externalFileAttributes: number; versionMadeBy: number } => ({
    fileName,
    externalFileAttributes: (mode << 16) >>> 0,
    versionMadeBy: (3 << 8) | 20,
  });

  it('checks names directly, independent of the zip reader', () => {
    expect(entryTarget('/data', entry('a/b.txt'))).toBe('/data/a/b.txt');
    expect(() => entryTarget('/data', entry('../x'))).toThrow(/escapes/);
    expect(() => entryTarget('/data', entry('/x'))).toThrow(/absolute/);
    expect(() => entryTarget('/data', entry('C:/x'))).toThrow(/absolute/);
    expect(() => entryTarget('/data', entry('l', 0o120777))).toThrow(/symbolic link/);
  });
});
