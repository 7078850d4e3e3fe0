-- The queue's order as a stored, indexable key (docs/DESIGN.md "Admission"): aging as "each 10 minutes
-- waited is worth one priority level" makes the order of two jobs independent of the time it is read, so
-- it is created_at − priority × 600 s, ascending. A trigger keeps it (every writer, raw SQL included).
ALTER TABLE "jobs" ADD COLUMN "queue_key" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

CREATE FUNCTION ct_jobs_queue_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.queue_key := NEW.created_at - make_interval(secs => NEW.priority * 600);
  RETURN NEW;
END $$;

CREATE TRIGGER jobs_queue_key BEFORE INSERT OR UPDATE OF priority, created_at ON "jobs"
  FOR EACH ROW EXECUTE FUNCTION ct_jobs_queue_key();

UPDATE "jobs" SET "queue_key" = "created_at" - make_interval(secs => "priority" * 600);

-- The waiting jobs in queue order, and nothing else: a queue position is a range count of this small index
-- (index-only), admission reads its head. Partial, so written here only: Prisma's schema has no partial
-- indexes (prisma/prisma#3076); the schema test knows it by name.
CREATE INDEX "jobs_waiting_queue_partial" ON "jobs"("provider", "queue_key", "id") WHERE "status" = 'waiting' AND "admitted_at" IS NULL;

-- The jobs holding a concurrency slot (admitted, not ended), counted by every admission and queue position.
CREATE INDEX "jobs_admitted_active_partial" ON "jobs"("provider", "org_id") WHERE "admitted_at" IS NOT NULL AND "status" NOT IN ('completed', 'failed', 'cancelled');
