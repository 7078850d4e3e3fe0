import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Problem } from '@ct/contracts';
import { DomainError, type DomainErrorCode } from '@ct/job-domain';
import type { Response } from 'express';

/** Codes the gateway itself answers with, besides the domain's. */
type GatewayErrorCode = 'malformed_json' | 'unsupported_media_type' | 'route_not_found' | 'rate_limited' | 'internal';
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
  provider_error: 502,
  unsupported: 501,
  malformed_json: 400,
  unsupported_media_type: 415,
  route_not_found: 404,
  rate_limited: 429,
  internal: 500,
};

export function problemOf(err: unknown): Problem {
  if (err instanceof DomainError) {
    const status = PROBLEM_STATUS[err.code] ?? 400;
    const issues = err.details?.['issues'] as Problem['errors'];
    return { type: `urn:ct:error:${err.code}`, title: err.code.replace(/_/g, ' '), status, code: err.code, detail: err.message, ...(issues ? { errors: issues } : {}) };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const body = err.getResponse();
    const code = status === 404 ? 'route_not_found' : status === 413 ? 'payload_too_large' : status === 429 ? 'rate_limited' : `http_${status}`;
    const detail = typeof body === 'string' ? body : ((body as { message?: unknown }).message?.toString() ?? err.message);
    return { type: `urn:ct:error:${code}`, title: code.replace(/_/g, ' '), status, code, detail };
  }
  const e = err as { type?: string; status?: number; statusCode?: number };
  // body-parser's own errors: bad JSON and oversized bodies are the caller's, not ours.
  if (e?.type === 'entity.parse.failed') return { type: 'urn:ct:error:malformed_json', title: 'malformed json', status: 400, code: 'malformed_json', detail: 'The request body is not valid JSON.' };
  if (e?.type === 'entity.too.large') return { type: 'urn:ct:error:payload_too_large', title: 'payload too large', status: 413, code: 'payload_too_large', detail: 'The request body is larger than the server accepts.' };
  return { type: 'urn:ct:error:internal', title: 'internal error', status: 500, code: 'internal', detail: 'Something went wrong on our side; the error was logged.' };
}

/** The one place errors become HTTP: problem+json with a stable code, no stack traces. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const problem = problemOf(err);
    if (problem.status >= 500) this.logger.error({ err: (err as Error)?.message, stack: (err as Error)?.stack }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }
}
