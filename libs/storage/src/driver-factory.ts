import { outputsDir, type StorageEnv } from '@ct/config';
import { FsStorageDriver } from './fs-storage.driver';
import { MinioStorageDriver, type MinioStorageOptions } from './minio-storage.driver';
import type { StorageDriver } from './storage-driver';

export const BUCKETS = { datasets: 'datasets', outputs: 'outputs' } as const;

export function packageKey(orgId: string, jobId: string): string {
  return `${orgId}/${jobId}.zip`;
}

export function outputPrefix(orgId: string, jobId: string): string {
  return `${orgId}/${jobId}/`;
}

/**
 * Removes everything a job stored: its package, its outputs, and open multipart uploads of either. Returns how
 * many objects were removed. The package's key is its own prefix: no other key starts with "<org>/<job>.zip".
 */
export async function deleteJobObjects(driver: StorageDriver, orgId: string, jobId: string): Promise<number> {
  const packages = await driver.deletePrefix(BUCKETS.datasets, packageKey(orgId, jobId));
  return packages + (await driver.deletePrefix(BUCKETS.outputs, outputPrefix(orgId, jobId)));
}

export type StorageDriverConfig = { driver: 'fs'; root: string } | ({ driver: 'minio' } & MinioStorageOptions);

/** The driver named by configuration, with the product's buckets created. */
export async function createStorageDriver(config: StorageDriverConfig): Promise<StorageDriver> {
  const driver = config.driver === 'fs' ? new FsStorageDriver(config.root) : new MinioStorageDriver(config);
  for (const bucket of Object.values(BUCKETS)) await driver.ensureBucket(bucket);
  return driver;
}

/** Maps the validated storage environment to a driver configuration. */
export function storageConfigFromEnv(env: StorageEnv): StorageDriverConfig {
  if (env.STORAGE_DRIVER === 'fs') return { driver: 'fs', root: outputsDir(env) };
  return { driver: 'minio', endPoint: env.MINIO_ENDPOINT, port: env.MINIO_PORT, useSSL: env.MINIO_USE_SSL, accessKey: env.MINIO_ACCESS_KEY, secretKey: env.MINIO_SECRET_KEY, region: env.S3_REGION };
}
