import { Client } from 'pg';
import { createTestDatabase, makeOrg } from '@ct/testing';
import { createPrismaClient, type PrismaClient } from './prisma';
import { JobRepository, listQuery, type JobFilter } from './job.repository';

/** The job list at depth: every supported filter on its own index, with the keyset as an index condition. */
describe('job list at depth', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: PrismaClient;
  let pg: Client;
  let a: string;
  let b: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    a = (await makeOrg(prisma)).orgId;
    b = (await makeOrg(prisma)).orgId;
    // 20,000 jobs in each of two organisations: 4 statuses, 3 providers, one a second apart.
    for (const org of [a, b]) {
      await pg.query(
        `INSERT INTO jobs (id, org_id, name, provider, status, config, dataloader, created_at)
         SELECT gen_random_uuid(), $1, 'job-' || g, (ARRAY['local','worker','replicate'])[1 + g % 3],
                (ARRAY['completed','failed','running','queued'])[1 + g % 4], '{"max_train_steps": 100}', '[]',
                timestamptz '2026-01-01' + (g || ' seconds')::interval
         FROM generate_series(1, 20000) g`,
        [org],
      );
    }
    await pg.query('VACUUM ANALYZE jobs');
  }, 60_000);
  afterAll(async () => {
    await pg.end();
    await prisma.$disconnect();
    await db.drop();
  });

  const deepCursor = async (f: Partial<JobFilter>) => {
    const { rows } = await pg.query(
      `SELECT id, created_at FROM jobs WHERE org_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR provider = $3)
       ORDER BY created_at DESC, id DESC OFFSET 1000 LIMIT 1`,
      [a, f.status ?? null, f.provider ?? null],
    );
    return { createdAt: rows[0].created_at as Date, id: rows[0].id as string };
  };

  it.each([
    [{}, 'jobs_org_id_created_at_id_idx'],
    [{ status: 'failed' }, 'jobs_org_id_status_created_at_id_idx'],
    [{ provider: 'replicate' }, 'jobs_org_id_provider_created_at_id_idx'],
    [{ status: 'running', provider: 'worker' }, 'jobs_org_id_status_provider_created_at_id_idx'],
    [{ type: 'training' }, 'jobs_org_id_created_at_id_idx'],
  ] as Array<[Partial<JobFilter>, string]>)('%j: an index scan on %s, the cursor in its condition, no sort', async (f, index) => {
    const q = listQuery(a, { limit: 50, ...f, cursor: await deepCursor(f) });
    const { rows } = await pg.query(`EXPLAIN (FORMAT JSON) ${q.text}`, q.values);
    const plan = rows[0]['QUERY PLAN'][0].Plan;
    const scan = plan.Plans[0];
    expect({ node: scan['Node Type'], index: scan['Index Name'] }).toEqual({ node: 'Index Scan', index });
    expect(scan['Index Cond']).toMatch(/ROW\(created_at, id\) < ROW\(/);
    expect(JSON.stringify(plan)).not.toMatch(/"Node Type":"(Sort|Seq Scan)"/);
  });

  it('pages through every matching job once, in order, and nothing of the other organisation', async () => {
    const jobs = new JobRepository(prisma);
    const seen: string[] = [];
    let cursor: JobFilter['cursor'];
    for (;;) {
      const page = await jobs.list(a, { status: 'failed', limit: 200, cursor });
      seen.push(...page.jobs.map((j) => j.id));
      if (!page.next) break;
      cursor = page.next;
    }
    const { rows } = await pg.query(`SELECT id FROM jobs WHERE org_id = $1 AND status = 'failed' ORDER BY created_at DESC, id DESC`, [a]);
    expect(seen).toEqual(rows.map((r) => r.id));
    const page = await jobs.list(a, { limit: 5 });
    expect(page.jobs.every((j) => j.orgId === a)).toBe(true);
    expect(Object.keys(page.jobs[0]!)).not.toEqual(expect.arrayContaining(['config']));
    expect(page.jobs[0]).not.toHaveProperty('dataloader');
  });
});
