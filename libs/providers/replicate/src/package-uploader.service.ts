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

/**
 * Puts the job's archive on Replicate's Files API (`POST /v1/files`, part `content`) and returns its
 * `urls.get`, the value of the trainer's `images` input. `trainings.create`/our explicit inputs never upload
 * anything by themselves, so this is the only upload.
 */
export class PackageUploader {
  constructor(private readonly opts: UploaderOptions) {}

  /** Refuses before opening anything when the recorded size is already over the limit. */
  checkSize(pkg: PackageRef): void {
    if (pkg.archiveBytes > this.opts.maxBytes) throw new PackageTooLargeError(pkg.archiveBytes, this.opts.maxBytes);
  }

  async upload(client: Replicate, job: JobForProvider, pkg: PackageRef): Promise<UploadedPackage> {
    this.checkSize(pkg);
    const source = await this.opts.openPackage(pkg);
    const spooled = await spoolPackage(source, {
      tmpDir: this.opts.tmpDir ?? tmpdir(),
      fileName: `ct-job-${job.id}.zip`,
      maxBytes: this.opts.maxBytes,
    });
    try {
      // metadata names the job, so orphaned uploads (a crash between upload and record) can be found and deleted
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
}
