import { StringDecoder } from 'node:string_decoder';

/** The protocol's per-line limit (logLine.line max length). */
export const MAX_LINE_CHARS = 16_384;
const TRUNCATION_MARK = ' …[truncated]';

export function truncateLine(line: string, max = MAX_LINE_CHARS): string {
  return line.length <= max ? line : line.slice(0, max - TRUNCATION_MARK.length) + TRUNCATION_MARK;
}

/**
 * Cuts a byte stream into lines. '\r' also ends a line because progress bars (tqdm) redraw with it;
 * an overlong line is cut at the limit and the rest of it dropped, so memory stays bounded.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private discarding = false;
  private lastWasCr = false;

  constructor(private readonly onLine: (line: string) => void) {}

  write(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    for (const ch of text) this.take(ch);
  }

  end(): void {
    this.write(this.decoder.end());
    if (this.partial.length > 0 && !this.discarding) this.onLine(this.partial);
    this.partial = '';
    this.discarding = false;
  }

  private take(ch: string): void {
    if (ch === '\n' && this.lastWasCr) {
      this.lastWasCr = false;
      return;
    }
    this.lastWasCr = ch === '\r';
    if (ch === '\n' || ch === '\r') {
      if (!this.discarding) this.onLine(this.partial);
      this.partial = '';
      this.discarding = false;
      return;
    }
    if (this.discarding) return;
    this.partial += ch;
    if (this.partial.length >= MAX_LINE_CHARS) {
      this.onLine(truncateLine(this.partial + '…'));
      this.partial = '';
      this.discarding = true;
    }
  }
}
