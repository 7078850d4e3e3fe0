-- The job list's keyset pagination has an index for each supported filter (docs/DESIGN.md "The job list"):
-- the row comparison (created_at, id) < (…) is then an index condition at any depth.
CREATE INDEX "jobs_org_id_status_created_at_id_idx" ON "jobs"("org_id", "status", "created_at" DESC, "id" DESC);
CREATE INDEX "jobs_org_id_provider_created_at_id_idx" ON "jobs"("org_id", "provider", "created_at" DESC, "id" DESC);
CREATE INDEX "jobs_org_id_status_provider_created_at_id_idx" ON "jobs"("org_id", "status", "provider", "created_at" DESC, "id" DESC);
