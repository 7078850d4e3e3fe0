import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, register, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration, type Metric } from 'prom-client';
import { SERVICE_NAME } from './service.tokens';

/**
 * The service's Prometheus registry (`/metrics`): prom-client's default one, so libraries below this one
 * (the queue's processors) count into it too. Metrics are created once by name, so every part of the
 * service that counts the same thing shares one series; labels never carry tenant ids or secrets.
 */
@Injectable()
export class Metrics {
  readonly registry = register;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(@Inject(SERVICE_NAME) service: string) {
    this.registry.setDefaultLabels({ service });
    if (!this.registry.getSingleMetric('process_cpu_seconds_total')) collectDefaultMetrics({ register: this.registry });
    this.httpDuration = this.histogram({
      name: 'ct_http_request_duration_seconds',
      help: 'HTTP requests by route template and status: rate, errors and latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
  }

  counter<L extends string>(cfg: CounterConfiguration<L>): Counter<L> {
    return this.once(cfg.name, () => new Counter(cfg)) as Counter<L>;
  }

  gauge<L extends string>(cfg: GaugeConfiguration<L>): Gauge<L> {
    return this.once(cfg.name, () => new Gauge(cfg)) as Gauge<L>;
  }

  histogram<L extends string>(cfg: HistogramConfiguration<L>): Histogram<L> {
    return this.once(cfg.name, () => new Histogram(cfg)) as Histogram<L>;
  }

  private once(name: string, make: () => Metric): Metric {
    return this.registry.getSingleMetric(name) ?? make();
  }
}

/** `ct_provider_calls_total` and `ct_provider_call_duration_seconds` by provider, operation and outcome (the registry's call hook). */
export function providerCallMetrics(metrics: Metrics): (provider: string, operation: string, outcome: 'ok' | 'error', seconds: number) => void {
  const calls = metrics.counter({ name: 'ct_provider_calls_total', help: 'Provider plugin calls by provider, operation and outcome', labelNames: ['provider', 'operation', 'outcome'] });
  const duration = metrics.histogram({ name: 'ct_provider_call_duration_seconds', help: 'Provider plugin call latency', labelNames: ['provider', 'operation'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120] });
  return (provider, operation, outcome, seconds) => {
    calls.inc({ provider, operation, outcome });
    duration.observe({ provider, operation }, seconds);
  };
}
