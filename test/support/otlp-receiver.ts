// A minimal OTLP/HTTP (JSON) trace receiver for tests: collects the spans services export.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  readonly service: string;
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttr {
  key: string;
  value: OtlpValue;
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttr[] };
    scopeSpans?: { spans?: { name: string; traceId: string; spanId: string; parentSpanId?: string; attributes?: OtlpAttr[] }[] }[];
  }[];
}

const attrValue = (v: OtlpValue): string | number | boolean => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue ?? ''));

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private readonly server: Server;
  url = '';

  private constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        try {
          this.accept(JSON.parse(body) as OtlpRequest);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
    });
  }

  /** Listens on a free loopback port; `url` is the endpoint to give WEFT_OTLP_TRACES_URL. */
  static async start(): Promise<OtlpReceiver> {
    const rec = new OtlpReceiver();
    await new Promise<void>((resolve) => rec.server.listen(0, '127.0.0.1', resolve));
    rec.url = `http://127.0.0.1:${(rec.server.address() as AddressInfo).port}/v1/traces`;
    return rec;
  }

  private accept(r: OtlpRequest): void {
    for (const rs of r.resourceSpans ?? []) {
      const service = String(attrValue(rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value ?? {}));
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const attributes = Object.fromEntries((s.attributes ?? []).map((a) => [a.key, attrValue(a.value)]));
          this.spans.push({ service, name: s.name, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', attributes });
        }
      }
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
