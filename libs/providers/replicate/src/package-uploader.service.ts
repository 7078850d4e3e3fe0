import { tmpdir } from 'node:os';
import type Replicate from 'replicate';
import type { JobForProvider, PackageRef } from '@ct/providers-core';
import { PackageTooLargeError, spoolPackage } from './package-spool';

export interface UploadedPackage {
  fileId: string;
  fileUrl: string;
  bytes: number;
}

export interface UploaderOptions {
  openPackage(ref: PackageRef): Promise<NodeJS.ReadableStream>;
  maxBytes: number;
  tmpDir?: string;
}

/** Files of a job we uploaded, found by the metadata every upload carries (`ct_job_id`). */
export interface UploadedFile {
  id: string;
  url: string;
  createdMs: number;
}

/**
 * Puts the job's archive on Replicate's Files API (`POST /v1/files`, part `content`) and returns its
 * `urls.get`, the value of the trainer's `images` input. Every upload carries `ct_job_id` metadata, so
 * an upload whose answer was lost (a dispatcher killed mid-request) can be found, reused and deleted.
 */
export class PackageUploader {
  constructor(private readonly opts: UploaderOptions) {}

  /** Refuses before opening anything when the recorded size is already over the limit. */
  checkSize(pkg: PackageRef): void {
    if (pkg.archiveBytes > this.opts.maxBytes) throw new PackageTooLargeError(pkg.archiveBytes, this.opts.maxBytes);
  }

  async upload(client: Replicate, job: JobForProvider, pkg: PackageRef, signal?: AbortSignal): Promise<UploadedPackage> {
    this.checkSize(pkg);
    const source = await this.opts.openPackage(pkg);
    const spooled = await spoolPackage(source, {
      tmpDir: this.opts.tmpDir ?? tmpdir(),
      fileName: `ct-job-${job.id}.zip`,
      maxBytes: this.opts.maxBytes,
    });
    try {
      signal?.throwIfAborted();
      const file = await client.files.create(spooled.file as unknown as Blob, { ct_job_id: job.id, ct_org_id: job.orgId });
      return { fileId: file.id, fileUrl: file.urls.get, bytes: spooled.bytes };
    } finally {
      await spooled.cleanup();
    }
  }

  /** An earlier attempt's upload, if Replicate still has it (files expire after 24 h). */
  async stillThere(client: Replicate, fileId: string): Promise<boolean> {
    try {
      await client.files.get(fileId);
      return true;
    } catch (err) {
      const status = (err as { response?: { status?: number } }).response?.status;
      if (status === 404) return false;
      throw err;
    }
  }

  /** Uploads carrying this job's metadata created at or after `sinceMs`, newest first (a few pages at most). */
  async findUploads(client: Replicate, jobId: string, sinceMs: number, maxPages = 5): Promise<UploadedFile[]> {
    const found: UploadedFile[] = [];
    let pages = 0;
    for await (const page of client.paginate(() => client.files.list())) {
      for (const f of page as Array<{ id: string; created_at?: string; metadata?: unknown; urls?: { get?: string } }>) {
        const created = f.created_at ? Date.parse(f.created_at) : Number.POSITIVE_INFINITY;
        if (created < sinceMs) return found;
        const meta = (f.metadata ?? {}) as Record<string, unknown>;
        if (meta.ct_job_id === jobId && f.urls?.get) found.push({ id: f.id, url: f.urls.get, createdMs: created });
      }
      if (++pages >= maxPages) break;
    }
    return found;
  }
}
