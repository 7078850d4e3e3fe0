-- A terminal job is finalized once its provider cleaned up; one never finalized (its queue item lost with
-- Redis) is found by the reconciler. A deleted job stays (hidden) until its objects are purged, so a lost
-- purge is found too.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "finalized_at" TIMESTAMPTZ(3),
ADD COLUMN     "deleted_at" TIMESTAMPTZ(3),
ADD COLUMN     "keep_outputs" BOOLEAN NOT NULL DEFAULT false;

-- Jobs finished before this migration were finalized by the code of their time.
UPDATE "jobs" SET "finalized_at" = COALESCE("finished_at", "updated_at") WHERE "status" IN ('completed', 'failed', 'cancelled');

-- CreateIndex
CREATE INDEX "jobs_finalized_at_idx" ON "jobs"("finalized_at");

-- CreateIndex
CREATE INDEX "jobs_deleted_at_idx" ON "jobs"("deleted_at");
