/**
 * Fuzz: random and mutated client byte streams against a live server. Bounded by case count
 * and wall time. Afterwards the process must be alive, no internal (non-PgError) failure may
 * have been recorded, and a fresh client must still be served. Replay a failure with
 * PGWIRE_FUZZ_SEED=<seed printed on failure>.
 */
import { connect } from 'node:net';
import { Client } from 'pg';
import { serialize } from 'pg-protocol';
import { startServer, type TestServer } from './test-support/harness';

const CASES = 2000;
const BUDGET_MS = 15_000;
const PARALLEL = 25;
const SEED = Number(process.env.PGWIRE_FUZZ_SEED ?? Date.now() % 2 ** 31);

/** xorshift32: deterministic per seed so a failing run can be replayed. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const startupTrust = serialize.startup({ user: 'alice', database: 'weft' });

const VALID_BODIES: Buffer[][] = [
  [serialize.query('select 1; generate 3; select types')],
  [serialize.query('begin'), serialize.query('fail'), serialize.query('rollback')],
  [
    serialize.parse({ name: 's', text: 'echo $1 $2', types: [23, 25] }),
    serialize.describe({ type: 'S', name: 's' }),
    serialize.bind({ statement: 's', portal: 'p', values: ['7', 'x'] }),
    serialize.execute({ portal: 'p', rows: 1 }),
    serialize.close({ type: 'P', name: 'p' }),
    serialize.sync(),
  ],
  [serialize.parse({ text: 'generate 5' }), serialize.bind({ binary: true }), serialize.execute({ rows: 2 }), serialize.flush(), serialize.sync()],
  [serialize.query('copy in'), serialize.copyData(Buffer.from('1\ta\n')), serialize.copyDone()],
  [serialize.query('copy in'), serialize.copyFail('nope')],
  [serialize.query('copy out 3'), serialize.query('notice')],
  [serialize.parse({ text: 'select types' }), serialize.bind({ binary: true }), serialize.describe({ type: 'P' }), serialize.execute(), serialize.sync()],
  [serialize.end()],
];

const TYPES = [...'QPBDECHSXdcfpF'].map((c) => c.charCodeAt(0));

function randomBytes(r: () => number, max: number): Buffer {
  const n = Math.floor(r() * max);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function mutate(r: () => number, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = Math.floor(r() * b.length);
    switch (Math.floor(r() * 6)) {
      case 0:
        b[at] ^= 1 << Math.floor(r() * 8);
        break;
      case 1:
        b[at] = Math.floor(r() * 256);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), randomBytes(r, 8), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(r() * 4))]);
        break;
      case 4:
        b = b.subarray(0, at);
        break;
      case 5: {
        // Overwrite something that looks like a length word with an interesting value.
        const vals = [0, 3, 4, 5, -1, 0x7fffffff, 65536, 1 << 24];
        if (at + 4 <= b.length) b.writeInt32BE(vals[Math.floor(r() * vals.length)], at);
        break;
      }
    }
  }
  return b;
}

function typedGarbage(r: () => number): Buffer {
  const parts: Buffer[] = [];
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const body = randomBytes(r, 40);
    const h = Buffer.alloc(5);
    h[0] = TYPES[Math.floor(r() * TYPES.length)];
    h.writeInt32BE(body.length + 4, 1);
    parts.push(h, body);
  }
  return Buffer.concat(parts);
}

function makeCase(r: () => number): Buffer {
  const valid = Buffer.concat(VALID_BODIES[Math.floor(r() * VALID_BODIES.length)]);
  switch (Math.floor(r() * 6)) {
    case 0:
      return randomBytes(r, 300);
    case 1:
      return mutate(r, Buffer.concat([startupTrust, valid]));
    case 2:
      return Buffer.concat([startupTrust, mutate(r, valid)]);
    case 3:
      return Buffer.concat([startupTrust, typedGarbage(r)]);
    case 4:
      return Buffer.concat([serialize.requestSsl(), mutate(r, startupTrust), valid]);
    default:
      return Buffer.concat([mutate(r, serialize.startup({ user: 'sam', database: 'weft' })), randomBytes(r, 64)]);
  }
}

/** Send the bytes in random chunks, wait briefly for answers, then hang up. */
function runCase(port: number, r: () => number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const done = (): void => {
      s.destroy();
      resolve();
    };
    s.on('error', done);
    s.on('close', done);
    s.on('data', () => undefined);
    s.on('connect', () => {
      let off = 0;
      while (off < bytes.length) {
        const n = 1 + Math.floor(r() * Math.max(1, bytes.length / 3));
        s.write(bytes.subarray(off, off + n));
        off += n;
      }
      setTimeout(done, 5 + Math.floor(r() * 30));
    });
  });
}

describe('fuzz', () => {
  let srv: TestServer;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);

  beforeAll(async () => {
    srv = await startServer({ maxMessageLength: 64 * 1024, authTimeoutMs: 2000 });
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await srv.close();
  });

  it(`survives ${CASES} random/mutated streams (seed from PGWIRE_FUZZ_SEED)`, async () => {
    const r = rng(SEED);
    const deadline = Date.now() + BUDGET_MS;
    let ran = 0;
    while (ran < CASES && Date.now() < deadline) {
      const wave: Promise<void>[] = [];
      for (let i = 0; i < PARALLEL && ran < CASES; i++, ran++) wave.push(runCase(srv.port, r, makeCase(r)));
      await Promise.all(wave);
    }
    // Let the server finish tearing down the sessions.
    for (let i = 0; i < 100 && srv.server.connectionCount > 0; i++) await new Promise((res) => setTimeout(res, 20));

    const ctx = `seed=${SEED} cases=${ran}`;
    expect({ ctx, uncaught }).toEqual({ ctx, uncaught: [] });
    const unexpected = srv.internalErrors.filter((e) => !(e instanceof Error && e.message === 'engine bug'));
    expect({ ctx, unexpected: unexpected.map(String) }).toEqual({ ctx, unexpected: [] });
    expect(ran).toBeGreaterThan(200);

    const c = new Client({ host: '127.0.0.1', port: srv.port, user: 'sam', password: 'scram-pw', database: 'weft' });
    await c.connect();
    expect((await c.query('select 1')).rows).toEqual([{ '?column?': 1 }]);
    await c.end();
  }, 40_000);
});
