-- Scheduling (docs/DESIGN.md, "Admission"): priorities with aging and concurrency limits that gate dispatch.
-- A job holds a slot from its admission (admitted_at) until it ends; a packaged job without one waits.

-- AlterTable
ALTER TABLE "organizations" ADD COLUMN     "default_priority" INTEGER NOT NULL DEFAULT 5;

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "priority" INTEGER NOT NULL DEFAULT 5,
ADD COLUMN     "admitted_at" TIMESTAMPTZ(3),
ADD COLUMN     "waiting_reason" TEXT;

-- CreateTable
CREATE TABLE "concurrency_limits" (
    "org_id" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "max_jobs" INTEGER NOT NULL,

    CONSTRAINT "concurrency_limits_pkey" PRIMARY KEY ("org_id","provider")
);

-- CreateIndex
CREATE INDEX "jobs_provider_status_idx" ON "jobs"("provider", "status");

-- AddForeignKey
ALTER TABLE "concurrency_limits" ADD CONSTRAINT "concurrency_limits_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
