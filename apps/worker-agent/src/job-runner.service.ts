import type { ClaimedJob } from '@ct/contracts';
import type { S3Client } from '@aws-sdk/client-s3';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayClient } from './gateway-client.service';
import { JobReporter, type LeaseProblem } from './job-reporter.service';
import { createWorkspace, keepWorkspace, keptPath, trainerEnv, writeJobFiles, type JobWorkspace } from './job-workspace.service';
import { OutageError, OutageWindow } from './outage-window.util';
import { ProgressState, parseProgressLine } from './progress-parser.util';
import type { RetryOptions, RetryPolicy } from './retry.util';
import { describeS3Error } from './s3-errors';
import { createS3Client, downloadWithRetry, uploadOutputs } from './s3-transfer.service';
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
  retry: RetryPolicy;
  /** bytes above which an output goes up as a multipart upload, and the part size */
  multipart?: { thresholdBytes: number; partBytes: number };
  s3Factory?: (grant: ClaimedJob['storage']) => S3Client;
}

/** Runs one claimed job: workspace, package, trainer, logs/progress, outputs, final report. */
export class JobRunner {
  /**
   * The storage endpoint, when the job ended because storage stayed unreachable for the whole outage
   * window: the agent claims nothing more until it answers (docs/WORKER-PROTOCOL.md, "Outages").
   */
  storageDown: string | null = null;
  private abortReason: AbortReason | null = null;
  private trainer: TrainerProcess | null = null;
  private stopping: Promise<unknown> | null = null;
  /** the trainer exited by itself, so output/ holds a finished run's results */
  private trainerFinished = false;
  /** every output reached storage and the server heard how the job ended */
  private delivered = false;
  private readonly abortCtl = new AbortController();
  private readonly reporter: JobReporter;
  private readonly log: Logger;
  private readonly s3: S3Client;

  constructor(
    readonly job: ClaimedJob,
    private readonly deps: JobRunnerDeps,
  ) {
    this.log = deps.logger.child({ jobId: job.jobId, fence: job.fence });
    this.s3 = deps.s3Factory ? deps.s3Factory(job.storage) : createS3Client(job.storage, this.log);
    this.reporter = new JobReporter({
      gateway: deps.gateway,
      logger: this.log,
      jobId: job.jobId,
      fence: job.fence,
      logBatchMs: deps.logBatchMs,
      retry: deps.retry,
      signal: this.abortCtl.signal,
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
      if (ws) await this.disposeWorkspace(ws);
    }
  }

  private async prepare(ws: JobWorkspace): Promise<void> {
    const { packageBucket, packageKey } = this.job.storage;
    if (packageKey) {
      this.reporter.log('system', `downloading dataset package ${packageBucket}/${packageKey}`);
      await downloadWithRetry(this.s3, packageBucket, packageKey, ws.packageFile, this.storageRetry('downloading the dataset package'));
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
    this.trainerFinished = this.abortReason === null;
    await this.stopping;
    return exit;
  }

  private async finish(ws: JobWorkspace, exit: TrainerExit): Promise<JobOutcome> {
    this.reporter.log('system', `trainer exited with code ${exit.exitCode}${exit.signal ? ` (${exit.signal})` : ''}`);
    const uploadError = await this.upload(ws);
    if (this.abortReason) return this.finishAborted(exit);
    const ok = exit.exitCode === 0 && uploadError === null;
    const headline = uploadError ?? `trainer exited with code ${exit.exitCode}`;
    const message = ok ? undefined : this.failureMessage(headline);
    // The final delivery can still find the lease gone (the gateway came back after handing the job on);
    // the silenced reporter then sends nothing, so nothing was reported.
    const reported = (await this.endReport({ kind: ok ? 'completed' : 'failed', exitCode: exit.exitCode, message })) && !this.leaseGone();
    this.delivered = uploadError === null && reported;
    this.log.info({ exitCode: exit.exitCode, ok, reported }, 'job finished');
    if (this.abortReason === 'lost' || this.abortReason === 'unauthorized') return this.abortReason;
    return ok && reported ? 'completed' : 'failed';
  }

  /** Null when every output is in storage; else why not (the outputs then stay on this machine). */
  private async upload(ws: JobWorkspace): Promise<string | null> {
    try {
      const retry = this.storageRetry('uploading outputs');
      const onFile = (key: string, size: number): void => void this.log.debug({ key, size }, 'uploaded');
      const { files, bytes } = await uploadOutputs(this.s3, this.job.storage, ws.outputDir, { multipart: this.deps.multipart, retry, onFile });
      this.reporter.log('system', `uploaded ${files} output files (${bytes} bytes)`);
      return null;
    } catch (err) {
      if (err instanceof OutageError) this.storageDown = this.job.storage.endpoint;
      const where = join(keptPath(this.deps.workDir, this.job.jobId, this.job.fence), 'output');
      const message = `uploading outputs failed: ${describeS3Error(err)}; the outputs are kept on ${hostname()} in ${where}`;
      if (!this.abortReason) this.reporter.log('system', message);
      return message;
    }
  }

  /** The terminal report, after every log line; false when the gateway could not be told. */
  private async endReport(body: { kind: 'completed' | 'failed'; exitCode: number | null; message?: string | undefined }): Promise<boolean> {
    try {
      await this.reporter.drain();
      await this.reporter.report(body);
      return true;
    } catch (err) {
      this.log.error({ err: (err as Error).message, kind: body.kind }, 'could not report how the job ended');
      return false;
    }
  }

  private leaseGone(): boolean {
    return this.abortReason === 'lost' || this.abortReason === 'unauthorized';
  }

  private failureMessage(headline: string): string {
    const tail = this.reporter.tailText();
    return tail ? `${headline}; last output:\n${tail}` : headline;
  }

  private async failBeforeTrainer(err: unknown): Promise<JobOutcome> {
    if (err instanceof OutageError) this.storageDown = this.job.storage.endpoint;
    const message = `job setup failed: ${describeS3Error(err)}`;
    this.log.error({ err: message }, 'job setup failed');
    this.reporter.log('system', message);
    await this.endReport({ kind: 'failed', exitCode: null, message });
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

  /** Storage calls of this job: retried within their own outage window, stopped by an abort. */
  private storageRetry(doing: string): RetryOptions {
    return {
      baseDelayMs: this.deps.retry.baseDelayMs,
      maxDelayMs: this.deps.retry.maxDelayMs,
      outage: new OutageWindow(this.deps.retry.windowMs),
      signal: this.abortCtl.signal,
      onRetry: (err, attempt, delayMs) => {
        this.log.warn({ err: describeS3Error(err), attempt, delayMs }, `${doing} failed, retrying`);
        // Tell the job's log once per streak, so a slow job explains itself without flooding its log.
        if (attempt === 1) this.reporter.log('system', `${doing} failed (${describeS3Error(err)}); retrying for up to ${Math.round(this.deps.retry.windowMs / 1000)} s`);
      },
    };
  }

  /**
   * Deletes the job directory, except when it holds a finished run's outputs that did not all reach
   * storage or whose end the server never heard of: those are moved aside and kept, never deleted.
   */
  private async disposeWorkspace(ws: JobWorkspace): Promise<void> {
    const atRisk = this.trainerFinished && !this.delivered && this.abortReason !== 'cancel';
    if (!atRisk) {
      if (!this.deps.keepJobDir) await rm(ws.jobDir, { recursive: true, force: true }).catch(() => undefined);
      return;
    }
    const dest = keptPath(this.deps.workDir, this.job.jobId, this.job.fence);
    const where = (await keepWorkspace(ws, dest)) ? dest : ws.jobDir;
    this.log.error({ outputs: join(where, 'output') }, 'outputs kept on disk: not all of them reached storage, or the job end was not reported; upload them by hand or delete the directory');
  }
}
