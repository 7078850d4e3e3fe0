import { Transform, type TransformCallback } from 'node:stream';
import { DomainError } from '@ct/job-domain';

export function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function tooLarge(bytes: number, maxBytes: number, what: string): DomainError {
  return new DomainError(
    'package_too_large',
    `${what} ${formatMiB(bytes)}, over the provider's upload limit of ${formatMiB(maxBytes)}. ` +
      'Remove or downscale files in the datasets, split them across jobs, or choose a target without this limit (a self-hosted worker or S3 storage).',
    { bytes, maxBytes },
  );
}

/** Checked on the scanned total before a single byte is written, so nothing is uploaded in vain. */
export function assertWithinLimit(bytes: number, maxBytes: number | undefined): void {
  if (maxBytes !== undefined && bytes > maxBytes) throw tooLarge(bytes, maxBytes, 'The datasets total');
}

/**
 * Counts the bytes going to the sink and fails the stream once they exceed the limit: the zip
 * headers and STORED entries can push an archive past a limit its raw contents stayed under.
 */
export class ArchiveSizeGuard extends Transform {
  private written = 0;

  constructor(private readonly maxBytes?: number) {
    super();
  }

  get bytesWritten(): number {
    return this.written;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.written += chunk.length;
    if (this.maxBytes !== undefined && this.written > this.maxBytes) {
      callback(tooLarge(this.written, this.maxBytes, 'The archive grew to more than'));
      return;
    }
    callback(null, chunk);
  }
}
