import type { OutboxMessage } from './generated/prisma/client';
import { poolOf, type PrismaClient } from './prisma';

export type { OutboxMessage };

/** Reading side of the outbox, used by the relay. */
export class OutboxRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Relays one batch: locks unpublished messages (SKIP LOCKED, so several relays share the work), hands them to
   * `publish` in order, and marks the ones it published, in one transaction: a relay that dies mid-batch rolls
   * it back and the rows are free again at once. The first failure stops the batch (Redis is likely down); it
   * is counted on the message and the rest waits for the next round. Through pg, not Prisma: this runs on every
   * wake-up of the relay, and Prisma's interactive transactions cost several times more (prisma.ts poolOf).
   */
  async relayBatch(limit: number, publish: (m: OutboxMessage) => Promise<void>): Promise<{ published: number; failed: number }> {
    const client = await poolOf(this.prisma).connect();
    let broken: Error | undefined;
    // A connection that dies while checked out (Postgres restarted) emits 'error' on the client: without a
    // listener that would end the process; the failing query rejects anyway.
    const onError = (err: Error) => void (broken = err);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string; kind: string; target: string; dedupe_key: string; payload: unknown; attempts: number; last_error: string | null; created_at: Date; published_at: Date | null }>(
        'SELECT * FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
        [limit],
      );
      const done: string[] = [];
      let failed = 0;
      for (const r of rows) {
        const m: OutboxMessage = {
          id: BigInt(r.id), kind: r.kind, target: r.target, dedupeKey: r.dedupe_key, payload: r.payload as OutboxMessage['payload'],
          attempts: r.attempts, lastError: r.last_error, createdAt: r.created_at, publishedAt: r.published_at,
        };
        try {
          await publish(m);
          done.push(r.id);
        } catch (err) {
          failed++;
          await client.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [r.id, (err as Error).message.slice(0, 500)]);
          break;
        }
      }
      if (done.length) await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [done]);
      await client.query('COMMIT');
      return { published: done.length, failed };
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async pendingCount(): Promise<number> {
    return this.prisma.outboxMessage.count({ where: { publishedAt: null } });
  }

  /** Published messages are kept a while for diagnosis, then removed. */
  async prune(olderThanMs: number): Promise<number> {
    const { count } = await this.prisma.outboxMessage.deleteMany({ where: { publishedAt: { lt: new Date(Date.now() - olderThanMs) } } });
    return count;
  }
}
