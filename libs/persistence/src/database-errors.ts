/**
 * True when an error means "the database cannot be reached right now" (down, restarting, the connection
 * cut), as opposed to a query that is wrong: callers answer 503 and clients try again later.
 * Prisma reports these as P1001/P1002/P1008/P1017 or initialization errors; through the pg driver adapter
 * the socket's own error codes and Postgres' shutdown messages surface in the message or the cause.
 */
const CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08006', '08001', '08003', '08004']);
const MESSAGES = /ECONNREFUSED|ECONNRESET|Connection terminated|terminating connection|the database system is (starting up|shutting down|in recovery mode)|Can't reach database server|Server has closed the connection|connect ETIMEDOUT|Connection(s)? (closed|ended)|timeout exceeded when trying to connect/i;

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const x = e as { code?: unknown; name?: unknown; message?: unknown };
    if (x.name === 'PrismaClientInitializationError') return true;
    if (typeof x.code === 'string' && CODES.has(x.code)) return true;
    if (typeof x.message === 'string' && MESSAGES.test(x.message)) return true;
  }
  return false;
}
