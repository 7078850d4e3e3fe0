-- Consent before upload (MISSION §3): a mode per organisation (whether it applies to a provider is the
-- provider plugin's `dataLeavesInfrastructure`; for self-hosted workers the organisation's worker setting), and per job the digest of what the user
-- consented to, what the job is waiting for consent on, and until when it waits.

-- AlterTable
ALTER TABLE "organizations" ADD COLUMN     "consent_mode" TEXT NOT NULL DEFAULT 'ask',
ADD COLUMN     "consent_timeout_s" INTEGER NOT NULL DEFAULT 86400;

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "consent_digest" TEXT,
ADD COLUMN     "consent_request" JSONB,
ADD COLUMN     "consent_deadline" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "jobs_consent_deadline_idx" ON "jobs"("consent_deadline");
