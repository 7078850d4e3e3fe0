import * as path from 'node:path';

/**
 * Formats that are already compressed (images, video, audio, archives) or are dense binary
 * tensors. Deflating them costs CPU for a gain of ~0-2 %, so they are STORED; this is most of
 * what makes packaging a large image dataset faster than `zip -r`.
 */
export const STORED_EXTENSIONS: ReadonlySet<string> = new Set([
  // images
  '.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.heic', '.heif', '.jxl', '.jp2',
  // video and audio
  '.mp4', '.webm', '.mov', '.mkv', '.avi', '.m4v', '.mp3', '.ogg', '.opus', '.flac', '.aac', '.m4a',
  // archives
  '.zip', '.gz', '.tgz', '.bz2', '.xz', '.zst', '.7z', '.rar', '.lz4',
  // model weights, tensors, columnar data
  '.safetensors', '.ckpt', '.pt', '.pth', '.bin', '.npz', '.gguf', '.onnx', '.parquet',
]);

/** True when the file should be STORED rather than DEFLATED. */
export function shouldStore(relPath: string): boolean {
  return STORED_EXTENSIONS.has(path.posix.extname(relPath).toLowerCase());
}
