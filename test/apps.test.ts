import { TEST_KAFKA_BROKER } from './support/kafka';
import { freePort } from './support/ports';
import { spawnNode, waitForHttp } from './support/process';

// Each service as a user runs it: a real process from dist/ (built by `pretest`).
const APPS: { name: string; entry: string; env: Record<string, string> }[] = [
  { name: 'gateway', entry: 'dist/apps/gateway/src/main.js', env: {} },
  { name: 'node', entry: 'dist/apps/node/src/main.js', env: { WEFT_DATA_DIR: '/tmp/weft-apps-test-node' } },
  { name: 'meta', entry: 'dist/apps/meta/src/main.js', env: {} },
  {
    name: 'materializer',
    entry: 'dist/apps/materializer/src/main.js',
    env: { WEFT_DATA_DIR: '/tmp/weft-apps-test-materializer', WEFT_KAFKA_BROKERS: TEST_KAFKA_BROKER, WEFT_KAFKA_TOPIC_PREFIX: `weft-apps-test-${process.pid}` },
  },
  {
    name: 'cdc',
    entry: 'dist/apps/cdc/src/main.js',
    env: { WEFT_DATA_DIR: '/tmp/weft-apps-test-cdc', WEFT_KAFKA_BROKERS: TEST_KAFKA_BROKER, WEFT_KAFKA_TOPIC_PREFIX: `weft-apps-test-${process.pid}` },
  },
];

describe.each(APPS)('weft-$name', ({ name, entry, env }) => {
  it('answers /health and /metrics, then stops cleanly on SIGTERM', async () => {
    const http = await freePort();
    const metrics = await freePort();
    const p = spawnNode(entry, {
      ...env,
      WEFT_HTTP_PORT: String(http),
      WEFT_METRICS_PORT: String(metrics),
      WEFT_PG_PORT: String(await freePort()),
      WEFT_RAFT_PORT: String(await freePort()),
      WEFT_KV_PORT: String(await freePort()),
    });
    try {
      const health = JSON.parse(await waitForHttp(`http://127.0.0.1:${http}/health`)) as Record<string, unknown>;
      expect(health).toMatchObject({ status: 'ok', service: `weft-${name}`, pid: p.child.pid });

      const scrape = await waitForHttp(`http://127.0.0.1:${metrics}/metrics`);
      expect(scrape).toContain(`target_info{service_name="weft-${name}"`);
      // The /health request above was traced by the http instrumentation and measured.
      expect(scrape).toMatch(/http_server_request_duration/);

      // Logs are JSON lines from pino.
      const firstLine = p.stdout().split('\n').find((l) => l.includes('started'));
      expect(firstLine).toBeDefined();
      expect(JSON.parse(firstLine as string)).toMatchObject({ service: `weft-${name}`, level: 'info' });
    } finally {
      p.child.kill('SIGTERM');
    }
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toContain(`weft-${name} stopped`);
  });

  it('exits 2 with one line naming a bad variable and its expected form', async () => {
    const p = spawnNode(entry, { ...env, WEFT_HTTP_PORT: 'not-a-port' });
    expect(await p.exited).toBe(2);
    expect(p.stderr().trim()).toBe(`weft-${name}: WEFT_HTTP_PORT="not-a-port" is invalid: expected a TCP port number 0-65535`);
  });
});

// The CDC service's snapshot settings (decision 0037): a value the config loader refuses exits 2
// naming the variable and its form; a combination that cannot work exits 1 naming the fix.
describe('weft-cdc snapshot settings', () => {
  const cdc = APPS.find((a) => a.name === 'cdc') as (typeof APPS)[number];
  it.each([
    [{ WEFT_CDC_SNAPSHOT_MODE: 'always' }, 2, 'weft-cdc: WEFT_CDC_SNAPSHOT_MODE="always" is invalid: expected one of never, initial, when_needed'],
    [{ WEFT_CDC_SNAPSHOT_MODE: 'initial', WEFT_CDC_SNAPSHOT_FROM: 'nohostport' }, 2, 'weft-cdc: WEFT_CDC_SNAPSHOT_FROM="nohostport" is invalid: expected a comma-separated list of host:port, or empty'],
    [{ WEFT_CDC_SNAPSHOT_START_MARGIN_MS: '-1' }, 2, 'weft-cdc: WEFT_CDC_SNAPSHOT_START_MARGIN_MS="-1" is invalid: expected an integer 0-3600000'],
    [{ WEFT_CDC_SNAPSHOT_CHUNK_EVENTS: '0' }, 2, 'weft-cdc: WEFT_CDC_SNAPSHOT_CHUNK_EVENTS="0" is invalid: expected an integer 1-10000000'],
    [{ WEFT_CDC_FAILPOINT: 'snapshot' }, 2, 'weft-cdc: WEFT_CDC_FAILPOINT="snapshot" is invalid: expected empty (off) or one of snapshot-staged, snapshot-chunk, snapshot-committed, consumer-crash (tests only)'],
    [
      { WEFT_CDC_SNAPSHOT_MODE: 'when_needed' }, 1,
      'weft-cdc: failed to start: WEFT_CDC_SNAPSHOT_MODE=when_needed needs WEFT_CDC_SNAPSHOT_FROM: the HTTP host:port of one or more nodes (they serve GET /shards/<id>/snapshot)',
    ],
    [
      { WEFT_CDC_SNAPSHOT_FROM: '127.0.0.1:1' }, 1,
      'weft-cdc: failed to start: WEFT_CDC_SNAPSHOT_FROM is set but WEFT_CDC_SNAPSHOT_MODE=never never takes a snapshot; set WEFT_CDC_SNAPSHOT_MODE=initial or when_needed, or unset WEFT_CDC_SNAPSHOT_FROM',
    ],
  ])('%j exits %i with one line naming the fix', async (bad, code, line) => {
    const p = spawnNode(cdc.entry, { ...cdc.env, WEFT_HTTP_PORT: String(await freePort()), WEFT_METRICS_PORT: String(await freePort()), ...bad });
    expect(await p.exited).toBe(code);
    expect(p.stderr().trim()).toBe(line);
  });
});

describe('weft CLI', () => {
  it('rejects an unknown flag with exit 2 and says what is wrong', async () => {
    const p = spawnNode('bin/weft.js', {}, ['demo', '--frobnicate']);
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain("Unknown option '--frobnicate'");
  });

  it('rejects a bad --port value', async () => {
    const p = spawnNode('bin/weft.js', {}, ['demo', '--port', 'x']);
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain('--port "x": expected a TCP port 1-65484');
  });
});
