-- Spending limits (MISSION §7): limits per organisation and provider over a day, week or month in the
-- organisation's time zone; each job reserves its estimate at admission, released when it ends; a run past
-- its maximum runtime or a block limit is stopped.

-- AlterTable
ALTER TABLE "organizations" ADD COLUMN     "time_zone" TEXT NOT NULL DEFAULT 'UTC';

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "reserved_micros" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "max_runtime_s" INTEGER,
ADD COLUMN     "over_limit_since" TIMESTAMPTZ(3),
ADD COLUMN     "limit_warnings" JSONB;

-- CreateTable
CREATE TABLE "cost_limits" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "amount_micros" BIGINT NOT NULL,
    "action" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cost_limits_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "runtime_limits" (
    "org_id" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "max_seconds" INTEGER NOT NULL,

    CONSTRAINT "runtime_limits_pkey" PRIMARY KEY ("org_id","provider")
);

-- CreateIndex
CREATE UNIQUE INDEX "cost_limits_org_id_provider_period_key" ON "cost_limits"("org_id", "provider", "period");

-- AddForeignKey
ALTER TABLE "cost_limits" ADD CONSTRAINT "cost_limits_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "runtime_limits" ADD CONSTRAINT "runtime_limits_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
