import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { mkdir, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError } from '@ct/job-domain';
import { resolveRange } from './byte-range';
import { HashingStream } from './hashing-stream';
import { assertSafeKey, assertValidBucket } from './key-safety';
import { compareKeys, decodeContinuationToken, paginate } from './listing';
import { removeFilesOlderThan } from './fs-temp-files';
import { deletePrefixByPages } from './prefix-deletion';
import type {
  BucketInfo, ByteRange, DeletePrefixOptions, GetObjectResult, ListedObject, ListObjectsOptions, ListObjectsResult,
  ObjectInfo, PutObjectOptions, PutObjectResult, StorageDriver,
} from './storage-driver';

/** Sidecar metadata; `ino` ties it to one version of the data file so a stale sidecar is detected. */
interface Sidecar {
  etag: string;
  sha256: string;
  contentType: string;
  size: number;
  ino: number;
}

// Bucket names cannot start with '.', so these trees can never collide with a bucket.
const META_DIR = '.ct-meta';
const TMP_DIR = '.ct-tmp';
const DEFAULT_TYPE = 'application/octet-stream';

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/**
 * Objects as plain files under `root/<bucket>/<key>`, so outputs stay readable with ordinary tools.
 * Writes go to a temp file under `root/.ct-tmp` and are renamed into place (atomic on one filesystem);
 * ETag/content type live in a mirror tree `root/.ct-meta/<bucket>/<key>` that listings never see.
 */
export class FsStorageDriver implements StorageDriver {
  /**
   * Temp files being written by this process (any instance: a pruning job may hold its own driver on the same
   * root), which pruneTemporary never takes, however long a client pauses.
   */
  private static readonly writing = new Set<string>();

  constructor(readonly root: string) {}

  private objectPath(bucket: string, key: string): string {
    assertValidBucket(bucket);
    assertSafeKey(key);
    // Empty segments ("a//b", "dir/") cannot be represented as files without aliasing other keys.
    if (key.split('/').some((s) => s.length === 0)) {
      throw new DomainError('invalid_key', 'Keys with empty path segments (e.g. "a//b" or a trailing "/") are not supported by filesystem storage.', { reason: 'empty_segment' });
    }
    return join(this.root, bucket, ...key.split('/'));
  }

  private metaPath(bucket: string, key: string): string {
    return join(this.root, META_DIR, bucket, ...key.split('/'));
  }

  private async assertBucket(bucket: string): Promise<void> {
    if (!(await this.bucketExists(bucket))) throw new DomainError('not_found', `Bucket ${bucket} does not exist.`, { resource: 'bucket' });
  }

  async bucketExists(bucket: string): Promise<boolean> {
    assertValidBucket(bucket);
    try {
      return (await stat(join(this.root, bucket))).isDirectory();
    } catch {
      return false;
    }
  }

  async ensureBucket(bucket: string): Promise<void> {
    assertValidBucket(bucket);
    await mkdir(join(this.root, bucket), { recursive: true });
  }

  async listBuckets(): Promise<BucketInfo[]> {
    await mkdir(this.root, { recursive: true });
    const out: BucketInfo[] = [];
    for (const e of await readdir(this.root, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const st = await stat(join(this.root, e.name));
      out.push({ name: e.name, creationDate: st.birthtimeMs > 0 ? st.birthtime : st.mtime });
    }
    return out.sort((a, b) => compareKeys(a.name, b.name));
  }

  async putObject(bucket: string, key: string, body: Readable, opts: PutObjectOptions = {}): Promise<PutObjectResult> {
    const target = this.objectPath(bucket, key);
    await this.assertBucket(bucket);
    const tmpDir = join(this.root, TMP_DIR);
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomUUID());
    const hasher = new HashingStream();
    FsStorageDriver.writing.add(tmp);
    try {
      await pipeline(body, hasher, createWriteStream(tmp, { flags: 'wx' }));
      const { md5, sha256, size } = hasher.result();
      if (opts.contentLength !== undefined && size !== opts.contentLength) {
        throw new DomainError('validation_failed', `Expected ${opts.contentLength} bytes, received ${size}.`, { s3Code: 'IncompleteBody' });
      }
      const etag = `"${md5}"`;
      const st = await stat(tmp);
      await this.commit(bucket, key, target, tmp, { etag, sha256, size, contentType: opts.contentType || DEFAULT_TYPE, ino: st.ino });
      return { size, etag, sha256 };
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    } finally {
      FsStorageDriver.writing.delete(tmp);
    }
  }

  /** Moves a fully written temp file into place and records its sidecar. */
  protected async commit(bucket: string, key: string, target: string, tmp: string, meta: Sidecar): Promise<void> {
    try {
      await mkdir(join(target, '..'), { recursive: true });
      const existing = await stat(target).catch(() => undefined);
      if (existing?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      await rename(tmp, target);
    } catch (e) {
      if (['ENOTDIR', 'EEXIST', 'EISDIR'].includes(errno(e) ?? '')) {
        throw new DomainError('conflict', `Key ${key} collides with another key used as a folder; filesystem storage cannot hold both.`, { s3Code: 'InvalidArgument' });
      }
      if (errno(e) === 'ENAMETOOLONG') throw new DomainError('invalid_key', 'A key segment is too long for the filesystem.');
      throw e;
    }
    const metaFile = this.metaPath(bucket, key);
    const metaTmp = `${join(this.root, TMP_DIR, randomUUID())}.json`;
    FsStorageDriver.writing.add(metaTmp);
    try {
      await writeFile(metaTmp, JSON.stringify(meta));
      await mkdir(join(metaFile, '..'), { recursive: true });
      await rename(metaTmp, metaFile);
    } catch {
      // A missing sidecar only costs the real ETag (a stable fallback is used); never fail a stored object for it.
      await unlink(metaTmp).catch(() => undefined);
    } finally {
      FsStorageDriver.writing.delete(metaTmp);
    }
  }

  /**
   * Removes temp files (uploads and sidecars a dead process left in `.ct-tmp`) last modified more than
   * `olderThanMs` ago. A live upload touches its file with every write, and this driver's own writes are
   * skipped whatever their age; for another process sharing the root, pick a threshold above the longest
   * pause its server allows a request (Node's requestTimeout, 5 min by default). Returns how many were removed.
   */
  async pruneTemporary(olderThanMs: number): Promise<number> {
    return removeFilesOlderThan(join(this.root, TMP_DIR), Date.now() - olderThanMs, (path) => FsStorageDriver.writing.has(path));
  }

  /** See StorageDriver.deletePrefix; objects go one by one, each with its sidecar and emptied folders. */
  async deletePrefix(bucket: string, prefix: string, opts?: DeletePrefixOptions): Promise<number> {
    return deletePrefixByPages(this, bucket, prefix, async (keys) => {
      for (const key of keys) await this.deleteObject(bucket, key);
      return keys.length;
    }, opts);
  }

  private async info(bucket: string, key: string, st: Stats): Promise<ObjectInfo & { sha256?: string }> {
    let meta: Sidecar | undefined;
    try {
      meta = JSON.parse(await readFile(this.metaPath(bucket, key), 'utf8')) as Sidecar;
    } catch {
      meta = undefined;
    }
    if (meta && meta.ino === st.ino && meta.size === st.size) {
      return { size: st.size, etag: meta.etag, contentType: meta.contentType, lastModified: st.mtime, sha256: meta.sha256 };
    }
    // Files dropped in by other tools (or a torn sidecar): a stable pseudo-ETag, not an MD5.
    const pseudo = createHash('md5').update(`${st.ino}-${st.size}-${st.mtimeMs}`).digest('hex');
    return { size: st.size, etag: `"${pseudo}"`, contentType: DEFAULT_TYPE, lastModified: st.mtime };
  }

  private async statObject(bucket: string, key: string): Promise<Stats> {
    const path = this.objectPath(bucket, key);
    try {
      const st = await stat(path);
      if (st.isFile()) return st;
    } catch (e) {
      if (!['ENOENT', 'ENOTDIR', 'ENAMETOOLONG'].includes(errno(e) ?? '')) throw e;
    }
    await this.assertBucket(bucket);
    throw new DomainError('not_found', `Object ${key} does not exist.`, { resource: 'object' });
  }

  async headObject(bucket: string, key: string): Promise<ObjectInfo> {
    const { sha256: _ignored, ...info } = await this.info(bucket, key, await this.statObject(bucket, key));
    return info;
  }

  async getObject(bucket: string, key: string, opts: { range?: ByteRange } = {}): Promise<GetObjectResult> {
    const st = await this.statObject(bucket, key);
    const { sha256: _ignored, ...info } = await this.info(bucket, key, st);
    const path = this.objectPath(bucket, key);
    if (!opts.range) return { ...info, totalSize: st.size, body: createReadStream(path) };
    const { start, end } = resolveRange(opts.range, st.size);
    return {
      ...info,
      size: end - start + 1,
      totalSize: st.size,
      contentRange: `bytes ${start}-${end}/${st.size}`,
      body: createReadStream(path, { start, end }),
    };
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const path = this.objectPath(bucket, key);
    await this.assertBucket(bucket);
    try {
      if ((await stat(path)).isDirectory()) return;
      await unlink(path);
    } catch (e) {
      if (!['ENOENT', 'ENOTDIR'].includes(errno(e) ?? '')) throw e;
    }
    await unlink(this.metaPath(bucket, key)).catch(() => undefined);
    // S3 has no folders: remove directories the key implied once they are empty.
    await this.pruneDirs(join(this.root, bucket), key);
    await this.pruneDirs(join(this.root, META_DIR, bucket), key);
  }

  private async pruneDirs(base: string, key: string): Promise<void> {
    const segments = key.split('/').slice(0, -1);
    for (let i = segments.length; i > 0; i--) {
      try {
        await rmdir(join(base, ...segments.slice(0, i)));
      } catch {
        return;
      }
    }
  }

  async listObjectsV2(bucket: string, opts: ListObjectsOptions): Promise<ListObjectsResult> {
    assertValidBucket(bucket);
    await this.assertBucket(bucket);
    const after = opts.continuationToken !== undefined ? decodeContinuationToken(opts.continuationToken) : opts.startAfter;
    const startDir = opts.prefix.slice(0, opts.prefix.lastIndexOf('/') + 1);
    // No stored key has an empty, "." or ".." segment, and walking such a folder would leave the bucket
    // (prefix "org1/job1/../../" listed other tenants' keys, and deeper ones the host's files).
    if (startDir.split('/').slice(0, -1).some((s) => s === '' || s === '.' || s === '..')) return { contents: [], commonPrefixes: [], isTruncated: false };
    const objects = this.walk(bucket, startDir, { prefix: opts.prefix, after, firstOnlyBeyondPrefix: opts.delimiter === '/' });
    return paginate(objects, { prefix: opts.prefix, delimiter: opts.delimiter || undefined, maxKeys: opts.maxKeys, after });
  }

  /** Yields objects under `dirKey` in S3 (UTF-8 byte) order, pruning subtrees that cannot match. */
  private async *walk(
    bucket: string,
    dirKey: string,
    f: { prefix: string; after?: string; firstOnlyBeyondPrefix: boolean },
  ): AsyncGenerator<ListedObject> {
    let entries;
    try {
      entries = await readdir(join(this.root, bucket, ...dirKey.split('/').filter(Boolean)), { withFileTypes: true });
    } catch {
      return;
    }
    // A directory "a" holds keys "a/...", so it must sort as "a/" against sibling files like "a.txt".
    const sorted = entries
      .filter((e) => e.isFile() || e.isDirectory())
      .map((e) => ({ e, sortKey: dirKey + e.name + (e.isDirectory() ? '/' : '') }))
      .sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const { e, sortKey } of sorted) {
      if (e.isDirectory()) {
        if (!sortKey.startsWith(f.prefix) && !f.prefix.startsWith(sortKey)) continue;
        if (f.after !== undefined && compareKeys(sortKey, f.after) <= 0 && !f.after.startsWith(sortKey)) continue;
        // With delimiter '/', everything in a folder past the prefix rolls up into one common prefix: one file proves it.
        const rollsUp = f.firstOnlyBeyondPrefix && sortKey.length > f.prefix.length && sortKey.startsWith(f.prefix);
        for await (const obj of this.walk(bucket, sortKey, f)) {
          yield obj;
          if (rollsUp) break;
        }
      } else {
        if (!sortKey.startsWith(f.prefix)) continue;
        if (f.after !== undefined && compareKeys(sortKey, f.after) <= 0) continue;
        const st = await stat(join(this.root, bucket, ...sortKey.split('/'))).catch(() => undefined);
        if (!st?.isFile()) continue;
        const info = await this.info(bucket, sortKey, st);
        yield { key: sortKey, size: info.size, etag: info.etag, lastModified: info.lastModified };
      }
    }
  }
}
