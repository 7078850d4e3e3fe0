import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Problem } from '@ct/contracts';
import { DomainError, type DomainErrorCode } from '@ct/job-domain';
import { isDatabaseUnavailable } from '@ct/persistence';
import type { Response } from 'express';

/** Codes the gateway itself answers with, besides the domain's. */
type GatewayErrorCode = 'bad_request' | 'malformed_json' | 'unsupported_media_type' | 'route_not_found' | 'rate_limited' | 'service_unavailable' | 'internal';
export type ProblemCode = DomainErrorCode | GatewayErrorCode;

/** The HTTP status of every stable error code (also what the OpenAPI document lists per operation). */
export const PROBLEM_STATUS: Readonly<Record<ProblemCode, number>> = {
  validation_failed: 400,
  not_found: 404,
  illegal_transition: 409,
  conflict: 409,
  job_not_terminal: 409,
  job_not_active: 409,
  unauthenticated: 401,
  forbidden: 403,
  dataset_path_outside_roots: 422,
  dataset_path_missing: 422,
  dataset_path_unreadable: 422,
  dataset_symlink_escape: 422,
  package_too_large: 413,
  stale_lease: 409,
  lease_not_held: 409,
  payload_too_large: 413,
  invalid_key: 400,
  signature_invalid: 403,
  signature_expired: 403,
  credential_scope: 403,
  provider_unknown: 400,
  provider_not_configured: 422,
  provider_unavailable: 422,
  provider_credentials_invalid: 422,
  dataset_path_invalid: 422,
  consent_denied: 422,
  cost_limit_exceeded: 422,
  job_not_waiting: 409,
  consent_digest_mismatch: 409,
  consent_not_awaited: 409,
  provider_error: 502,
  unsupported: 501,
  bad_request: 400,
  malformed_json: 400,
  unsupported_media_type: 415,
  route_not_found: 404,
  rate_limited: 429,
  service_unavailable: 503,
  internal: 500,
};

function problem(code: ProblemCode | `http_${number}`, status: number, detail: string, title = code.replace(/_/g, ' ')): Problem {
  return { type: `urn:ct:error:${code}`, title, status, code, detail };
}

/** body-parser's errors by type: what the caller sent, in words they can act on (its own messages name its internals). */
const BODY_ERRORS: Record<string, [ProblemCode, string]> = {
  'entity.parse.failed': ['malformed_json', 'The request body is not valid JSON.'],
  'entity.too.large': ['payload_too_large', 'The request body is larger than the server accepts.'],
  'charset.unsupported': ['unsupported_media_type', 'The request body must be JSON in UTF-8 (charset=utf-8, or no charset).'],
  'encoding.unsupported': ['unsupported_media_type', 'The request body must be sent uncompressed, or with Content-Encoding gzip, deflate or br.'],
};

export function problemOf(err: unknown): Problem {
  if (err instanceof DomainError) {
    const status = PROBLEM_STATUS[err.code] ?? 400;
    const issues = err.details?.['issues'] as Problem['errors'];
    return { ...problem(err.code, status, err.message), ...(issues ? { errors: issues } : {}) };
  }
  if (err instanceof HttpException) {
    // Nest's own: an unknown route, or a path whose percent-encoding does not decode (mapped from the router's URIError).
    const status = err.getStatus();
    const body = err.getResponse();
    const code = status === 400 ? 'bad_request' : status === 404 ? 'route_not_found' : status === 413 ? 'payload_too_large' : status === 429 ? 'rate_limited' : (`http_${status}` as const);
    const detail = typeof body === 'string' ? body : ((body as { message?: unknown }).message?.toString() ?? err.message);
    return problem(code, status, detail);
  }
  const e = err as { type?: unknown; status?: unknown; expose?: unknown } | null;
  const known = typeof e?.type === 'string' ? BODY_ERRORS[e.type] : undefined;
  if (known) return problem(known[0], PROBLEM_STATUS[known[0]], known[1]);
  // Any other client error of body-parser (http-errors marks them `expose`): a compressed body that does not
  // inflate, a body shorter or longer than its Content-Length, an upload the client abandoned.
  if (e?.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return e.status === 400 ? problem('bad_request', 400, 'The request body could not be read: it is not what its Content-Encoding or Content-Length says.') : problem(`http_${e.status}`, e.status, 'The request was refused.');
  }
  if (isDatabaseUnavailable(err)) return problem('service_unavailable', 503, 'The job store is briefly unreachable; try again in a few seconds.');
  return problem('internal', 500, 'Something went wrong on our side; the error was logged.', 'internal error');
}

/** The one place errors become HTTP: problem+json with a stable code, no stack traces. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const problem = problemOf(err);
    if (problem.status === 503) this.logger.warn({ err: (err as Error)?.message?.split('\n')[0] }, 'request failed: a dependency is unavailable');
    else if (problem.status >= 500) this.logger.error({ err: (err as Error)?.message, stack: (err as Error)?.stack }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (problem.status === 503) res.setHeader('Retry-After', '2');
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }
}
