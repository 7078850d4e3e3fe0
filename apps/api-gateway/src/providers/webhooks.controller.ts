import { Controller, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { webhookPayloadSchema, webhookProviderParamSchema, webhookQuerySchema, webhookReceiptSchema, type WebhookReceipt } from '@ct/contracts';
import { enqueueInTx, JobRepository, JobTracker, PrismaClient, WebhookDeliveryRepository, type Job } from '@ct/persistence';
import { ProviderRegistry, toProviderEvent, type ProviderPlugin, type WebhookFailure } from '@ct/providers-core';
import { Metrics, Public } from '@ct/service';
import type { Request, Response } from 'express';
import { ApiAnswers, ApiRouteProblems } from '../openapi/api-docs.decorators';
import { parameterSchema, queryParameters, schemaOf } from '../openapi/zod-openapi';

/** The largest webhook body any provider may send; each provider bounds its own below it. */
export const MAX_WEBHOOK_BODY_BYTES = 16 * 1024 * 1024;
/** Rejected deliveries an organisation keeps per ten minutes; past that they are only counted. */
const REJECTIONS_KEPT = 100;
const STATUS_OF_FAILURE: Record<WebhookFailure, number> = { missing_headers: 401, bad_signature: 401, stale_timestamp: 401, malformed: 400, replayed: 200, secret_unavailable: 503 };
/** The codes of the problems this controller answers with, by status (for the OpenAPI document). */
const WEBHOOK_PROBLEMS: Record<number, string[]> = { 404: ['unknown_job'], 413: ['webhook_too_large'], 409: ['webhook_wrong_run'] };
for (const [reason, status] of Object.entries(STATUS_OF_FAILURE)) if (status >= 400) (WEBHOOK_PROBLEMS[status] ??= []).push(`webhook_${reason}`);

/**
 * Providers' webhooks. No login: the provider's signature is the authentication, checked before anything
 * is written. A delivery for no job of this deployment is answered and counted, never stored; rejections
 * of a known job are kept (bounded, pruned) so a broken setup can be diagnosed; a repeated id changes nothing.
 */
@ApiTags('webhooks')
@Public()
@Controller('api/webhooks')
export class WebhooksController {
  private readonly deliveriesCounter;

  constructor(
    private readonly registry: ProviderRegistry,
    private readonly prisma: PrismaClient,
    private readonly jobs: JobRepository,
    private readonly tracker: JobTracker,
    private readonly deliveries: WebhookDeliveryRepository,
    metrics: Metrics,
  ) {
    this.deliveriesCounter = metrics.counter({ name: 'ct_webhook_deliveries_total', help: 'Webhook deliveries by provider and outcome', labelNames: ['provider', 'outcome'] });
  }

  // Documented by hand rather than validated by ZodParam/ZodQuery: whatever is wrong with the address, the
  // answer is the same 404 `unknown_job` (and is counted), never a 400 telling a prober what would pass.
  @Post(':provider')
  @ApiOperation({ summary: "A provider's signed webhook about one job (the signature is the authentication)" })
  @ApiParam({ name: 'provider', required: true, ...parameterSchema(webhookProviderParamSchema) })
  @ApiQuery(queryParameters(webhookQuerySchema)[0] ?? { name: 'job' })
  @ApiBody({ required: true, schema: schemaOf(webhookPayloadSchema, 'input') })
  @ApiAnswers({ status: 200, description: 'accepted, or a repeated delivery (`accepted: false`)', json: webhookReceiptSchema })
  @ApiRouteProblems(WEBHOOK_PROBLEMS)
  async receive(@Param('provider') provider: string, @Query() query: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const jobId = webhookQuerySchema.safeParse(query).data?.job;
    const def = webhookProviderParamSchema.safeParse(provider).success ? this.registry.definitions().find((d) => d.name === provider && !d.comingSoon) : undefined;
    const job = def && jobId ? await this.prisma.job.findUnique({ where: { id: jobId } }) : null;
    if (!def || !job || job.provider !== def.name) return this.answer(res, provider, 404, 'unknown_job', 'The webhook names no job of this deployment.');
    const plugin = await this.registry.forOrg(job.orgId, job.provider);
    if (!plugin.webhooks) return this.answer(res, provider, 404, 'unknown_job', 'This provider sends no webhooks.');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (body.length > plugin.webhooks.maxBodyBytes) return this.reject(res, job, 413, 'webhook_too_large', `The body is larger than ${plugin.webhooks.maxBodyBytes} bytes.`);
    const guard = { seen: async (id: string) => !(await this.deliveries.record({ provider, webhookId: id, jobId: job.id, orgId: job.orgId, accepted: true, reason: 'verified' })) };
    const verdict = await plugin.webhooks.verify({ headers: req.headers, rawBody: body }, guard);
    if (!verdict.ok) {
      if (verdict.reason === 'replayed') return this.answer(res, provider, 200, 'replayed', 'already processed', { accepted: false, reason: 'already processed' });
      await this.pollSoon(job);
      return this.reject(res, job, STATUS_OF_FAILURE[verdict.reason], `webhook_${verdict.reason}`, verdict.detail);
    }
    if (verdict.status.externalId !== job.externalId) {
      await this.deliveries.forget(provider, verdict.webhookId);
      return this.reject(res, job, 409, 'webhook_wrong_run', 'The signed run is not the one this job runs.');
    }
    await this.apply(job, plugin, verdict.status, verdict.webhookId);
    this.deliveriesCounter.inc({ provider, outcome: 'accepted' });
    const receipt: WebhookReceipt = { accepted: true };
    res.status(200).json(receipt);
  }

  /**
   * New log lines first (only those past what the job has, so a retried delivery adds none), then the report
   * through the one code path every report takes. A delivery answered 200 is applied.
   */
  private async apply(job: Job, plugin: ProviderPlugin, st: Parameters<typeof toProviderEvent>[1], webhookId: string): Promise<void> {
    try {
      await this.jobs.appendProviderLogLines(job.orgId, job.id, st.logLines ?? []);
      await this.tracker.applyReport(toProviderEvent(job, st, 'webhook'));
    } catch (err) {
      // Nothing was applied: forget the delivery so that the provider's retry (it retries on a 5xx) is processed.
      await this.deliveries.forget(plugin.name, webhookId).catch(() => undefined);
      throw err;
    }
  }

  /** A refused delivery may have carried news (a rotated secret, a clock off): ask the provider about the job soon. */
  private async pollSoon(job: Job): Promise<void> {
    const minute = Math.floor(Date.now() / 60_000);
    await this.prisma.$transaction((tx) => enqueueInTx(tx, 'poll', { v: 1, jobId: job.id, orgId: job.orgId, n: 0, immediate: true, once: true }, `refused-${minute}`)).catch(() => undefined);
  }

  private async reject(res: Response, job: Job, status: number, code: string, detail: string): Promise<void> {
    if ((await this.deliveries.recentRejections(job.orgId, 10 * 60_000)) < REJECTIONS_KEPT) {
      await this.deliveries.record({ provider: job.provider, webhookId: null, jobId: job.id, orgId: job.orgId, accepted: false, reason: `${code}: ${detail}`.slice(0, 500) });
    }
    return this.answer(res, job.provider, status, code, detail);
  }

  private answer(res: Response, provider: string, status: number, code: string, detail: string, body?: object): void {
    // Labels only from the catalog: a path an attacker makes up must not become a new series.
    this.deliveriesCounter.inc({ provider: this.registry.names().includes(provider) ? provider : 'unknown', outcome: code });
    if (body) return void res.status(status).json(body);
    res.status(status).type('application/problem+json').send(JSON.stringify({ type: `urn:ct:error:${code}`, title: code.replace(/_/g, ' '), status, code, detail }));
  }
}
