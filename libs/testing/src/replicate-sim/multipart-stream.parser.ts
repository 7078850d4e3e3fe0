/**
 * A streaming multipart/form-data parser. It is fed chunks and returns events; it never holds more than one
 * chunk plus a boundary's worth of bytes, so a 100 MB upload is never in memory at once (the simulator must
 * be able to refuse an over-size upload the way Replicate does without buffering it).
 */

export interface PartHeaders {
  name: string;
  filename: string | null;
  contentType: string | null;
}

export type MultipartEvent =
  | { type: 'part'; headers: PartHeaders }
  | { type: 'data'; chunk: Buffer }
  | { type: 'part-end' }
  | { type: 'end' };

const MAX_HEADER_BYTES = 16 * 1024;

export class MultipartError extends Error {}

export function boundaryFrom(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

export class MultipartStreamParser {
  /** `\r\n--boundary`: we pretend the body starts with CRLF so the first delimiter looks like all the others. */
  private readonly delimiter: Buffer;
  private buf: Buffer = Buffer.from('\r\n');
  private state: 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done' = 'preamble';
  private peak = 0;

  constructor(boundary: string) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  /** Most bytes held at once; the spec asserts on it to prove uploads are streamed. */
  get peakBufferedBytes(): number {
    return this.peak;
  }

  get finished(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): MultipartEvent[] {
    if (this.state === 'done') return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.peak = Math.max(this.peak, this.buf.length);
    const events: MultipartEvent[] = [];
    for (;;) {
      const progressed = this.step(events);
      if (!progressed) break;
    }
    return events;
  }

  /** Call at the end of the request body; a body without the closing delimiter is malformed. */
  end(): void {
    if (this.state !== 'done') throw new MultipartError('multipart body ended before the closing boundary');
  }

  private step(events: MultipartEvent[]): boolean {
    switch (this.state) {
      case 'preamble': {
        const i = this.buf.indexOf(this.delimiter);
        if (i === -1) {
          // keep a tail that could be the start of a delimiter split across chunks
          this.buf = this.buf.subarray(Math.max(0, this.buf.length - this.delimiter.length));
          return false;
        }
        this.buf = this.buf.subarray(i + this.delimiter.length);
        this.state = 'after-delimiter';
        return true;
      }
      case 'after-delimiter': {
        if (this.buf.length < 2) return false;
        if (this.buf[0] === 0x2d && this.buf[1] === 0x2d) {
          this.state = 'done';
          this.buf = Buffer.alloc(0);
          events.push({ type: 'end' });
          return false;
        }
        // RFC 2046 allows transport padding (spaces/tabs) before the CRLF
        const crlf = this.buf.indexOf('\r\n');
        if (crlf === -1) return false;
        this.buf = this.buf.subarray(crlf + 2);
        this.state = 'headers';
        return true;
      }
      case 'headers': {
        const i = this.buf.indexOf('\r\n\r\n');
        if (i === -1) {
          if (this.buf.length > MAX_HEADER_BYTES) throw new MultipartError('multipart part headers too large');
          return false;
        }
        const headers = parsePartHeaders(this.buf.subarray(0, i).toString('utf8'));
        this.buf = this.buf.subarray(i + 4);
        this.state = 'body';
        events.push({ type: 'part', headers });
        return true;
      }
      case 'body': {
        const i = this.buf.indexOf(this.delimiter);
        if (i === -1) {
          const safe = this.buf.length - this.delimiter.length;
          if (safe > 0) {
            events.push({ type: 'data', chunk: this.buf.subarray(0, safe) });
            this.buf = this.buf.subarray(safe);
          }
          return false;
        }
        if (i > 0) events.push({ type: 'data', chunk: this.buf.subarray(0, i) });
        events.push({ type: 'part-end' });
        this.buf = this.buf.subarray(i + this.delimiter.length);
        this.state = 'after-delimiter';
        return true;
      }
      case 'done':
        return false;
    }
  }
}

function parsePartHeaders(block: string): PartHeaders {
  let name: string | null = null;
  let filename: string | null = null;
  let contentType: string | null = null;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'content-type') contentType = value;
    if (key === 'content-disposition') {
      name = dispositionParam(value, 'name');
      filename = dispositionParam(value, 'filename');
    }
  }
  if (name === null) throw new MultipartError('multipart part without a name');
  return { name, filename, contentType };
}

function dispositionParam(value: string, param: string): string | null {
  const re = new RegExp(`(?:^|;)\\s*${param}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, 'i');
  const m = re.exec(value);
  if (!m) return null;
  if (m[1] !== undefined) return m[1].replace(/\\(.)/g, '$1');
  return (m[2] ?? '').trim();
}
