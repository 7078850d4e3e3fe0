-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "provider_attempt" JSONB,
ADD COLUMN     "provider_file_id" TEXT,
ADD COLUMN     "provider_log_lines" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "provider_settings" (
    "id" TEXT NOT NULL,
    "org_id" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "settings" JSONB NOT NULL DEFAULT '{}',
    "secret_ciphertext" TEXT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "provider_settings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" BIGSERIAL NOT NULL,
    "provider" TEXT NOT NULL,
    "webhook_id" TEXT,
    "org_id" TEXT,
    "job_id" TEXT,
    "accepted" BOOLEAN NOT NULL,
    "reason" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "provider_settings_org_id_provider_key" ON "provider_settings"("org_id", "provider");

-- CreateIndex
CREATE INDEX "webhook_deliveries_received_at_idx" ON "webhook_deliveries"("received_at");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_deliveries_provider_webhook_id_key" ON "webhook_deliveries"("provider", "webhook_id");

-- AddForeignKey
ALTER TABLE "provider_settings" ADD CONSTRAINT "provider_settings_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
