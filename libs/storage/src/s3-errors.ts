import { DomainError } from '@ct/job-domain';

export interface S3ErrorInfo {
  status: number;
  code: string;
  message: string;
}

/** Status for the S3 error codes this endpoint can produce. */
const STATUS_BY_S3_CODE: Record<string, number> = {
  AccessDenied: 403,
  SignatureDoesNotMatch: 403,
  InvalidAccessKeyId: 403,
  RequestTimeTooSkewed: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidRequest: 400,
  IncompleteBody: 400,
  BadDigest: 400,
  XAmzContentSHA256Mismatch: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  EntityTooSmall: 400,
  MalformedXML: 400,
  NoSuchKey: 404,
  NoSuchBucket: 404,
  NoSuchUpload: 404,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  PreconditionFailed: 412,
  EntityTooLarge: 413,
  InvalidRange: 416,
  InternalError: 500,
  ServiceUnavailable: 503,
  SlowDown: 503,
  NotImplemented: 501,
};

/** An error that already names its S3 code (used by the handler for protocol-level failures). */
export class S3Error extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'S3Error';
  }
}

/** Maps library errors to S3 error responses; unknown errors become a generic InternalError (no details leak). */
export function toS3Error(err: unknown): S3ErrorInfo {
  if (err instanceof S3Error) return { status: STATUS_BY_S3_CODE[err.code] ?? 400, code: err.code, message: err.message };
  if (err instanceof URIError) return { status: 400, code: 'InvalidArgument', message: 'The request URI contains an invalid escape sequence.' };
  if (!(err instanceof DomainError)) return { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' };
  const hinted = typeof err.details?.['s3Code'] === 'string' ? err.details['s3Code'] : undefined;
  const code = hinted ?? codeFor(err);
  return { status: STATUS_BY_S3_CODE[code] ?? 400, code, message: err.message };
}

function codeFor(err: DomainError): string {
  switch (err.code) {
    case 'not_found':
      return err.details?.['resource'] === 'bucket' ? 'NoSuchBucket' : err.details?.['resource'] === 'upload' ? 'NoSuchUpload' : 'NoSuchKey';
    case 'invalid_key':
      return err.details?.['reason'] === 'bucket_name' ? 'InvalidBucketName' : 'InvalidArgument';
    case 'signature_invalid':
      return 'SignatureDoesNotMatch';
    case 'signature_expired':
      return 'RequestTimeTooSkewed';
    case 'credential_scope':
      return 'AuthorizationHeaderMalformed';
    case 'unauthenticated':
    case 'forbidden':
      return 'AccessDenied';
    case 'payload_too_large':
      return 'EntityTooLarge';
    case 'unsupported':
      return 'NotImplemented';
    default:
      return 'InvalidArgument';
  }
}
