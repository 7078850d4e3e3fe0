/**
 * Errors the domain and the libraries raise. They never know about HTTP: the gateway's
 * exception filter maps `code` to a status and a problem+json body.
 */
export type DomainErrorCode =
  | 'validation_failed'
  | 'not_found'
  | 'illegal_transition'
  | 'conflict'
  | 'job_not_terminal'
  | 'job_not_active'
  | 'unauthenticated'
  | 'forbidden'
  | 'dataset_path_outside_roots'
  | 'dataset_path_missing'
  | 'dataset_path_unreadable'
  | 'dataset_symlink_escape'
  | 'package_too_large'
  | 'stale_lease'
  | 'lease_not_held'
  | 'payload_too_large'
  | 'invalid_key'
  | 'signature_invalid'
  | 'signature_expired'
  | 'credential_scope'
  | 'provider_unknown'
  | 'provider_not_configured'
  | 'provider_unavailable'
  | 'provider_credentials_invalid'
  | 'dataset_path_invalid'
  | 'provider_error'
  | 'consent_denied'
  | 'cost_limit_exceeded'
  | 'job_not_waiting'
  | 'consent_digest_mismatch'
  | 'consent_not_awaited'
  | 'unsupported';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class IllegalTransitionError extends DomainError {
  constructor(readonly from: string, readonly to: string) {
    super('illegal_transition', `A job cannot go from ${from} to ${to}.`, { from, to });
    this.name = 'IllegalTransitionError';
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super('not_found', `${what} ${id} was not found.`, { id });
    this.name = 'NotFoundError';
  }
}
