import { Controller, Get, Inject } from '@nestjs/common';

export const SERVICE_NAME = Symbol('SERVICE_NAME');

export interface HealthReport {
  readonly status: 'ok';
  readonly service: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
}

/** Liveness: answers as long as the event loop turns. Readiness arrives with real work. */
@Controller()
export class HealthController {
  private readonly startedAt = Date.now();

  constructor(@Inject(SERVICE_NAME) private readonly service: string) {}

  @Get('health')
  health(): HealthReport {
    return {
      status: 'ok',
      service: this.service,
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }
}
