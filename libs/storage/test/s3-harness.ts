/** Test-only helpers: a real s3rver, and the S3 handler on a real HTTP server with two tenants. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import {
  createS3Handler, deriveSecret, FsStorageDriver, jobAccessKeyId, MinioStorageDriver, parseAccessKeyId,
  type Grant, type ObjectWrittenInfo, type ResolvedCredential, type StorageDriver,
} from '../src';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;
// s3rver ships no types; it is only ever used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as S3rverCtor;

export const BUCKETS = ['outputs', 'datasets'];
export const MASTER_KEY = 'test-master-key';

export interface DriverFixture {
  name: string;
  /** s3rver orders keys with its own comparison, not S3's byte order; real S3/MinIO do. */
  s3Order: boolean;
  driver: StorageDriver;
  close(): Promise<void>;
}

export async function fsFixture(): Promise<DriverFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ct-storage-fs-'));
  const driver = new FsStorageDriver(dir);
  for (const b of BUCKETS) await driver.ensureBucket(b);
  return { name: 'fs', s3Order: true, driver, close: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * `partSize` decides which uploads the MinIO driver sends as multipart uploads (those larger than one part);
 * S3's smallest, so the handler tests' larger objects take that path.
 */
export async function minioFixture(partSize = 5 * 1024 * 1024): Promise<DriverFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ct-storage-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: BUCKETS.map((name) => ({ name })) });
  const { port } = await server.run();
  const driver = new MinioStorageDriver({ endPoint: '127.0.0.1', port, useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', partSize });
  return {
    name: 'minio',
    s3Order: false,
    driver,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const FIXTURES: Array<[string, () => Promise<DriverFixture>]> = [
  ['fs', fsFixture],
  ['minio (s3rver)', () => minioFixture()],
];

/** job1 of org1 may read/write/list outputs/org1/job1/ and read datasets/org1/; job2 of org2 likewise for org2. */
export function grantsFor(org: string, job: string): Grant[] {
  return [
    { bucket: 'outputs', prefix: `${org}/${job}/`, actions: ['read', 'write', 'list'] },
    { bucket: 'datasets', prefix: `${org}/`, actions: ['read', 'list'] },
  ];
}

const JOB_ORG: Record<string, string> = { job1: 'org1', job2: 'org2' };

export async function resolveCredential(accessKeyId: string): Promise<ResolvedCredential | null> {
  const parsed = parseAccessKeyId(accessKeyId);
  if (!parsed || parsed.kind !== 'job') return null;
  const orgId = JOB_ORG[parsed.jobId];
  if (!orgId) return null;
  return { secretAccessKey: deriveSecret(MASTER_KEY, accessKeyId), grants: grantsFor(orgId, parsed.jobId), principal: { orgId, jobId: parsed.jobId } };
}

export function credentialsFor(jobId: string): { accessKeyId: string; secretAccessKey: string } {
  const accessKeyId = jobAccessKeyId(jobId, 1);
  return { accessKeyId, secretAccessKey: deriveSecret(MASTER_KEY, accessKeyId) };
}

export interface HandlerLogEntry {
  level: 'info' | 'warn' | 'error';
  msg?: string;
  [field: string]: unknown;
}

export interface HandlerServer {
  port: number;
  endpoint: string;
  written: ObjectWrittenInfo[];
  /** Every line the handler logged, so a test can wait for a request it cannot see the end of (a client that left). */
  logs: HandlerLogEntry[];
  client(jobId: string, secretOverride?: string): S3Client;
  close(): Promise<void>;
}

export async function startHandlerServer(driver: StorageDriver, opts: { maxObjectBytes?: number; prefix?: string | string[] } = {}): Promise<HandlerServer> {
  const written: ObjectWrittenInfo[] = [];
  const logs: HandlerLogEntry[] = [];
  const prefix = opts.prefix ?? '/api/cloud/storage';
  const handler = createS3Handler({
    driver,
    resolveCredential,
    prefix,
    maxObjectBytes: opts.maxObjectBytes,
    logger: {
      info: (obj, msg) => void logs.push({ ...obj, level: 'info', msg }),
      warn: (obj, msg) => void logs.push({ ...obj, level: 'warn', msg }),
      error: (obj, msg) => {
        logs.push({ ...obj, level: 'error', msg });
        if (process.env['CT_STORAGE_DEBUG']) console.error(msg, obj);
      },
    },
    onObjectWritten: async (info) => {
      written.push(info);
    },
  });
  const server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // The SDK clients use the first mount path.
  const first = Array.isArray(prefix) ? prefix[0] ?? '/' : prefix;
  const endpoint = `http://127.0.0.1:${port}${first === '/' ? '' : first}`;
  const clients: S3Client[] = [];
  return {
    port,
    endpoint,
    written,
    logs,
    client(jobId, secretOverride) {
      const creds = credentialsFor(jobId);
      const c = new S3Client({
        endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: secretOverride ?? creds.secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    close: async () => {
      for (const c of clients) c.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The SDK error's name and HTTP status, or {name: 'ok'} when the call succeeded. */
export const errorOf = async (p: Promise<unknown>): Promise<{ name: string; status?: number }> => {
  try {
    await p;
    return { name: 'ok' };
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
};
