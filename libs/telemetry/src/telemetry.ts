import { createNoopMeter, metrics, trace, type Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface TelemetryOptions {
  /** service.name on every metric and span, e.g. "weft-gateway". */
  readonly serviceName: string;
  /** Port of the Prometheus scrape endpoint (`/metrics`), separate from the app's own port. */
  readonly metricsPort: number;
  readonly metricsHost: string;
  /** false: a no-op meter and no /metrics endpoint (default true). */
  readonly metrics?: boolean;
  /** OTLP/HTTP collector URL for traces; without it spans are still created (trace ids reach
   * the logs) but not exported. */
  readonly otlpTracesUrl?: string;
  /**
   * Share of traces recorded and exported when `otlpTracesUrl` is set (0..1, default 0.01);
   * a request that arrives with a sampled parent is always recorded. Without a collector
   * nothing is recorded (spans only carry ids for the logs).
   */
  readonly traceSampleRatio?: number;
}

export interface Telemetry {
  readonly meter: Meter;
  readonly metricsPort: number;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK: metrics scraped by Prometheus at /metrics on their own
 * HTTP server, traces exported over OTLP when a collector is configured. Call before the app
 * creates its HTTP server so the http instrumentation can patch it.
 */
export async function startTelemetry(opts: TelemetryOptions): Promise<Telemetry> {
  const metricsOn = opts.metrics ?? true;
  const exporter = metricsOn
    ? new PrometheusExporter({ host: opts.metricsHost, port: opts.metricsPort, endpoint: '/metrics', preventServerStart: true })
    : undefined;
  const spanProcessors: SpanProcessor[] = opts.otlpTracesUrl
    ? [new BatchSpanProcessor(new OTLPTraceExporter({ url: opts.otlpTracesUrl }))]
    : [];
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    autoDetectResources: false,
    metricReaders: exporter ? [exporter] : [],
    spanProcessors,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(opts.otlpTracesUrl ? (opts.traceSampleRatio ?? 0.01) : 0) }),
    instrumentations: [new HttpInstrumentation()],
  });
  sdk.start();
  await exporter?.startServer();
  return {
    meter: metricsOn ? metrics.getMeter(opts.serviceName) : createNoopMeter(),
    metricsPort: opts.metricsPort,
    shutdown: async () => {
      await exporter?.stopServer();
      await sdk.shutdown();
    },
  };
}

/** The active trace and span ids, for structured logs to carry. */
export function currentTraceIds(): { trace_id: string; span_id: string } | Record<string, never> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}
