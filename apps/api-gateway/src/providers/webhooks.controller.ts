import { Controller, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { enqueueInTx, JobRepository } from '@ct/persistence';
import { logLinesOf, toProviderEvent, type PredictionLike } from '@ct/providers-replicate';
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { Public } from '../common/auth';
import { ReplicateService } from './replicate.service';

const STATUS_OF_FAILURE: Record<string, number> = { missing_headers: 401, bad_signature: 401, stale_timestamp: 401, malformed: 400 };

/**
 * Replicate's platform webhooks. No login: the Standard-Webhooks signature is the authentication. Every
 * delivery is recorded (accepted or why not); a repeated webhook-id changes nothing.
 */
@ApiTags('webhooks')
@Public()
@Controller('api/webhooks')
export class WebhooksController {
  constructor(private readonly replicate: ReplicateService, private readonly jobs: JobRepository) {}

  @Post('replicate')
  @HttpCode(200)
  async receive(@Query('job') jobId: string | undefined, @Req() req: Request, @Res() res: Response): Promise<void> {
    const reject = async (status: number, code: string, detail: string, orgId?: string) => {
      await this.replicate.deliveries.record({ provider: 'replicate', webhookId: null, jobId: jobId ?? null, orgId: orgId ?? null, accepted: false, reason: `${code}: ${detail}`.slice(0, 500) });
      res.status(status).type('application/problem+json').send(JSON.stringify({ type: `urn:ct:error:${code}`, title: code.replace(/_/g, ' '), status, code, detail }));
    };
    const job = jobId && /^[A-Za-z0-9-]{1,100}$/.test(jobId) ? await this.replicate.prisma.job.findUnique({ where: { id: jobId } }) : null;
    if (!job || job.provider !== 'replicate') return reject(404, 'unknown_job', 'The webhook names no Replicate job of this deployment.');
    const guard = { seen: async (id: string) => !(await this.replicate.deliveries.record({ provider: 'replicate', webhookId: id, jobId: job.id, orgId: job.orgId, accepted: true, reason: 'verified' })) };
    let verdict;
    try {
      verdict = await this.replicate.webhookVerifier(job.orgId).verify<PredictionLike>({ headers: req.headers, rawBody: Buffer.isBuffer(req.body) ? req.body : '' }, guard);
    } catch {
      return reject(503, 'webhook_secret_unavailable', 'The signing secret could not be fetched from Replicate; the delivery will be retried.', job.orgId);
    }
    if (!verdict.ok) {
      if (verdict.reason === 'replayed') {
        res.status(200).json({ accepted: false, reason: 'already processed' });
        return;
      }
      return reject(STATUS_OF_FAILURE[verdict.reason] ?? 401, `webhook_${verdict.reason}`, verdict.detail, job.orgId);
    }
    if (verdict.event.id !== job.externalId) {
      await this.replicate.deliveries.forget('replicate', verdict.webhookId);
      return reject(409, 'webhook_wrong_prediction', 'The signed prediction is not the one this job runs.', job.orgId);
    }
    const { plugin } = await this.replicate.forOrg(job.orgId);
    const st = plugin.statusFromWebhook(verdict.event);
    // New log lines and the report for the poller commit together: one transaction per delivery.
    try {
      await this.replicate.prisma.$transaction(async (tx) => {
        await this.jobs.appendProviderLogLines(job.orgId, job.id, logLinesOf(st), tx);
        await enqueueInTx(tx, 'provider-events', toProviderEvent(job, st, 'webhook'), randomUUID());
      });
    } catch (err) {
      // Nothing was applied: forget the delivery so that Replicate's retry (it retries on a 5xx) is processed.
      await this.replicate.deliveries.forget('replicate', verdict.webhookId).catch(() => undefined);
      throw err;
    }
    res.status(200).json({ accepted: true });
  }
}
