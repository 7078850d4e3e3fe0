import type { OutboxMessage } from './generated/prisma/client';
import type { PrismaClient } from './prisma';

export type { OutboxMessage };

/** Reading side of the outbox, used by the relay. */
export class OutboxRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Locks a batch of unpublished messages (SKIP LOCKED, so several relays share the work), hands them to
   * `publish`, and marks the ones it published. Failures stay unpublished and are retried next round.
   */
  async relayBatch(limit: number, publish: (m: OutboxMessage) => Promise<void>): Promise<{ published: number; failed: number }> {
    return this.prisma.$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<Array<{ id: bigint }>>`
          SELECT id FROM outbox WHERE published_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED LIMIT ${limit}`;
        if (rows.length === 0) return { published: 0, failed: 0 };
        const messages = await tx.outboxMessage.findMany({ where: { id: { in: rows.map((r) => r.id) } }, orderBy: { id: 'asc' } });
        const done: bigint[] = [];
        let failed = 0;
        for (const m of messages) {
          try {
            await publish(m);
            done.push(m.id);
          } catch (err) {
            failed++;
            await tx.outboxMessage.update({ where: { id: m.id }, data: { attempts: { increment: 1 }, lastError: (err as Error).message.slice(0, 500) } });
            break; // Redis is likely down: keep order, try again next round.
          }
        }
        if (done.length) await tx.outboxMessage.updateMany({ where: { id: { in: done } }, data: { publishedAt: new Date() } });
        return { published: done.length, failed };
      },
      { timeout: 30_000 },
    );
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
