-- The cost estimate a job was submitted with (docs/PROVIDERS.md, "Cost estimates"), kept beside the actual
-- cost so the estimate's error can be measured; and an index for learning from an organisation's history.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "estimate" JSONB,
ADD COLUMN     "estimated_micros" BIGINT;

-- CreateIndex
CREATE INDEX "jobs_org_id_provider_hardware_profile_status_finished_at_idx" ON "jobs"("org_id", "provider", "hardware_profile", "status", "finished_at");
