import { openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

/** Features are a 16-bucket byte histogram: cheap, format-agnostic and enough to tell text from binary. */
export const FEATURE_COUNT = 16;
const SAMPLE_BYTES = 64 * 1024;
const CAPTION_EXTENSIONS = new Set(['.txt', '.caption', '.json', '.jsonl', '.csv', '.md']);

export interface Example {
  file: string;
  features: Float64Array;
  /** 1 = caption/text file, 0 = anything else (images, latents, ...). */
  label: number;
}

export function byteHistogram(bytes: Uint8Array): Float64Array {
  const hist = new Float64Array(FEATURE_COUNT);
  for (const b of bytes) hist[b >> 4]! += 1;
  const total = bytes.length || 1;
  // Scaled so a uniform distribution sits near 1, which keeps SGD well conditioned.
  for (let i = 0; i < FEATURE_COUNT; i++) hist[i] = (hist[i]! / total) * FEATURE_COUNT;
  return hist;
}

function readSample(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(SAMPLE_BYTES);
    const n = readSync(fd, buf, 0, SAMPLE_BYTES, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile()) out.push(full);
  }
}

export function listDatasetFiles(dirs: string[], log: (line: string) => void): string[] {
  const files: string[] = [];
  for (const dir of dirs) {
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a directory');
      const before = files.length;
      walk(dir, files);
      log(`dataset ${dir}: ${files.length - before} files`);
    } catch (err) {
      log(`dataset ${dir}: skipped (${(err as Error).message})`);
    }
  }
  return files.sort();
}

export function loadExamples(files: string[]): Example[] {
  return files.map((file) => ({
    file,
    features: byteHistogram(readSample(file)),
    label: CAPTION_EXTENSIONS.has(extname(file).toLowerCase()) ? 1 : 0,
  }));
}

/** Used when a job carries no data, so the system can still be tried end to end. */
export function syntheticExamples(count: number, random: () => number): Example[] {
  const examples: Example[] = [];
  for (let i = 0; i < count; i++) {
    const text = i % 2 === 0;
    const bytes = new Uint8Array(512);
    for (let j = 0; j < bytes.length; j++) {
      bytes[j] = text ? 0x61 + Math.floor(random() * 26) : Math.floor(random() * 256);
    }
    examples.push({ file: `synthetic-${i}`, features: byteHistogram(bytes), label: text ? 1 : 0 });
  }
  return examples;
}
