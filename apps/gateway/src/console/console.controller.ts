import { Controller, Get, Header, HttpCode, NotFoundException, Param, Post } from '@nestjs/common';
import { CONSOLE_PAGE } from './console-page';

/** What the console reads and does; implemented by the gateway service. */
export abstract class ConsoleSource {
  abstract consoleSnapshot(): Record<string, unknown>;
  abstract cancelBackend(pid: number): boolean;
}

/**
 * The web console on the gateway's HTTP port: GET /console (one static page, no framework),
 * GET /console/api/snapshot (the JSON the page polls), POST /console/api/sessions/:pid/cancel.
 * No authentication of its own: the HTTP port binds to WEFT_BIND_HOST (loopback by default) and
 * must not be exposed beyond operators.
 */
@Controller('console')
export class ConsoleController {
  constructor(private readonly source: ConsoleSource) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  page(): string {
    return CONSOLE_PAGE;
  }

  @Get('api/snapshot')
  @Header('cache-control', 'no-store')
  snapshot(): Record<string, unknown> {
    return this.source.consoleSnapshot();
  }

  @Post('api/sessions/:pid/cancel')
  @HttpCode(200)
  cancel(@Param('pid') pid: string): { cancelled: true } {
    if (!/^\d{1,10}$/.test(pid) || !this.source.cancelBackend(Number(pid))) throw new NotFoundException(`no session with pid ${pid}`);
    return { cancelled: true };
  }
}
