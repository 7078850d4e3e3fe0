import { z } from 'zod';
import { responseSchema } from './api-schemas';

/** What every service answers on /health (liveness) and /health/ready (readiness, @nestjs/terminus' shape). */
export const healthLiveSchema = responseSchema('HealthLive', z.object({ status: z.literal('ok'), service: z.string() }));

const indicators = z.record(z.string(), z.object({ status: z.enum(['up', 'down']), message: z.string().optional() }).catchall(z.unknown()));
export const healthReadySchema = responseSchema(
  'HealthReady',
  z.object({
    status: z.enum(['ok', 'error', 'shutting_down']),
    info: indicators.optional().describe('dependencies that answer'),
    error: indicators.optional().describe('dependencies that do not'),
    details: indicators,
    service: z.string(),
  }),
);

/** Prometheus' text exposition format. */
export const metricsTextSchema = z.string().describe('Prometheus text format');
