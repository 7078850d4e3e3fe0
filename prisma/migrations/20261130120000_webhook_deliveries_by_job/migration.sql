-- The poller asks "when did this job last get a verified webhook?" before every safety-net poll.
-- CreateIndex
CREATE INDEX "webhook_deliveries_job_id_received_at_idx" ON "webhook_deliveries"("job_id", "received_at");
