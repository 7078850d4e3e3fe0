import { DomainError } from '@ct/job-domain';
import type { ByteRange } from './storage-driver';

/** Parses a single-range `Range: bytes=...` header; multi-range or other units give undefined (serve whole). */
export function parseRangeHeader(value: string | undefined): ByteRange | undefined {
  if (!value) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') return { suffix: Number(b) };
  const start = Number(a);
  if (b === '') return { start };
  const end = Number(b);
  // An inverted range is syntactically invalid, and RFC 9110 says to ignore it.
  return end < start ? undefined : { start, end };
}

/** Inclusive byte offsets for a range against an object size; unsatisfiable ranges raise InvalidRange. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } {
  const invalid = (): never => {
    throw new DomainError('validation_failed', 'The requested range is not satisfiable.', { s3Code: 'InvalidRange', size });
  };
  if ('suffix' in range) {
    if (range.suffix <= 0 || size === 0) return invalid();
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) return invalid();
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
