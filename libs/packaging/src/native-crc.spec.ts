import { PassThrough } from 'node:stream';
import * as zlib from 'node:zlib';
import archiver from 'archiver';
import yauzl from 'yauzl';
import { useNativeCrcForStoredEntries } from './native-crc';

function zipToBuffer(build: (archive: archiver.Archiver) => void): Promise<Buffer> {
  const archive = archiver('zip');
  expect(useNativeCrcForStoredEntries(archive)).toBe(true);
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  archive.pipe(sink);
  build(archive);
  return archive.finalize().then(() => Buffer.concat(chunks));
}

function entriesOf(zip: Buffer): Promise<Array<{ name: string; crc: number; method: number; data: Buffer }>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (err, file) => {
      if (err || !file) return reject(err ?? new Error('no zip'));
      const out: Array<{ name: string; crc: number; method: number; data: Buffer }> = [];
      file.on('entry', (entry: yauzl.Entry) => {
        file.openReadStream(entry, (streamErr, stream) => {
          if (streamErr || !stream) return reject(streamErr ?? new Error('no stream'));
          const parts: Buffer[] = [];
          stream.on('data', (part: Buffer) => parts.push(part));
          stream.on('end', () => {
            out.push({ name: entry.fileName, crc: entry.crc32, method: entry.compressionMethod, data: Buffer.concat(parts) });
            file.readEntry();
          });
        });
      });
      file.on('end', () => resolve(out));
      file.readEntry();
    });
  });
}

describe('useNativeCrcForStoredEntries', () => {
  it('writes correct checksums for stored stream entries and leaves deflated ones to archiver', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    const zip = await zipToBuffer((archive) => {
      const source = new PassThrough();
      archive.append(source, { name: 'a.jpg', store: true });
      source.end(big);
      const text = new PassThrough();
      archive.append(text, { name: 'a.txt' });
      text.end('a caption, a caption, a caption');
      archive.append(new PassThrough().end(), { name: 'empty.png', store: true });
    });
    const entries = await entriesOf(zip);
    expect(entries.map((e) => [e.name, e.method])).toEqual([
      ['a.jpg', 0],
      ['a.txt', 8],
      ['empty.png', 0],
    ]);
    for (const entry of entries) expect(entry.crc).toBe(zlib.crc32(entry.data));
    expect(entries[0]?.data.equals(big)).toBe(true);
  });
});
