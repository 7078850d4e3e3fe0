import type { BucketInfo, ListObjectsResult } from './storage-driver';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

const el = (name: string, value: string | number | boolean): string => `<${name}>${escapeXml(String(value))}</${name}>`;

/** encoding-type=url: keys are percent-encoded so clients can carry characters XML 1.0 cannot. */
export function urlEncodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export function errorXml(code: string, message: string, requestId: string, resource?: string): string {
  return `${DECL}<Error>${el('Code', code)}${el('Message', message)}${resource ? el('Resource', resource) : ''}${el('RequestId', requestId)}</Error>`;
}

export function listBucketsXml(buckets: BucketInfo[], owner: { id: string; displayName: string }): string {
  const items = buckets.map((b) => `<Bucket>${el('Name', b.name)}${el('CreationDate', b.creationDate.toISOString())}</Bucket>`).join('');
  return `${DECL}<ListAllMyBucketsResult xmlns="${S3_XMLNS}"><Owner>${el('ID', owner.id)}${el('DisplayName', owner.displayName)}</Owner><Buckets>${items}</Buckets></ListAllMyBucketsResult>`;
}

export interface ListXmlInput {
  bucket: string;
  prefix: string;
  delimiter?: string;
  maxKeys: number;
  encodeUrl: boolean;
  result: ListObjectsResult;
}

function entries(input: ListXmlInput): string {
  const enc = (k: string): string => (input.encodeUrl ? urlEncodeKey(k) : k);
  const contents = input.result.contents
    .map((o) => `<Contents>${el('Key', enc(o.key))}${el('LastModified', o.lastModified.toISOString())}${el('ETag', o.etag)}${el('Size', o.size)}${el('StorageClass', 'STANDARD')}</Contents>`)
    .join('');
  const prefixes = input.result.commonPrefixes.map((p) => `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`).join('');
  return contents + prefixes;
}

function common(input: ListXmlInput): string {
  const enc = (k: string): string => (input.encodeUrl ? urlEncodeKey(k) : k);
  return (
    el('Name', input.bucket) +
    el('Prefix', enc(input.prefix)) +
    (input.delimiter ? el('Delimiter', enc(input.delimiter)) : '') +
    el('MaxKeys', input.maxKeys) +
    (input.encodeUrl ? el('EncodingType', 'url') : '') +
    el('IsTruncated', input.result.isTruncated)
  );
}

export function listObjectsV2Xml(input: ListXmlInput & { continuationToken?: string; startAfter?: string }): string {
  const r = input.result;
  const keyCount = r.contents.length + r.commonPrefixes.length;
  const enc = (k: string): string => (input.encodeUrl ? urlEncodeKey(k) : k);
  return (
    `${DECL}<ListBucketResult xmlns="${S3_XMLNS}">${common(input)}${el('KeyCount', keyCount)}` +
    (input.continuationToken !== undefined ? el('ContinuationToken', input.continuationToken) : '') +
    (r.nextContinuationToken !== undefined ? el('NextContinuationToken', r.nextContinuationToken) : '') +
    (input.startAfter !== undefined ? el('StartAfter', enc(input.startAfter)) : '') +
    `${entries(input)}</ListBucketResult>`
  );
}

export function listObjectsV1Xml(input: ListXmlInput & { marker: string; nextMarker?: string }): string {
  const enc = (k: string): string => (input.encodeUrl ? urlEncodeKey(k) : k);
  return (
    `${DECL}<ListBucketResult xmlns="${S3_XMLNS}">${common(input)}${el('Marker', enc(input.marker))}` +
    (input.nextMarker !== undefined ? el('NextMarker', enc(input.nextMarker)) : '') +
    `${entries(input)}</ListBucketResult>`
  );
}

export function locationXml(region: string): string {
  // S3 answers an empty LocationConstraint for us-east-1.
  return `${DECL}<LocationConstraint xmlns="${S3_XMLNS}">${region === 'us-east-1' ? '' : escapeXml(region)}</LocationConstraint>`;
}

export function initiateMultipartXml(bucket: string, key: string, uploadId: string): string {
  return `${DECL}<InitiateMultipartUploadResult xmlns="${S3_XMLNS}">${el('Bucket', bucket)}${el('Key', key)}${el('UploadId', uploadId)}</InitiateMultipartUploadResult>`;
}

export function completeMultipartXml(location: string, bucket: string, key: string, etag: string): string {
  return `${DECL}<CompleteMultipartUploadResult xmlns="${S3_XMLNS}">${el('Location', location)}${el('Bucket', bucket)}${el('Key', key)}${el('ETag', etag)}</CompleteMultipartUploadResult>`;
}

export function listPartsXml(input: { bucket: string; key: string; uploadId: string; parts: Array<{ partNumber: number; etag: string; size: number; lastModified: Date }> }): string {
  const parts = input.parts.map((p) => `<Part>${el('PartNumber', p.partNumber)}${el('LastModified', p.lastModified.toISOString())}${el('ETag', p.etag)}${el('Size', p.size)}</Part>`).join('');
  return `${DECL}<ListPartsResult xmlns="${S3_XMLNS}">${el('Bucket', input.bucket)}${el('Key', input.key)}${el('UploadId', input.uploadId)}${el('StorageClass', 'STANDARD')}${el('MaxParts', 10000)}${el('IsTruncated', false)}${parts}</ListPartsResult>`;
}

/**
 * The body of CompleteMultipartUpload: `<Part><PartNumber>n</PartNumber><ETag>"…"</ETag>…</Part>` entries
 * (checksum elements are allowed and ignored). Null when it is not that document.
 */
export function parseCompleteMultipart(xml: string): Array<{ partNumber: number; etag: string }> | null {
  if (!/<CompleteMultipartUpload[\s>]/.test(xml)) return null;
  const parts: Array<{ partNumber: number; etag: string }> = [];
  for (const m of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const inner = m[1] ?? '';
    const n = /<PartNumber>\s*(\d{1,5})\s*<\/PartNumber>/.exec(inner)?.[1];
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(inner)?.[1];
    if (n === undefined || etag === undefined) return null;
    parts.push({ partNumber: Number(n), etag: unescapeXml(etag.trim()) });
  }
  return parts;
}

function unescapeXml(text: string): string {
  return text.replace(/&(quot|amp|lt|gt|apos|#34);/g, (_m, e: string) => ({ quot: '"', amp: '&', lt: '<', gt: '>', apos: "'", '#34': '"' })[e] ?? '');
}

export function listMultipartUploadsXml(input: { bucket: string; prefix: string; uploads: Array<{ key: string; uploadId: string; initiated: string }>; owner: string }): string {
  const owner = `${el('ID', input.owner)}${el('DisplayName', input.owner)}`;
  const uploads = input.uploads
    .map((u) => `<Upload>${el('Key', u.key)}${el('UploadId', u.uploadId)}<Initiator>${owner}</Initiator><Owner>${owner}</Owner>${el('StorageClass', 'STANDARD')}${el('Initiated', u.initiated)}</Upload>`)
    .join('');
  return `${DECL}<ListMultipartUploadsResult xmlns="${S3_XMLNS}">${el('Bucket', input.bucket)}<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>${el('Prefix', input.prefix)}${el('MaxUploads', 1000)}${el('IsTruncated', false)}${uploads}</ListMultipartUploadsResult>`;
}
