import type { ClaimedJob } from '@ct/contracts';
import type { S3Client } from '@aws-sdk/client-s3';
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { GatewayClient } from './gateway-client.service';
import { JobReporter, type LeaseProblem } from './job-reporter.service';
import { createWorkspace, trainerEnv, writeJobFiles, type JobWorkspace } from './job-workspace.service';
import { ProgressState, parseProgressLine } from './progress-parser.util';
import { createS3Client, downloadObject, uploadOutputs } from './s3-transfer.service';
import { extractZipSafely } from './safe-extract.service';
import { TrainerProcess, type TrainerExit } from './trainer-process.service';

/** Why a job stopped before its trainer finished on its own. */
export type AbortReason = 'cancel' | 'shutdown' | LeaseProblem;
export type JobOutcome = 'completed' | 'failed' | 'cancelled' | 'lost' | 'unauthorized';

export interface JobRunnerDeps {
  gateway: GatewayClient;
  logger: Logger;
  workDir: string;
  trainerArgv: string[];
  trainerBaseEnv: Record<string, string>;
  cancelGraceMs: number;
  logBatchMs: number;
  keepJobDir: boolean;
  /** bytes above which an output goes up as a multipart upload, and the part size */
  multipart?: { thresholdBytes: number; partBytes: number };
  s3Factory?: (grant: ClaimedJob['storage']) => S3Client;
}

/** Runs one claimed job: workspace, package, trainer, logs/progress, outputs, final report. */
export class JobRunner {
  private abortReason: AbortReason | null = null;
  private trainer: TrainerProcess | null = null;
  private stopping: Promise<unknown> | null = null;
  private readonly abortCtl = new AbortController();
  private readonly reporter: JobReporter;
  private readonly log: Logger;
  private readonly s3: S3Client;

  constructor(
    readonly job: ClaimedJob,
    private readonly deps: JobRunnerDeps,
  ) {
    this.log = deps.logger.child({ jobId: job.jobId, fence: job.fence });
    this.s3 = (deps.s3Factory ?? createS3Client)(job.storage);
    this.reporter = new JobReporter({
      gateway: deps.gateway,
      logger: this.log,
      jobId: job.jobId,
      fence: job.fence,
      logBatchMs: deps.logBatchMs,
      onLeaseProblem: (problem, err) => {
        this.log.warn({ err: err.message }, problem === 'lost' ? 'lease lost: another worker owns this job now' : 'worker token rejected');
        this.abort(problem);
      },
    });
  }

  /** Stops the job (idempotent): the trainer gets SIGTERM, then SIGKILL after the grace period. */
  abort(reason: AbortReason): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.abortCtl.abort();
    if (reason === 'lost' || reason === 'unauthorized') this.reporter.silence();
    if (this.trainer) this.stopping = this.trainer.stop(this.deps.cancelGraceMs);
  }

  async run(): Promise<JobOutcome> {
    this.log.info({ name: this.job.name }, 'job claimed');
    let ws: JobWorkspace | null = null;
    try {
      ws = await createWorkspace(this.deps.workDir, this.job.jobId);
      await this.prepare(ws);
      if (this.abortReason) return await this.finishAborted(null);
      const exit = await this.runTrainer(ws);
      if (this.abortReason) return await this.finishAborted(exit);
      return await this.finish(ws, exit);
    } catch (err) {
      if (this.abortReason) return await this.finishAborted(null);
      return await this.failBeforeTrainer(err);
    } finally {
      if (ws && !this.deps.keepJobDir) await rm(ws.jobDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async prepare(ws: JobWorkspace): Promise<void> {
    const { packageBucket, packageKey } = this.job.storage;
    if (packageKey) {
      this.reporter.log('system', `downloading dataset package ${packageBucket}/${packageKey}`);
      await downloadObject(this.s3, packageBucket, packageKey, ws.packageFile, this.abortCtl.signal);
      if (this.abortReason) return;
      const { files, bytes } = await extractZipSafely(ws.packageFile, ws.dataDir);
      await rm(ws.packageFile, { force: true });
      this.reporter.log('system', `extracted ${files} files (${bytes} bytes) into the data directory`);
    }
    await writeJobFiles(ws, this.job);
  }

  private async runTrainer(ws: JobWorkspace): Promise<TrainerExit> {
    const progress = new ProgressState();
    this.reporter.log('system', `starting trainer: ${this.deps.trainerArgv.join(' ')}`);
    this.trainer = await TrainerProcess.start({
      argv: this.deps.trainerArgv,
      cwd: ws.jobDir,
      env: trainerEnv(this.deps.trainerBaseEnv, this.job.jobId, ws),
      onLine: (stream, line) => {
        const event = stream === 'stdout' ? parseProgressLine(line) : null;
        if (!event) return this.reporter.log(stream, line);
        if (event.kind === 'checkpoint') this.reporter.log('system', `checkpoint saved: ${event.path}`);
        this.reporter.updateProgress(progress.apply(event));
      },
    });
    // An abort that arrived while the trainer was being spawned must still stop it.
    if (this.abortReason) this.stopping = this.trainer.stop(this.deps.cancelGraceMs);
    this.log.info({ pid: this.trainer.pid }, 'trainer started');
    await this.reporter.report({ kind: 'started' }).catch((err: Error) => this.log.warn({ err: err.message }, 'could not report start'));
    const exit = await this.trainer.exited;
    await this.stopping;
    return exit;
  }

  private async finish(ws: JobWorkspace, exit: TrainerExit): Promise<JobOutcome> {
    this.reporter.log('system', `trainer exited with code ${exit.exitCode}${exit.signal ? ` (${exit.signal})` : ''}`);
    let uploadError: string | null = null;
    if (this.abortReason) return this.finishAborted(exit);
    try {
      const { files, bytes } = await uploadOutputs(this.s3, this.job.storage, ws.outputDir, (key, size) => this.log.debug({ key, size }, 'uploaded'), this.deps.multipart);
      this.reporter.log('system', `uploaded ${files} output files (${bytes} bytes)`);
    } catch (err) {
      uploadError = `uploading outputs failed: ${(err as Error).message}`;
      this.reporter.log('system', uploadError);
    }
    if (this.abortReason) return this.finishAborted(exit);
    await this.reporter.drain();
    const ok = exit.exitCode === 0 && uploadError === null;
    const message = ok ? undefined : this.failureMessage(uploadError ?? `trainer exited with code ${exit.exitCode}`);
    await this.reporter.report({ kind: ok ? 'completed' : 'failed', exitCode: exit.exitCode, message });
    this.log.info({ exitCode: exit.exitCode, ok }, 'job finished');
    return ok ? 'completed' : 'failed';
  }

  private failureMessage(headline: string): string {
    const tail = this.reporter.tailText();
    return tail ? `${headline}; last output:\n${tail}` : headline;
  }

  private async failBeforeTrainer(err: unknown): Promise<JobOutcome> {
    const message = `job setup failed: ${(err as Error).message}`;
    this.log.error({ err: (err as Error).message }, 'job setup failed');
    this.reporter.log('system', message);
    try {
      await this.reporter.drain();
      await this.reporter.report({ kind: 'failed', exitCode: null, message });
    } catch (reportErr) {
      this.log.error({ err: (reportErr as Error).message }, 'could not report the failure');
    }
    return this.abortReason === 'lost' ? 'lost' : this.abortReason === 'unauthorized' ? 'unauthorized' : 'failed';
  }

  private async finishAborted(exit: TrainerExit | null): Promise<JobOutcome> {
    await this.stopping;
    const reason = this.abortReason;
    if (reason === 'lost' || reason === 'unauthorized') return reason;
    const what = reason === 'cancel' ? 'job cancelled by the server' : 'worker agent shutting down';
    this.reporter.log('system', `${what}; trainer stopped${exit ? ` (exit code ${exit.exitCode})` : ''}`);
    await this.reporter.drain().catch(() => undefined);
    if (reason === 'cancel') return 'cancelled';
    // The server has no other way to learn promptly that this run is over; the lease need not expire.
    await this.reporter
      .report({ kind: 'failed', exitCode: exit?.exitCode ?? null, message: this.failureMessage('interrupted: the worker agent was shut down while the job was running') }, 3)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'could not report the interruption'));
    return 'failed';
  }
}
