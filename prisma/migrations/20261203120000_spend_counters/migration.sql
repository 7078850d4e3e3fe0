-- The spending ledger's running totals (docs/DESIGN.md "Admission"): what the jobs submitted in each
-- quarter hour spent and still hold, per organisation and provider, so admission reads a window's total from
-- a few counter rows instead of summing every job of the window under the organisation's lock. Quarter hours
-- (UTC-aligned) because every window boundary of every time zone in use today falls on one; a change of the
-- organisation's time zone needs no rebuild.
--
-- A trigger keeps them, so no writer (raw SQL included) can miss one. It is a deferred constraint trigger:
-- the counter row is updated at commit, so concurrent submissions hold it for the commit alone. Deleting a
-- job gives back only what it still held: what it spent stays spent (a deleted job cannot lower the spend).
CREATE TABLE "spend_counters" (
    "org_id" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "spent_micros" BIGINT NOT NULL DEFAULT 0,
    "reserved_micros" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "spend_counters_pkey" PRIMARY KEY ("org_id", "provider", "bucket")
);

ALTER TABLE "spend_counters" ADD CONSTRAINT "spend_counters_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE FUNCTION ct_spend_bucket(at TIMESTAMPTZ) RETURNS TIMESTAMPTZ LANGUAGE sql IMMUTABLE AS $$
  SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00')
$$;

CREATE FUNCTION ct_jobs_spend() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d_spent BIGINT := 0;
  d_reserved BIGINT := 0;
  r RECORD;
BEGIN
  IF TG_OP = 'DELETE' THEN
    r := OLD;
    d_reserved := -GREATEST(OLD.reserved_micros - OLD.cost_micros, 0);
  ELSIF TG_OP = 'INSERT' THEN
    r := NEW;
    d_spent := NEW.cost_micros;
    d_reserved := GREATEST(NEW.reserved_micros - NEW.cost_micros, 0);
  ELSE
    r := NEW;
    d_spent := NEW.cost_micros - OLD.cost_micros;
    d_reserved := GREATEST(NEW.reserved_micros - NEW.cost_micros, 0) - GREATEST(OLD.reserved_micros - OLD.cost_micros, 0);
  END IF;
  IF d_spent <> 0 OR d_reserved <> 0 THEN
    INSERT INTO spend_counters AS c (org_id, provider, bucket, spent_micros, reserved_micros)
    VALUES (r.org_id, r.provider, ct_spend_bucket(r.created_at), d_spent, d_reserved)
    ON CONFLICT (org_id, provider, bucket) DO UPDATE
      SET spent_micros = c.spent_micros + EXCLUDED.spent_micros, reserved_micros = c.reserved_micros + EXCLUDED.reserved_micros;
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER jobs_spend AFTER INSERT OR UPDATE OF cost_micros, reserved_micros OR DELETE ON "jobs"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ct_jobs_spend();

INSERT INTO spend_counters (org_id, provider, bucket, spent_micros, reserved_micros)
SELECT org_id, provider, ct_spend_bucket(created_at), sum(cost_micros), sum(GREATEST(reserved_micros - cost_micros, 0))
FROM jobs GROUP BY 1, 2, 3;
