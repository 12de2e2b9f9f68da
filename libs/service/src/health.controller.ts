import { Controller, Get, Inject, Optional, ServiceUnavailableException } from '@nestjs/common';
import { recentErrors, type RecentError } from '@weft/telemetry';
import { READINESS_PROBE, type ReadinessProbe } from './readiness';

export const SERVICE_NAME = Symbol('SERVICE_NAME');

export interface HealthReport {
  readonly status: 'ok';
  readonly service: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
}

export interface ReadyReport {
  readonly status: 'ready' | 'not-ready';
  readonly service: string;
  readonly reasons: readonly string[];
}

export interface StatusReport {
  readonly service: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly ready: boolean;
  readonly reasons: readonly string[];
  readonly details: Record<string, unknown>;
  readonly recentErrors: readonly RecentError[];
}

/**
 * GET /health and /health/live: liveness (the event loop turns). GET /health/ready: readiness
 * from the app's ReadinessProbe, 200 when ready and 503 with the reasons when not. GET /status:
 * readiness, the app's details and the last warnings/errors logged (for `weft status`).
 */
@Controller()
export class HealthController {
  private readonly startedAt = Date.now();

  constructor(
    @Inject(SERVICE_NAME) private readonly service: string,
    @Optional() @Inject(READINESS_PROBE) private readonly probe?: ReadinessProbe,
  ) {}

  @Get('health')
  health(): HealthReport {
    return {
      status: 'ok',
      service: this.service,
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }

  @Get('health/live')
  live(): HealthReport {
    return this.health();
  }

  @Get('health/ready')
  async ready(): Promise<ReadyReport> {
    const r = this.probe ? await this.probe.readiness() : { ready: true, reasons: [] };
    const body: ReadyReport = { status: r.ready ? 'ready' : 'not-ready', service: this.service, reasons: r.reasons };
    if (!r.ready) throw new ServiceUnavailableException(body);
    return body;
  }

  @Get('status')
  async status(): Promise<StatusReport> {
    const r = this.probe ? await this.probe.readiness() : { ready: true, reasons: [] };
    return {
      service: this.service,
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ready: r.ready,
      reasons: r.reasons,
      details: (await this.probe?.details?.()) ?? {},
      recentErrors: recentErrors(),
    };
  }
}
