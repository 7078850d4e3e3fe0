/** Errors from the gateway, classified by what the agent must do about them. */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | undefined,
    /** True for failures worth retrying: network errors, timeouts, 408/429/5xx. */
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

/** 409 stale_lease: another worker owns the job now; stop the trainer and drop the job. */
export class StaleLeaseError extends GatewayError {
  constructor(message: string) {
    super(message, 409, 'stale_lease', false);
    this.name = 'StaleLeaseError';
  }
}

/** 401: the worker token is wrong or was rotated; the agent must exit. */
export class UnauthorizedError extends GatewayError {
  constructor(message: string) {
    super(message, 401, 'unauthorized', false);
    this.name = 'UnauthorizedError';
  }
}

export function isTransient(err: unknown): boolean {
  return err instanceof GatewayError && err.transient;
}

interface Problem {
  title?: unknown;
  detail?: unknown;
  code?: unknown;
}

/** Turns a non-2xx response (problem+json when the gateway made it) into the right error class. */
export async function errorFromResponse(res: Response, what: string): Promise<GatewayError> {
  let problem: Problem = {};
  try {
    const body: unknown = await res.json();
    if (body && typeof body === 'object') problem = body as Problem;
  } catch {
    // Not JSON (a proxy's HTML error page, say): the status alone decides.
  }
  const detail = typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : res.statusText;
  const code = typeof problem.code === 'string' ? problem.code : undefined;
  const message = `${what}: HTTP ${res.status}${code ? ` ${code}` : ''}${detail ? ` - ${detail}` : ''}`;
  if (res.status === 401) return new UnauthorizedError(message);
  if (res.status === 409 && code === 'stale_lease') return new StaleLeaseError(message);
  const transient = res.status === 408 || res.status === 429 || res.status >= 500;
  return new GatewayError(message, res.status, code, transient);
}
