import type { OutboxMessage } from './generated/prisma/client';
import type { PrismaClient } from './prisma';

export type { OutboxMessage };

/** Reading side of the outbox, used by the relay. */
export class OutboxRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Relays one batch: claims unpublished messages for a while (`claimed_until`, SKIP LOCKED, so several relays
   * share the work and a relay that dies mid-batch leaves them to the next after the lease), hands them to
   * `publish` in order, and marks the ones it published. The first failure stops the batch (Redis is likely
   * down) and gives the rest back. Two statements on their own, no interactive transaction: the relay now
   * runs on every commit's wake-up, so a round costs what the work needs.
   */
  async relayBatch(limit: number, publish: (m: OutboxMessage) => Promise<void>, leaseMs = 30_000): Promise<{ published: number; failed: number }> {
    const rows = await this.prisma.$queryRaw<Array<{ id: bigint; kind: string; target: string; dedupe_key: string; payload: unknown; attempts: number; last_error: string | null; created_at: Date; published_at: Date | null; claimed_until: Date | null }>>`
      UPDATE outbox SET claimed_until = now() + make_interval(secs => ${leaseMs / 1000}::double precision)
      WHERE id IN (
        SELECT id FROM outbox WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING *`;
    if (rows.length === 0) return { published: 0, failed: 0 };
    rows.sort((a, b) => (a.id < b.id ? -1 : 1));
    const done: bigint[] = [];
    let failed = 0;
    for (const r of rows) {
      const m: OutboxMessage = {
        id: r.id, kind: r.kind, target: r.target, dedupeKey: r.dedupe_key, payload: r.payload as OutboxMessage['payload'],
        attempts: r.attempts, lastError: r.last_error, createdAt: r.created_at, publishedAt: r.published_at, claimedUntil: r.claimed_until,
      };
      try {
        await publish(m);
        done.push(m.id);
      } catch (err) {
        failed++;
        await this.prisma.outboxMessage.update({ where: { id: m.id }, data: { attempts: { increment: 1 }, lastError: (err as Error).message.slice(0, 500) } });
        break;
      }
    }
    if (done.length) await this.prisma.$executeRaw`UPDATE outbox SET published_at = now(), claimed_until = NULL WHERE id = ANY(${done}::bigint[])`;
    const returned = rows.filter((r) => !done.includes(r.id)).map((r) => r.id);
    if (returned.length) await this.prisma.$executeRaw`UPDATE outbox SET claimed_until = NULL WHERE id = ANY(${returned}::bigint[])`;
    return { published: done.length, failed };
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
