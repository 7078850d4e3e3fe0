import { Client } from 'pg';
import { createTestDatabase, makeOrg } from '@ct/testing';
import { createPrismaClient, type PrismaClient } from './prisma';
import { positionQuery, SchedulingRepository } from './scheduling.repository';

/** The queue's order as an index: positions are counted on it at any depth, with answers that follow priority and aging. */
describe('queue position at depth', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  let pg: Client;
  let orgId: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    orgId = (await makeOrg(prisma)).orgId;
    // 6,000 waiting self-hosted jobs (priorities 1-10, one second apart) beside 6,000 that ended.
    await pg.query(
      `INSERT INTO jobs (id, org_id, name, provider, status, config, dataloader, priority, created_at)
       SELECT gen_random_uuid(), $1, 'job-' || g, 'worker', CASE WHEN g % 2 = 0 THEN 'waiting' ELSE 'completed' END, '{}', '[]',
              1 + (g % 10), now() - (g || ' seconds')::interval
       FROM generate_series(1, 12000) g`,
      [orgId],
    );
    await pg.query('VACUUM ANALYZE jobs');
  });
  afterAll(async () => {
    await pg.end();
    await prisma.$disconnect();
    await db.drop();
  });

  const plan = async (q: { text: string; values: unknown[] }) => {
    const { rows } = await pg.query(`EXPLAIN (FORMAT JSON) ${q.text}`, q.values);
    return JSON.stringify(rows[0]['QUERY PLAN']);
  };

  it('counts on the partial queue index, never scanning the table', async () => {
    const { rows: [deep] } = await pg.query(`SELECT id FROM jobs WHERE status = 'waiting' ORDER BY queue_key DESC LIMIT 1`);
    const text = await plan(positionQuery(orgId, 'worker', deep.id));
    expect(text).toContain('jobs_waiting_queue_partial');
    expect(text).not.toMatch(/"Node Type":"Seq Scan"[^}]*"Relation Name":"jobs"/);
  });

  it('answers the place the queue order gives: priority first, each 10 minutes waited worth one level', async () => {
    const scheduling = new SchedulingRepository(prisma);
    const { rows } = await pg.query(`SELECT id, priority, extract(epoch from now() - created_at)::int AS age FROM jobs WHERE status = 'waiting'`);
    const score = (r: { priority: number; age: number }) => r.priority + r.age / 600; // higher runs sooner
    const sorted = [...rows].sort((a, b) => score(b) - score(a));
    for (const i of [0, 1, 2_999, 5_999]) {
      const p = await scheduling.position(orgId, sorted[i].id);
      expect({ i, position: p?.position, waiting: p?.waiting }).toEqual({ i, position: i + 1, waiting: 6_000 });
    }
    // A job that is not waiting has no position.
    const { rows: [done] } = await pg.query(`SELECT id FROM jobs WHERE status = 'completed' LIMIT 1`);
    expect((await scheduling.position(orgId, done.id))?.position).toBeNull();
  });
});
