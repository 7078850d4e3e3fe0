import { LineSplitter, MAX_LINE_CHARS, truncateLine } from './line-splitter.util';

function split(chunks: (string | Buffer)[]): string[] {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  for (const c of chunks) s.write(c);
  s.end();
  return lines;
}

describe('LineSplitter', () => {
  it('joins lines across chunks and emits the unterminated tail at end', () => {
    expect(split(['ab', 'c\nde', 'f\n', 'tail'])).toEqual(['abc', 'def', 'tail']);
  });

  it('treats \\r\\n as one break and a lone \\r (progress bars) as a break', () => {
    expect(split(['a\r\nb\rc\n'])).toEqual(['a', 'b', 'c']);
  });

  it('decodes UTF-8 split across chunks', () => {
    const bytes = Buffer.from('héllo\n', 'utf8');
    expect(split([bytes.subarray(0, 2), bytes.subarray(2)])).toEqual(['héllo']);
  });

  it('truncates overlong lines and keeps memory bounded', () => {
    const lines = split(['x'.repeat(MAX_LINE_CHARS * 3), '\nnext\n']);
    expect(lines).toHaveLength(2);
    expect(lines[0]!.length).toBeLessThanOrEqual(MAX_LINE_CHARS);
    expect(lines[0]).toMatch(/truncated\]$/);
    expect(lines[1]).toBe('next');
  });

  it('truncateLine leaves short lines alone', () => {
    expect(truncateLine('short')).toBe('short');
    expect(truncateLine('y'.repeat(20_000)).length).toBe(MAX_LINE_CHARS);
  });
});
