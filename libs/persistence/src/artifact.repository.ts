import type { Artifact, Package } from './generated/prisma/client';
import type { PrismaClient } from './prisma';
import type { PackageSummary } from '@ct/contracts';

export type { Artifact, Package };

/** Packages (dataset archives) and artifacts (job outputs) indexed in Postgres. */
export class ArtifactRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async recordArtifact(a: { orgId: string; jobId: string | null; bucket: string; key: string; size: number; etag: string; sha256: string | null }): Promise<void> {
    await this.prisma.artifact.upsert({
      where: { bucket_key: { bucket: a.bucket, key: a.key } },
      create: { ...a, size: BigInt(a.size) },
      update: { size: BigInt(a.size), etag: a.etag, sha256: a.sha256, orgId: a.orgId, jobId: a.jobId },
    });
  }

  async removeArtifact(bucket: string, key: string): Promise<void> {
    await this.prisma.artifact.deleteMany({ where: { bucket, key } });
  }

  listArtifacts(orgId: string, jobId: string): Promise<Artifact[]> {
    return this.prisma.artifact.findMany({ where: { orgId, jobId }, orderBy: { key: 'asc' } });
  }

  findPackage(orgId: string, jobId: string): Promise<Package | null> {
    return this.prisma.package.findFirst({ where: { orgId, jobId } });
  }

  async recordPackage(orgId: string, jobId: string, bucket: string, summary: PackageSummary): Promise<Package> {
    const data = { bucket, key: summary.storageKey, files: summary.files, bytes: BigInt(summary.bytes), archiveBytes: BigInt(summary.archiveBytes), summary: summary as object };
    return this.prisma.package.upsert({ where: { jobId }, create: { orgId, jobId, ...data }, update: data });
  }
}
