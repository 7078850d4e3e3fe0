import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { once } from 'node:events';
import { boundaryFrom, MultipartError, MultipartStreamParser } from './multipart-stream.parser';
import { fileId } from './sim-clock.util';
import type { SimClock } from './sim-clock.util';
import { ProblemError, type SimReply } from './sim-http.util';
import type { JsonValue, RejectedUploadRecord, SimFileRecord } from './replicate-sim.types';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The first part with one of these names carries the bytes; `file` is what SimpleTuner sends. */
const CONTENT_FIELDS = new Set(['content', 'file']);

interface UploadState {
  field: string;
  filename: string | null;
  contentType: string | null;
  out: WriteStream | null;
  diskPath: string;
  size: number;
  sha256: ReturnType<typeof createHash>;
  md5: ReturnType<typeof createHash>;
}

/** Files API storage: bytes on disk under dataDir, metadata in memory. Deleted files stay listed for inspection. */
export class SimFileStore {
  private readonly files = new Map<string, SimFileRecord>();
  readonly rejected: RejectedUploadRecord[] = [];
  private seq = 0;
  private readonly seqs = new Map<string, number>();

  constructor(
    private readonly dataDir: string,
    private readonly clock: SimClock,
    private readonly maxFileBytes: number,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Streams a multipart upload to disk while hashing it. Past the size limit it stops writing, deletes the
   * partial file and drains the rest of the body before answering 413: answering early and closing would
   * make the client's fetch see a network error, which it retries (up to 6 times), instead of the 413.
   */
  async upload(req: IncomingMessage, owner: string): Promise<SimFileRecord> {
    const boundary = boundaryFrom(req.headers['content-type']);
    if (!boundary) throw new ProblemError(400, 'Expected a multipart/form-data body', 'Bad Request');
    const parser = new MultipartStreamParser(boundary);
    let upload: UploadState | null = null;
    let current: 'content' | 'metadata' | 'text' | 'skip' = 'skip';
    let textBuf = '';
    let textField = '';
    const fields: Record<string, string> = {};
    let metadata: JsonValue = {};
    let tooLarge = false;
    let bytesReceived = 0;
    const reject = (reason: RejectedUploadRecord['reason']): void => {
      this.rejected.push({ at: new Date(this.clock.now()).toISOString(), reason, bytesReceived, peakBufferedBytes: parser.peakBufferedBytes });
    };
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        bytesReceived += chunk.length;
        for (const ev of parser.push(chunk)) {
          if (ev.type === 'part') {
            const { name } = ev.headers;
            if (CONTENT_FIELDS.has(name) && upload === null) {
              if (name === 'file') this.log('files.create: multipart field "file" accepted as an alias of "content" (not the documented name)');
              const id = fileId();
              upload = {
                field: name, filename: ev.headers.filename, contentType: ev.headers.contentType, size: 0,
                diskPath: join(this.dataDir, `upload-${id.slice(0, 16)}-${Date.now()}`),
                sha256: createHash('sha256'), md5: createHash('md5'), out: null,
              };
              upload.out = createWriteStream(upload.diskPath);
              current = 'content';
            } else if (name === 'metadata' || name === 'filename' || name === 'type') {
              current = name === 'metadata' ? 'metadata' : 'text';
              textBuf = '';
              textField = name;
            } else {
              this.log(`files.create: ignoring unexpected multipart field "${name}"`);
              current = 'skip';
            }
          } else if (ev.type === 'data') {
            if (current === 'content' && upload && !tooLarge) {
              upload.size += ev.chunk.length;
              if (upload.size >= this.maxFileBytes) {
                tooLarge = true;
                upload.out?.destroy();
                upload.out = null;
                await rm(upload.diskPath, { force: true });
                continue;
              }
              upload.sha256.update(ev.chunk);
              upload.md5.update(ev.chunk);
              // honour disk backpressure, which in turn pauses reading from the socket
              if (upload.out && !upload.out.write(ev.chunk)) await once(upload.out, 'drain');
            } else if ((current === 'metadata' || current === 'text') && textBuf.length < 65_536) {
              textBuf += ev.chunk.toString('utf8');
            }
          } else if (ev.type === 'part-end') {
            if (current === 'metadata') metadata = parseMetadata(textBuf);
            if (current === 'text') fields[textField] = textBuf;
            if (current === 'content' && upload?.out) {
              upload.out.end();
              await once(upload.out, 'close');
            }
            current = 'skip';
          }
        }
      }
      parser.end();
    } catch (err) {
      if (upload?.out) upload.out.destroy();
      if (upload) await rm(upload.diskPath, { force: true });
      if (err instanceof ProblemError) throw err;
      reject('bad-multipart');
      throw new ProblemError(400, `Malformed multipart body: ${err instanceof MultipartError ? err.message : String(err)}`, 'Bad Request');
    }
    if (tooLarge) {
      reject('too-large');
      throw new ProblemError(413, 'Files must be less than 100MB in size', undefined, {}, { connection: 'close' });
    }
    if (!upload) {
      reject('no-content');
      throw new ProblemError(400, 'Missing required multipart field: content', 'Bad Request');
    }
    const now = this.clock.now();
    const id = fileId();
    const record: SimFileRecord = {
      id,
      owner,
      name: fields.filename || upload.filename || 'file',
      content_type: fields.type || upload.contentType || 'application/octet-stream',
      size: upload.size,
      sha256: upload.sha256.digest('hex'),
      md5: upload.md5.digest('hex'),
      metadata,
      createdAtMs: now,
      expiresAtMs: now + DAY_MS,
      deletedAtMs: null,
      field: upload.field,
      diskPath: upload.diskPath,
    };
    this.files.set(id, record);
    this.seqs.set(id, ++this.seq);
    return record;
  }

  /** Live = not deleted and not expired on the simulated clock (Replicate: 24 h). */
  live(id: string, owner?: string): SimFileRecord | null {
    const f = this.files.get(id);
    if (!f || f.deletedAtMs !== null || this.clock.now() >= f.expiresAtMs) return null;
    if (owner !== undefined && f.owner !== owner) return null;
    return f;
  }

  get(id: string, owner: string): SimFileRecord {
    const f = this.live(id, owner);
    if (!f) throw new ProblemError(404, 'File not found');
    return f;
  }

  list(owner: string): SimFileRecord[] {
    return [...this.files.values()].filter((f) => this.live(f.id, owner)).sort((a, b) => this.seqOf(b) - this.seqOf(a));
  }

  seqOf(f: SimFileRecord): number {
    return this.seqs.get(f.id) ?? 0;
  }

  async delete(id: string, owner: string): Promise<void> {
    const f = this.get(id, owner);
    f.deletedAtMs = this.clock.now();
    await rm(f.diskPath, { force: true });
  }

  download(id: string, owner: string | undefined): SimReply {
    const f = this.live(id, owner);
    if (!f) throw new ProblemError(404, 'File not found');
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(f.size),
      'content-disposition': `attachment; filename="${f.name.replace(/"/g, '')}"`,
    };
    return { status: 200, stream: createReadStream(f.diskPath), headers };
  }

  /** Every file ever uploaded, deleted ones included (inspection). */
  all(): SimFileRecord[] {
    return [...this.files.values()];
  }

  clear(): void {
    this.files.clear();
    this.seqs.clear();
    this.rejected.length = 0;
  }
}

function parseMetadata(text: string): JsonValue {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new ProblemError(400, 'metadata must be valid JSON', 'Bad Request');
  }
}

export function fileObject(f: SimFileRecord, apiBase: string): Record<string, JsonValue> {
  return {
    id: f.id,
    name: f.name,
    content_type: f.content_type,
    size: f.size,
    etag: f.md5,
    checksums: { sha256: f.sha256, md5: f.md5 },
    metadata: f.metadata,
    // the Files API uses millisecond precision, unlike predictions
    created_at: new Date(f.createdAtMs).toISOString(),
    expires_at: new Date(f.expiresAtMs).toISOString(),
    urls: { get: `${apiBase}/files/${f.id}` },
  };
}
