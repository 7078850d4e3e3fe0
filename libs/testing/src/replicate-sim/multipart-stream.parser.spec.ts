import { boundaryFrom, MultipartError, MultipartStreamParser, type MultipartEvent } from './multipart-stream.parser';

const body = (b: string): Buffer =>
  Buffer.from(
    `--${b}\r\nContent-Disposition: form-data; name="content"; filename="a \\"q\\".zip"\r\nContent-Type: application/zip\r\n\r\n` +
      `PK\r\n--not-the-boundary\r\nbytes\r\n` +
      `--${b}\r\nContent-Disposition: form-data; name="metadata"; filename="blob"\r\nContent-Type: application/json\r\n\r\n{"a":1}\r\n` +
      `--${b}--\r\n`,
  );

function collect(chunks: Buffer[], boundary: string): { parts: Array<{ name: string; filename: string | null; type: string | null; data: string }>; parser: MultipartStreamParser } {
  const parser = new MultipartStreamParser(boundary);
  const parts: Array<{ name: string; filename: string | null; type: string | null; data: string }> = [];
  const on = (ev: MultipartEvent): void => {
    if (ev.type === 'part') parts.push({ name: ev.headers.name, filename: ev.headers.filename, type: ev.headers.contentType, data: '' });
    if (ev.type === 'data') parts[parts.length - 1]!.data += ev.chunk.toString('latin1');
  };
  for (const c of chunks) parser.push(c).forEach(on);
  parser.end();
  return { parts, parser };
}

describe('MultipartStreamParser', () => {
  const boundary = '----formdata-undici-0123456789';
  const expected = [
    { name: 'content', filename: 'a "q".zip', type: 'application/zip', data: 'PK\r\n--not-the-boundary\r\nbytes' },
    { name: 'metadata', filename: 'blob', type: 'application/json', data: '{"a":1}' },
  ];

  it('parses a body given in one chunk', () => {
    expect(collect([body(boundary)], boundary).parts).toEqual(expected);
  });

  it('parses the same body split at every possible byte position (delimiters straddling chunks)', () => {
    const full = body(boundary);
    for (let i = 1; i < full.length; i++) {
      expect(collect([full.subarray(0, i), full.subarray(i)], boundary).parts).toEqual(expected);
    }
    const bytes = [...full].map((b) => Buffer.from([b]));
    expect(collect(bytes, boundary).parts).toEqual(expected);
  });

  it('holds only about one chunk in memory for a large part', () => {
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="big"\r\n\r\n`);
    const parser = new MultipartStreamParser(boundary);
    let size = 0;
    const count = (evs: MultipartEvent[]): void => evs.forEach((e) => e.type === 'data' && (size += e.chunk.length));
    count(parser.push(head));
    const chunk = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 160; i++) count(parser.push(chunk)); // 10 MiB
    count(parser.push(Buffer.from(`\r\n--${boundary}--`)));
    parser.end();
    expect(size).toBe(160 * 64 * 1024);
    expect(parser.peakBufferedBytes).toBeLessThan(70 * 1024);
  });

  it('rejects a body without the closing boundary, and reads the boundary from the content type', () => {
    const parser = new MultipartStreamParser('x');
    parser.push(Buffer.from('--x\r\nContent-Disposition: form-data; name="content"\r\n\r\nabc'));
    expect(() => parser.end()).toThrow(MultipartError);
    expect(boundaryFrom('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(boundaryFrom('multipart/form-data; boundary=----x; charset=utf-8')).toBe('----x');
    expect(boundaryFrom('application/json')).toBeNull();
  });
});
