import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { JobStatus } from '@ct/job-domain';
import type { Job } from './generated/prisma/client';
import type { PrismaClient } from './prisma';

/** This process's identity in claims: readable in the job row (host, pid) and unique per process. */
export const PROCESS_ID = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

export interface ClaimOptions {
  orgId: string;
  jobId: string;
  /** the claim holds only while the job is in one of these states */
  statuses: readonly JobStatus[];
  /** how long a claim survives its holder's death; renewed every third of it */
  ttlMs: number;
  /** distinguishes concurrent steps of one process (e.g. the BullMQ item id) */
  step: string;
}

/**
 * A step's claim on a job row: `step_owner`/`step_until`, taken with a compare-and-set before any side
 * effect. While one replica holds it, another replica given the same job (a re-drive, a stalled queue item
 * taken over) finds it taken and does nothing; when the holder dies, its claim expires after `ttlMs`. The
 * holder renews it while it works and learns through `signal` when it lost it (the job was cancelled, or
 * another replica took over after a stall), so it stops before doing anything more.
 */
export class StepClaim {
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private ended = false;

  /** `job`: the row as the claim found it (no second read needed). */
  private constructor(private readonly prisma: PrismaClient, readonly opts: ClaimOptions, readonly owner: string, readonly job: Job) {}

  /**
   * The claim, or null when another live holder has the job or it is no longer in `statuses`. Expiry is
   * judged on the replicas' clocks (NTP-close; a claim lives 15 s), so the row comes back in the same write.
   */
  static async take(prisma: PrismaClient, opts: ClaimOptions): Promise<StepClaim | null> {
    const owner = StepClaim.ownerOf(opts.step);
    const now = new Date();
    const [job] = await prisma.job.updateManyAndReturn({
      where: {
        id: opts.jobId, orgId: opts.orgId, status: { in: [...opts.statuses] },
        OR: [{ stepOwner: null }, { stepUntil: { lt: now } }, { stepOwner: owner }],
      },
      data: { stepOwner: owner, stepUntil: new Date(now.getTime() + opts.ttlMs) },
    });
    if (!job) return null;
    return StepClaim.adopt(prisma, opts, job);
  }

  /** The owner a step of this process writes into `step_owner` (for a transition that takes the claim itself). */
  static ownerOf(step: string): string {
    return `${PROCESS_ID}:${step}`;
  }

  /** A claim a transition already wrote (`patch: { stepOwner: ownerOf(step), stepUntil }`), held from now on. */
  static adopt(prisma: PrismaClient, opts: ClaimOptions, job: Job): StepClaim {
    const claim = new StepClaim(prisma, opts, StepClaim.ownerOf(opts.step), job);
    claim.timer = setInterval(() => void claim.renew(), Math.max(200, Math.floor(opts.ttlMs / 3)));
    claim.timer.unref();
    return claim;
  }

  /** Aborted once the claim is lost; pass it to long operations (uploads, streams). */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get lost(): boolean {
    return this.abort.signal.aborted;
  }

  /** Extends the claim; false (and `signal` aborted) when it was lost meanwhile. */
  async renew(): Promise<boolean> {
    if (this.lost) return false;
    try {
      const n = await this.prisma.$executeRaw`
        UPDATE jobs SET step_until = ${new Date(Date.now() + this.opts.ttlMs)}
        WHERE id = ${this.opts.jobId} AND step_owner = ${this.owner} AND status = ANY(${[...this.opts.statuses]}::text[])`;
      if (n === 1) return true;
      this.lose('the job changed state or another replica took over its step');
      return false;
    } catch {
      // The database is briefly unreachable: keep working; the claim only expires after its ttl.
      return true;
    }
  }

  /** Writes `data` to the job only while the claim holds (one compare-and-set); false when it was lost. */
  async whileHeld(data: Record<string, unknown>): Promise<boolean> {
    const { count } = await this.prisma.job.updateMany({ where: { id: this.opts.jobId, stepOwner: this.owner }, data });
    if (count === 0) this.lose('the claim was lost');
    return count === 1;
  }

  /** The step's last write cleared the claim itself (a transition with `claim`): nothing left to release. */
  markEnded(): void {
    this.ended = true;
    this.stop();
  }

  /** Gives the claim back (the step ended without moving the job). */
  async release(): Promise<void> {
    this.stop();
    if (this.ended) return;
    await this.prisma.job
      .updateMany({ where: { id: this.opts.jobId, stepOwner: this.owner }, data: { stepOwner: null, stepUntil: null } })
      .catch(() => undefined);
  }

  /** Stops renewing (after a transition that cleared the claim itself). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private lose(why: string): void {
    this.stop();
    if (!this.lost) this.abort.abort(new ClaimLostError(this.opts.jobId, why));
  }
}

export class ClaimLostError extends Error {
  constructor(readonly jobId: string, why: string) {
    super(`step claim on job ${jobId} lost: ${why}`);
    this.name = 'ClaimLostError';
  }
}
