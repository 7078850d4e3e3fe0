-- The relay claims messages with a lease instead of holding them locked in a transaction while it publishes
-- (it now runs on every commit's wake-up; docs/DESIGN.md "The outbox relay").
ALTER TABLE "outbox" ADD COLUMN "claimed_until" TIMESTAMPTZ(3);
