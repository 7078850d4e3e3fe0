/**
 * "Outbox rows were committed": the hint that wakes the relay at once instead of at its next poll
 * (docs/DESIGN.md "The outbox relay"). Postgres NOTIFY would do it without code, but a transaction that
 * notifies takes a database-wide lock at commit, so concurrent commits stop sharing their WAL flush
 * (measured: 25-35 % fewer submissions per second); instead each process learns of its own commits here
 * and says so on Redis (libs/queue OutboxWake). The poll stays as the safety net for a lost hint.
 */
type Listener = () => void;

const listeners = new Set<Listener>();
/** Transactions (their Prisma client) that wrote outbox rows and have not committed yet. */
const pending = new WeakSet<object>();
/** The root clients, whose writes commit on their own. */
const roots = new WeakSet<object>();

export function onOutboxCommitted(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function outboxCommitted(): void {
  for (const l of listeners) l();
}

/** Called by the writers of outbox rows: a root client's write is committed already, a transaction's at its commit. */
export function outboxWritten(db: object): void {
  if (roots.has(db)) outboxCommitted();
  else pending.add(db);
}

interface TransactionalClient {
  $transaction: (arg: unknown, options?: unknown) => Promise<unknown>;
}

/**
 * Makes the client's interactive transactions report, after their commit, that they wrote outbox rows.
 * Prisma has no commit hook (its client extensions cannot wrap `$transaction`), so the method is wrapped
 * on this one instance; batch transactions (an array of queries) are passed through untouched.
 */
export function signalOutboxCommits<C extends object>(client: C): C {
  roots.add(client);
  const c = client as unknown as TransactionalClient;
  const original = c.$transaction.bind(client);
  c.$transaction = (arg: unknown, options?: unknown) => {
    if (typeof arg !== 'function') return original(arg, options);
    let tx: object | undefined;
    return original(async (t: object) => {
      tx = t;
      return (arg as (t: object) => unknown)(t);
    }, options).then((result) => {
      if (tx && pending.has(tx)) {
        pending.delete(tx);
        outboxCommitted();
      }
      return result;
    });
  };
  return client;
}
