-- Provider-owned state replaces the Replicate columns on the job row (the plugin alone reads and writes it),
-- and a step's claim (owner + until) lets exactly one replica do a step's side effects at a time.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "provider_state" JSONB,
ADD COLUMN     "step_owner" TEXT,
ADD COLUMN     "step_until" TIMESTAMPTZ(3);

-- Move what the Replicate plugin recorded into its own state, then drop the columns.
UPDATE "jobs" SET "provider_state" = jsonb_strip_nulls(jsonb_build_object(
    'attempt', "provider_attempt",
    'files', CASE WHEN "provider_file_id" IS NULL THEN NULL ELSE jsonb_build_array("provider_file_id") END))
WHERE "provider_attempt" IS NOT NULL OR "provider_file_id" IS NOT NULL;

ALTER TABLE "jobs" DROP COLUMN "provider_attempt",
DROP COLUMN "provider_file_id";

-- The GPU memory an admin vouches for; a worker's own report can lower it, never raise it.
-- AlterTable
ALTER TABLE "workers" ADD COLUMN     "gpu_memory_gib" DOUBLE PRECISION NOT NULL DEFAULT 0;

-- When the poller last followed the job: a chain of polls silent for long was lost (e.g. with Redis).
-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "polled_at" TIMESTAMPTZ(3);

-- Every running service instance says it is alive every few seconds. `up_since` restarts after a gap, so
-- the heartbeat monitor knows when the gateways were unreachable and gives workers their lease back.
-- CreateTable
CREATE TABLE "service_instances" (
    "id" TEXT NOT NULL,
    "service" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "up_since" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "service_instances_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "service_instances_service_last_seen_at_idx" ON "service_instances"("service", "last_seen_at");
