import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder } from './aws-chunked';
import { DomainError } from '@ct/job-domain';
import { parseRangeHeader } from './byte-range';
import { grantedBuckets, isAllowed, type Grant } from './grants';
import { asIncompleteBody, bodyVerifier } from './hashing-stream';
import { pipeOnRead } from './pipe-on-read';
import { handleList } from './s3-list';
import { S3Error, toS3Error } from './s3-errors';
import { normalisePrefix, parseS3Path, type S3Route } from './s3-route';
import { parseRawQuery, queryValue, type QueryMap } from './s3-uri';
import { sendEmpty, sendXml } from './s3-response';
import { completeMultipartXml, errorXml, initiateMultipartXml, listBucketsXml, listMultipartUploadsXml, listPartsXml, locationXml, parseCompleteMultipart } from './s3-xml';
import { MultipartUploads } from './multipart-uploads';
import { verifySigV4, type PayloadMode } from './sigv4-verify';
import type { StorageDriver } from './storage-driver';

export interface S3Principal {
  orgId: string;
  jobId?: string;
  apiKeyId?: string;
}

export interface ResolvedCredential {
  secretAccessKey: string;
  grants: Grant[];
  principal: S3Principal;
}

export interface ObjectWrittenInfo {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  sha256: string;
  principal: S3Principal;
}

export interface ObjectDeletedInfo {
  bucket: string;
  key: string;
  principal: S3Principal;
}

/** pino-compatible subset. */
export interface StorageLogger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

export interface S3HandlerDeps {
  driver: StorageDriver;
  resolveCredential(accessKeyId: string): Promise<ResolvedCredential | null>;
  onObjectWritten?(info: ObjectWrittenInfo): Promise<void>;
  onObjectDeleted?(info: ObjectDeletedInfo): Promise<void>;
  /**
   * Mount path(s); default '/api/cloud/storage'. Several are tried longest first, so ['/api/cloud/storage', '/']
   * serves both the gateway's path and a host root (for clients that take no path, like the MinIO client).
   */
  prefix?: string | string[];
  region?: string;
  /** Largest single PUT or part; default 5 GiB like S3. */
  maxObjectBytes?: number;
  /** Smallest part but the last of a multipart upload; default 5 MiB like S3 (tests lower it). */
  minPartBytes?: number;
  now?: () => Date;
  logger?: StorageLogger;
}

export type S3RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Everything an operation needs once the request is authenticated. */
export interface S3Context {
  req: IncomingMessage;
  res: ServerResponse;
  query: QueryMap;
  grants: Grant[];
  principal: S3Principal;
  payload: PayloadMode;
  deps: S3HandlerDeps;
  multipart: MultipartUploads;
  region: string;
}

// Query parameters that never select another operation (SDK markers, listing options, presign fields, overrides).
const PLAIN_PARAMS = /^(x-id|list-type|prefix|delimiter|max-keys|continuation-token|start-after|encoding-type|fetch-owner|marker|x-amz-.*|response-.*)$/i;
// Multipart upload operations on an object.
const MULTIPART_PARAMS = /^(uploads|uploadId|partNumber)$/;
// ListMultipartUploads on a bucket (markers are accepted; every matching upload fits one page).
const LIST_UPLOADS_PARAMS = /^(uploads|key-marker|upload-id-marker|max-uploads)$/;
const MAX_COMPLETE_BODY_BYTES = 2 * 1024 * 1024;
const DEFAULT_MAX_OBJECT_BYTES = 5 * 1024 ** 3;

/** Creates the framework-agnostic S3 endpoint; mount it before any body parser. */
export function createS3Handler(deps: S3HandlerDeps): S3RequestHandler {
  const prefixes = (Array.isArray(deps.prefix) ? deps.prefix : [deps.prefix ?? '/api/cloud/storage']).map(normalisePrefix).sort((a, b) => b.length - a.length);
  const region = deps.region ?? 'us-east-1';
  const now = deps.now ?? (() => new Date());
  const multipart = new MultipartUploads(deps.driver, { minPartBytes: deps.minPartBytes, now });

  return async (req, res) => {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    const method = (req.method ?? 'GET').toUpperCase();
    // Express rewrites req.url under app.use(path); the signature covers the original path.
    const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    let route: S3Route | null = null;
    try {
      for (const p of prefixes) if ((route = parseS3Path(rawPath, p))) break;
      if (!route) throw new S3Error('InvalidRequest', 'The path is not under the storage endpoint.');
      const query = parseRawQuery(rawQuery);
      const verified = await verifySigV4({ method, path: rawPath, query: rawQuery, headers: req.headers }, (id) => deps.resolveCredential(id), {
        region,
        now: now(),
      });
      const ctx: S3Context = { req, res, query, deps, grants: verified.credential.grants, principal: verified.credential.principal, payload: verified.payload, multipart, region };
      await dispatch(ctx, method, route);
    } catch (err) {
      const e = toS3Error(err);
      const log = { requestId, method, status: e.status, code: e.code, bucket: route && route.kind !== 'service' ? route.bucket : undefined };
      if (e.status >= 500 && e.code !== 'NotImplemented') deps.logger?.error({ ...log, err: err instanceof Error ? err.message : String(err) }, 's3 request failed');
      else deps.logger?.info(log, 's3 request rejected');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // An unread upload body would poison a kept-alive connection; closing is cheaper than draining gigabytes.
      if (!req.complete) res.setHeader('Connection', 'close');
      if (method === 'HEAD') sendEmpty(res, e.status);
      else sendXml(res, e.status, errorXml(e.code, e.message, requestId, rawPath));
    }
  };
}

async function dispatch(ctx: S3Context, method: string, route: S3Route): Promise<void> {
  const { region } = ctx;
  const objectMultipart = route.kind === 'object' && Object.keys(ctx.query).some((k) => MULTIPART_PARAMS.test(k));
  const listUploads = route.kind === 'bucket' && method === 'GET' && queryValue(ctx.query, 'uploads') !== undefined;
  const known = (k: string): boolean =>
    PLAIN_PARAMS.test(k) || k === 'location' || (objectMultipart && MULTIPART_PARAMS.test(k)) || (listUploads && LIST_UPLOADS_PARAMS.test(k));
  const unknown = Object.keys(ctx.query).filter((k) => !known(k));
  if (unknown.length > 0) throw new S3Error('NotImplemented', `The ${unknown.join(', ')} operation is not implemented by this endpoint.`);
  if (route.kind === 'service') {
    if (method !== 'GET') throw new S3Error('MethodNotAllowed', 'Only GET is allowed on the service.');
    const allowed = grantedBuckets(ctx.grants);
    const buckets = (await ctx.deps.driver.listBuckets()).filter((b) => allowed.has(b.name));
    return sendXml(ctx.res, 200, listBucketsXml(buckets, { id: ctx.principal.orgId, displayName: ctx.principal.orgId }));
  }
  if (route.kind === 'bucket') {
    const { bucket } = route;
    if (!grantedBuckets(ctx.grants).has(bucket)) throw new DomainError('forbidden', 'Access Denied');
    if (method === 'HEAD') {
      if (!(await ctx.deps.driver.bucketExists(bucket))) throw new DomainError('not_found', 'The bucket does not exist.', { resource: 'bucket' });
      return sendEmpty(ctx.res, 200);
    }
    if (method !== 'GET') throw new S3Error('NotImplemented', 'Bucket operations other than listing are not implemented.');
    if (queryValue(ctx.query, 'location') !== undefined) return sendXml(ctx.res, 200, locationXml(region));
    if (listUploads) {
      // The MinIO client asks before every large upload (to resume one); only uploads the caller could write.
      const prefix = queryValue(ctx.query, 'prefix') ?? '';
      const uploads = (await ctx.multipart.list(bucket, ctx.principal.orgId, prefix)).filter((u) => isAllowed(ctx.grants, 'write', bucket, u.key));
      return sendXml(ctx.res, 200, listMultipartUploadsXml({ bucket, prefix, uploads, owner: ctx.principal.orgId }));
    }
    return handleList(ctx, bucket);
  }
  if (ctx.req.headers['x-amz-copy-source'] !== undefined) throw new S3Error('NotImplemented', 'CopyObject and UploadPartCopy are not implemented.');
  if (objectMultipart) return multipartOperation(ctx, method, route.bucket, route.key);
  switch (method) {
    case 'GET':
    case 'HEAD':
      return getObject(ctx, route.bucket, route.key, method === 'HEAD');
    case 'PUT':
      return putObject(ctx, route.bucket, route.key);
    case 'DELETE':
      return deleteObject(ctx, route.bucket, route.key);
    default:
      throw new S3Error('NotImplemented', `${method} on an object is not implemented.`);
  }
}

async function getObject(ctx: S3Context, bucket: string, key: string, head: boolean): Promise<void> {
  // Without a grant, answer exactly like a missing key so other tenants' keys cannot be probed.
  if (!isAllowed(ctx.grants, 'read', bucket, key)) throw new DomainError('not_found', 'The specified key does not exist.', { resource: 'object' });
  const { driver } = ctx.deps;
  const info = head ? await driver.headObject(bucket, key) : undefined;
  const obj = info ? undefined : await driver.getObject(bucket, key, { range: parseRangeHeader(ctx.req.headers.range) });
  const meta = (info ?? obj) as NonNullable<typeof info>;
  const { res, req } = ctx;
  const ifNoneMatch = req.headers['if-none-match'];
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined && ifMatch !== '*' && !ifMatch.split(',').map((s) => s.trim()).includes(meta.etag)) {
    obj?.body.destroy();
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.');
  }
  res.setHeader('ETag', meta.etag);
  res.setHeader('Last-Modified', meta.lastModified.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  if (ifNoneMatch !== undefined && (ifNoneMatch === '*' || ifNoneMatch.split(',').map((s) => s.trim()).includes(meta.etag))) {
    obj?.body.destroy();
    return sendEmpty(res, 304);
  }
  const override = (name: string, header: string, value: string | undefined): void => {
    const v = queryValue(ctx.query, `response-${name}`) ?? value;
    if (v !== undefined) res.setHeader(header, v);
  };
  override('content-type', 'Content-Type', meta.contentType);
  override('content-disposition', 'Content-Disposition', undefined);
  override('content-encoding', 'Content-Encoding', undefined);
  override('content-language', 'Content-Language', undefined);
  override('cache-control', 'Cache-Control', undefined);
  override('expires', 'Expires', undefined);
  res.setHeader('Content-Length', meta.size);
  if (!obj) return void (res.statusCode = 200, res.end());
  if (obj.contentRange) res.setHeader('Content-Range', obj.contentRange);
  res.statusCode = obj.contentRange ? 206 : 200;
  await pipeline(obj.body, res);
}

/**
 * Checks the declared length and returns the body, decoded if aws-chunked and verified against the signed hash /
 * Content-MD5 / checksum trailer. Nothing is read until the driver reads (see pipeOnRead).
 */
function checkedBody(ctx: S3Context, maxBytes: number): { body: Readable; contentLength: number } {
  const { req } = ctx;
  const chunked = ctx.payload.mode === 'unsigned-trailer';
  // An aws-chunked body announces its decoded size; Content-Length (if any) counts the chunk framing too.
  const lengthHeader = chunked ? req.headers['x-amz-decoded-content-length'] : req.headers['content-length'];
  if (typeof lengthHeader !== 'string' || !/^\d+$/.test(lengthHeader)) {
    throw new S3Error('MissingContentLength', `You must provide the ${chunked ? 'x-amz-decoded-content-length' : 'Content-Length'} HTTP header.`);
  }
  const contentLength = Number(lengthHeader);
  if (contentLength > maxBytes) throw new S3Error('EntityTooLarge', `Your proposed upload exceeds the maximum allowed size of ${maxBytes} bytes.`);
  const md5 = req.headers['content-md5'];
  const trailer = req.headers['x-amz-trailer'];
  const verifier = bodyVerifier({
    contentLength,
    maxBytes,
    sha256: ctx.payload.mode === 'sha256' ? ctx.payload.sha256 : undefined,
    md5Base64: typeof md5 === 'string' ? md5 : undefined,
  });
  const stages: [Transform, ...Transform[]] = chunked ? [new AwsChunkedDecoder(typeof trailer === 'string' ? trailer : undefined), verifier] : [verifier];
  return { body: pipeOnRead(req, stages, { sourceFailure: asIncompleteBody }), contentLength };
}

async function putObject(ctx: S3Context, bucket: string, key: string): Promise<void> {
  const { req, res, deps } = ctx;
  if (!isAllowed(ctx.grants, 'write', bucket, key)) throw new DomainError('forbidden', 'Access Denied');
  const { body, contentLength } = checkedBody(ctx, deps.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES);
  const put = await deps.driver.putObject(bucket, key, body, { contentLength, contentType: req.headers['content-type'] });
  await deps.onObjectWritten?.({ bucket, key, size: put.size, etag: put.etag, sha256: put.sha256, principal: ctx.principal });
  res.setHeader('ETag', put.etag);
  sendEmpty(res, 200);
}

/** CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts. */
async function multipartOperation(ctx: S3Context, method: string, bucket: string, key: string): Promise<void> {
  const { res, deps, multipart, principal } = ctx;
  if (!isAllowed(ctx.grants, 'write', bucket, key)) throw new DomainError('forbidden', 'Access Denied');
  const uploadId = queryValue(ctx.query, 'uploadId');
  if (uploadId === undefined) {
    if (method !== 'POST' || queryValue(ctx.query, 'uploads') === undefined) throw new S3Error('InvalidRequest', 'A multipart request needs ?uploads (POST) or ?uploadId.');
    const upload = await multipart.create(bucket, key, { contentType: ctx.req.headers['content-type'], orgId: principal.orgId });
    return sendXml(res, 200, initiateMultipartXml(bucket, key, upload.uploadId));
  }
  const upload = await multipart.get(uploadId, bucket, key, principal.orgId);
  switch (method) {
    case 'PUT': {
      const partNumber = Number(queryValue(ctx.query, 'partNumber'));
      const { body, contentLength } = checkedBody(ctx, deps.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES);
      const part = await multipart.uploadPart(upload, partNumber, body, contentLength);
      res.setHeader('ETag', part.etag);
      return sendEmpty(res, 200);
    }
    case 'POST': {
      const { body } = checkedBody(ctx, MAX_COMPLETE_BODY_BYTES);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      const requested = parseCompleteMultipart(Buffer.concat(chunks).toString('utf8'));
      if (!requested) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
      const put = await multipart.complete(upload, requested);
      await deps.onObjectWritten?.({ bucket, key, size: put.size, etag: put.etag, sha256: put.sha256, principal });
      return sendXml(res, 200, completeMultipartXml(`/${bucket}/${key}`, bucket, key, put.etag));
    }
    case 'DELETE':
      await multipart.abort(upload);
      return sendEmpty(res, 204);
    case 'GET':
      return sendXml(res, 200, listPartsXml({ bucket, key, uploadId, parts: await multipart.listParts(upload) }));
    default:
      throw new S3Error('MethodNotAllowed', `${method} is not allowed on a multipart upload.`);
  }
}

async function deleteObject(ctx: S3Context, bucket: string, key: string): Promise<void> {
  if (!isAllowed(ctx.grants, 'write', bucket, key)) throw new DomainError('forbidden', 'Access Denied');
  await ctx.deps.driver.deleteObject(bucket, key);
  await ctx.deps.onObjectDeleted?.({ bucket, key, principal: ctx.principal });
  sendEmpty(ctx.res, 204);
}
