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

DROP INDEX "jobs_provider_status_idx";
CREATE INDEX "jobs_provider_status_queue_key_id_idx" ON "jobs"("provider", "status", "queue_key", "id");
