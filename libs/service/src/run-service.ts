import 'reflect-metadata';
import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as NestPinoLogger, LoggerModule } from 'nestjs-pino';
import { ConfigError, fraction, loadEnv, oneOf, optionalUrl, port, text, type EnvSpec, type EnvValues } from '@weft/config';
import type { Meter } from '@opentelemetry/api';
import { createLogger, startTelemetry } from '@weft/telemetry';
import { HealthController, SERVICE_NAME } from './health.controller';

/** Variables every Weft service reads; each app adds its own. */
export function commonEnv(defaults: { httpPort: number; metricsPort: number }) {
  return {
    WEFT_BIND_HOST: text('127.0.0.1'),
    WEFT_HTTP_PORT: port(defaults.httpPort),
    WEFT_METRICS_PORT: port(defaults.metricsPort),
    /** off: record no metrics and serve no /metrics (to measure what metrics cost). */
    WEFT_METRICS: oneOf(['on', 'off'] as const, 'on'),
    WEFT_LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
    WEFT_OTLP_TRACES_URL: optionalUrl(),
    /** Share of requests traced when WEFT_OTLP_TRACES_URL is set (0..1). */
    WEFT_TRACE_SAMPLE_RATIO: fraction(0.01),
  };
}

export type CommonEnv = EnvValues<ReturnType<typeof commonEnv>>;

export interface ServiceDefinition<S extends EnvSpec> {
  /** Short name: "gateway", "node", "meta". */
  readonly name: string;
  readonly defaults: { httpPort: number; metricsPort: number };
  /** App-specific variables, validated together with the common ones before anything starts. */
  readonly env: S;
  /**
   * The app's root module, given the validated configuration and the meter its metrics are
   * created on (exported at /metrics). To feed /health/ready it provides and exports
   * READINESS_PROBE.
   */
  readonly module: (config: CommonEnv & EnvValues<S>, runtime: ServiceRuntime) => Type<unknown> | DynamicModule;
}

/** What the boot sequence hands an app's module besides its configuration. */
export interface ServiceRuntime {
  readonly meter: Meter;
}

/**
 * Boots a Weft service: validates configuration (a bad variable exits 2 with one line naming
 * it), starts telemetry, serves /health on WEFT_HTTP_PORT, and on SIGTERM/SIGINT closes the app
 * and exits 0.
 */
export async function runService<S extends EnvSpec>(def: ServiceDefinition<S>): Promise<void> {
  let config: CommonEnv & EnvValues<S>;
  try {
    config = loadEnv({ ...commonEnv(def.defaults), ...def.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`weft-${def.name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const serviceName = `weft-${def.name}`;
  const logger = createLogger(serviceName, config.WEFT_LOG_LEVEL);
  const telemetry = await startTelemetry({
    serviceName,
    metricsHost: config.WEFT_BIND_HOST,
    metricsPort: config.WEFT_METRICS_PORT,
    metrics: config.WEFT_METRICS === 'on',
    otlpTracesUrl: config.WEFT_OTLP_TRACES_URL || undefined,
    traceSampleRatio: config.WEFT_TRACE_SAMPLE_RATIO,
  });

  @Module({
    imports: [LoggerModule.forRoot({ pinoHttp: { logger, autoLogging: false } }), def.module(config, { meter: telemetry.meter })],
    controllers: [HealthController],
    providers: [{ provide: SERVICE_NAME, useValue: serviceName }],
  })
  class ServiceRootModule {}

  const app = await NestFactory.create(ServiceRootModule, { bufferLogs: true });
  app.useLogger(app.get(NestPinoLogger));
  await app.listen(config.WEFT_HTTP_PORT, config.WEFT_BIND_HOST);
  logger.info(
    { http: `${config.WEFT_BIND_HOST}:${config.WEFT_HTTP_PORT}`, metrics: config.WEFT_METRICS === 'on' ? `${config.WEFT_BIND_HOST}:${telemetry.metricsPort}/metrics` : 'off' },
    `${serviceName} started`,
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${serviceName} stopping`);
    try {
      await app.close();
      await telemetry.shutdown();
      logger.info(`${serviceName} stopped`);
      process.exit(0);
    } catch (err) {
      logger.error({ err }, `${serviceName} failed to stop cleanly`);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/** Entry-point helper: runs the service and turns a start-up failure into one line and exit 1. */
export function main<S extends EnvSpec>(def: ServiceDefinition<S>): void {
  runService(def).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`weft-${def.name}: failed to start: ${message}\n`);
    process.exit(1);
  });
}
