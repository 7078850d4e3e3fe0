import { File } from 'node:buffer';
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ReplicateProviderError } from './replicate-errors';

/**
 * The archive comes from our storage as a stream; `replicate.files.create` only takes a Blob, File or Buffer.
 * Rather than hold up to 100 MiB in memory per upload (and once more inside FormData), the stream is spooled
 * to a temporary file and handed over as a file-backed Blob (`fs.openAsBlob`): fetch then reads it from disk
 * in chunks while sending (measured: RSS stays ~40 MB for a 300 MB file), and the client may re-send it.
 */
export interface SpooledPackage {
  file: File;
  bytes: number;
  /** Removes the temporary file; safe to call twice. */
  cleanup(): Promise<void>;
}

export class PackageTooLargeError extends ReplicateProviderError {
  constructor(bytes: number, max: number) {
    super(`The packaged datasets are larger than Replicate accepts (${bytes} bytes or more; the limit is ${max} bytes). Make the datasets smaller or use another provider.`, false, undefined, null);
    this.name = 'PackageTooLargeError';
  }
}

function limiter(max: number): { stream: Transform; bytes: () => number } {
  let seen = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      // stop reading at once: the package may be much larger than the limit
      if (seen > max) done(new PackageTooLargeError(seen, max));
      else done(null, chunk);
    },
  });
  return { stream, bytes: () => seen };
}

export async function spoolPackage(source: NodeJS.ReadableStream, opts: { tmpDir: string; fileName: string; maxBytes: number }): Promise<SpooledPackage> {
  const dir = await mkdtemp(join(opts.tmpDir, 'ct-replicate-'));
  const path = join(dir, 'package.zip');
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const counter = limiter(opts.maxBytes);
    await pipeline(source as Readable, counter.stream, createWriteStream(path));
    const blob = await openAsBlob(path, { type: 'application/zip' });
    const file = new File([blob], opts.fileName, { type: 'application/zip' });
    return { file, bytes: counter.bytes(), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
