-- The last log batch number stored under a lease: a batch the agent re-sends after a lost answer is stored once.
-- AlterTable
ALTER TABLE "worker_leases" ADD COLUMN     "log_seq" INTEGER NOT NULL DEFAULT 0;
