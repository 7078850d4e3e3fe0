import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { getDMMF } from '@prisma/internals';
import { createTestDatabase } from '@ct/testing';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrations } from './migrate';

const PRISMA_TYPES: Record<string, string> = {
  String: 'text', Int: 'integer', BigInt: 'bigint', Json: 'jsonb', DateTime: 'timestamp with time zone', Boolean: 'boolean', Float: 'double precision',
};

/** Indexes with a WHERE clause, written in migrations only: Prisma's schema has no partial indexes (prisma/prisma#3076). */
const PARTIAL_INDEXES: Record<string, string> = {
  jobs_waiting_queue_partial: "CREATE INDEX jobs_waiting_queue_partial ON public.jobs USING btree (provider, queue_key, id) WHERE ((status = 'waiting'::text) AND (admitted_at IS NULL))",
  jobs_admitted_active_partial: "CREATE INDEX jobs_admitted_active_partial ON public.jobs USING btree (provider, org_id) WHERE ((admitted_at IS NOT NULL) AND (status <> ALL (ARRAY['completed'::text, 'failed'::text, 'cancelled'::text])))",
};

describe('migration runner', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pg: Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });
  afterAll(async () => {
    await pg.end();
    await db.drop();
  });

  it('keeps Prisma bookkeeping and is a no-op the second time, even when two run at once', async () => {
    const [a, b] = await Promise.all([migrate(db.url), migrate(db.url)]);
    expect(a.applied).toEqual([]);
    expect(b.applied).toEqual([]);
    const { rows } = await pg.query('SELECT migration_name, checksum, finished_at FROM "_prisma_migrations"');
    const expected = readMigrations();
    expect(rows.map((r) => r.migration_name).sort()).toEqual(expected.map((m) => m.name));
    for (const m of expected) expect(rows.find((r) => r.migration_name === m.name)?.checksum).toBe(m.checksum);
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);
  });

  it('agrees with schema.prisma: every model field is a column of the right type and nullability', async () => {
    const datamodel = readFileSync(join(DEFAULT_MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
    const dmmf = await getDMMF({ datamodel });
    const { rows } = await pg.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
      `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public'`,
    );
    const columns = new Map(rows.map((r) => [`${r.table_name}.${r.column_name}`, r]));
    const expectedKeys = new Set<string>();
    for (const model of dmmf.datamodel.models) {
      const table = model.dbName ?? model.name;
      for (const field of model.fields.filter((f) => f.kind !== 'object')) {
        const key = `${table}.${field.dbName ?? field.name}`;
        expectedKeys.add(key);
        const col = columns.get(key);
        expect({ key, exists: !!col }).toEqual({ key, exists: true });
        const type = field.isList ? 'ARRAY' : PRISMA_TYPES[field.type];
        expect({ key, type: col?.data_type }).toEqual({ key, type });
        // Prisma lists are nullable in SQL by design; scalar nullability must match.
        if (!field.isList) expect({ key, nullable: col?.is_nullable === 'YES' }).toEqual({ key, nullable: !field.isRequired });
      }
    }
    const extra = [...columns.keys()].filter((k) => !k.startsWith('_prisma_migrations.') && !expectedKeys.has(k));
    expect(extra).toEqual([]);
  });

  it('agrees with schema.prisma on unique constraints and foreign keys', async () => {
    const datamodel = readFileSync(join(DEFAULT_MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
    const dmmf = await getDMMF({ datamodel });
    const { rows: idx } = await pg.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE 'CREATE UNIQUE%'`);
    const uniques = new Set(idx.map((r) => r.indexname));
    const { rows: fks } = await pg.query<{ conname: string }>(`SELECT conname FROM pg_constraint WHERE contype = 'f'`);
    const fkNames = new Set(fks.map((r) => r.conname));
    for (const model of dmmf.datamodel.models) {
      const table = model.dbName ?? model.name;
      const col = (name: string) => model.fields.find((f) => f.name === name)?.dbName ?? name;
      for (const f of model.fields.filter((x) => x.isUnique)) expect(uniques).toContain(`${table}_${col(f.name)}_key`);
      for (const u of model.uniqueFields) expect(uniques).toContain(`${table}_${u.map(col).join('_')}_key`);
      for (const f of model.fields.filter((x) => x.kind === 'object' && (x.relationFromFields?.length ?? 0) > 0)) {
        expect(fkNames).toContain(`${table}_${f.relationFromFields!.map(col).join('_')}_fkey`);
      }
    }
  });

  it('agrees with schema.prisma on plain indexes (@@index): each exists on its columns, none is extra', async () => {
    const datamodel = readFileSync(join(DEFAULT_MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
    const dmmf = await getDMMF({ datamodel });
    const { rows } = await pg.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexdef NOT LIKE 'CREATE UNIQUE%' AND tablename <> '_prisma_migrations'`,
    );
    const actual = new Map(rows.map((r) => [r.indexname, r.indexdef]));
    const expected = new Set<string>();
    for (const index of dmmf.datamodel.indexes.filter((i) => i.type === 'normal')) {
      const model = dmmf.datamodel.models.find((m) => m.name === index.model)!;
      const table = model.dbName ?? model.name;
      const cols = index.fields.map((f) => ({ name: model.fields.find((x) => x.name === f.name)?.dbName ?? f.name, desc: f.sortOrder === 'desc' }));
      const name = index.dbName ?? `${table}_${cols.map((c) => c.name).join('_')}_idx`;
      expected.add(name);
      const def = actual.get(name);
      expect({ name, exists: def !== undefined }).toEqual({ name, exists: true });
      const columnList = cols.map((c) => `${c.name}${c.desc ? ' DESC' : ''}`).join(', ');
      expect({ name, columns: /\((.*)\)$/.exec(def ?? '')?.[1]?.replace(/"/g, '') }).toEqual({ name, columns: columnList });
    }
    expect([...actual.keys()].filter((n) => !expected.has(n) && !PARTIAL_INDEXES[n])).toEqual([]);
    // The partial ones Prisma cannot declare exist as the migrations say.
    for (const [name, def] of Object.entries(PARTIAL_INDEXES)) expect({ name, def: actual.get(name)?.replace(/"/g, '') }).toEqual({ name, def });
  });
});
