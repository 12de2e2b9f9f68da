/** Byte-level protocol tests: pg-protocol serializes the client side and parses the answers. */
import { serialize } from 'pg-protocol';
import { RawClient, startServer, type Msg, type TestServer } from './test-support/harness';

let srv: TestServer;
const open: RawClient[] = [];

beforeAll(async () => {
  srv = await startServer({ maxMessageLength: 64 * 1024 });
});
afterEach(() => {
  for (const c of open.splice(0)) c.end();
});
afterAll(async () => {
  await srv.close();
});

async function ready(user = 'alice'): Promise<RawClient> {
  const c = await RawClient.ready(srv.port, user);
  open.push(c);
  return c;
}

async function raw(): Promise<RawClient> {
  const c = await RawClient.open(srv.port);
  open.push(c);
  return c;
}

function frame(type: string, body: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h[0] = type.charCodeAt(0);
  h.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([h, body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

const names = (ms: Msg[]): string[] => ms.map((m) => m.name);

/** Fresh clients still get served: the server survived whatever the test threw at it. */
async function expectServerHealthy(): Promise<void> {
  const c = await ready();
  c.send(serialize.query('select 1'));
  expect(names(await c.cycle())).toEqual(['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
}

describe('startup', () => {
  it('answers SSLRequest and GSSENCRequest with N, then accepts a startup packet', async () => {
    const c = await raw();
    c.send(serialize.requestSsl());
    await new Promise((r) => setTimeout(r, 50));
    expect(c.raw.toString()).toBe('N');
    const gss = Buffer.alloc(8);
    gss.writeInt32BE(8);
    gss.writeInt32BE(80877104, 4);
    c.send(gss);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.raw.toString()).toBe('NN');
    c.startParsing();
    c.send(serialize.startup({ user: 'alice', database: 'weft' }));
    const msgs = await c.cycle();
    expect(names(msgs)).toEqual(expect.arrayContaining(['authenticationOk', 'parameterStatus', 'backendKeyData', 'readyForQuery']));
    expect(msgs[msgs.length - 1]).toMatchObject({ name: 'readyForQuery', status: 'I' });
  });

  it('negotiates down a newer minor version and reports unknown _pq_ options', async () => {
    const c = await raw();
    const body = Buffer.concat([
      int32(0x00030002),
      Buffer.from('user\0alice\0_pq_.fancy\0on\0\0'),
    ]);
    c.send(Buffer.concat([int32(body.length + 4), body]));
    await new Promise((r) => setTimeout(r, 100));
    // NegotiateProtocolVersion: 'v', len, newest minor 0, 1 option, "_pq_.fancy\0"
    expect(c.raw[0]).toBe('v'.charCodeAt(0));
    const len = c.raw.readInt32BE(1);
    expect(c.raw.readInt32BE(5)).toBe(0);
    expect(c.raw.readInt32BE(9)).toBe(1);
    expect(c.raw.subarray(13, 1 + len).toString()).toBe('_pq_.fancy\0');
    expect(c.raw[1 + len]).toBe('R'.charCodeAt(0)); // then authentication proceeds
  });

  it('rejects protocol 2.0 with 0A000 and closes', async () => {
    const c = await raw();
    c.startParsing();
    const body = Buffer.concat([int32(0x00020000), Buffer.from('user\0alice\0\0')]);
    c.send(Buffer.concat([int32(body.length + 4), body]));
    const err = await c.until((m) => m.name === 'error');
    expect(err).toMatchObject({ code: '0A000', severity: 'FATAL' });
    expect(await c.waitClosed()).toBe(true);
  });

  it('a startup packet without user is 28000', async () => {
    const c = await raw();
    c.startParsing();
    c.send(serialize.startup({ database: 'weft' }));
    expect(await c.until((m) => m.name === 'error')).toMatchObject({ code: '28000' });
    expect(await c.waitClosed()).toBe(true);
  });

  it('a wrong password gets 28P01 and the connection is closed', async () => {
    const c = await raw();
    c.startParsing();
    c.send(serialize.startup({ user: 'carol', database: 'weft' }));
    await c.until((m) => m.name === 'authenticationCleartextPassword');
    c.send(serialize.password('nope'));
    expect(await c.until((m) => m.name === 'error')).toMatchObject({ code: '28P01', severity: 'FATAL' });
    expect(await c.waitClosed()).toBe(true);
  });

  it('drops connections that never finish authentication', async () => {
    const quick = await startServer({ authTimeoutMs: 100 });
    try {
      const c = await RawClient.open(quick.port);
      open.push(c);
      expect(await c.waitClosed(2000)).toBe(true);
    } finally {
      await quick.close();
    }
  });
});

describe('simple query', () => {
  it('handles a query split into single bytes and many queries in one chunk', async () => {
    const c = await ready();
    const q = serialize.query('select 1');
    for (const byte of q) c.send(Buffer.from([byte]));
    expect(names(await c.cycle())).toEqual(['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
    c.send(Buffer.concat(Array.from({ length: 50 }, () => serialize.query('select 1'))));
    const all = await c.cycle(50);
    expect(all.filter((m) => m.name === 'dataRow')).toHaveLength(50);
  });

  it('empty query -> EmptyQueryResponse; error -> fields; Terminate closes', async () => {
    const c = await ready();
    c.send(serialize.query('  '));
    expect(names(await c.cycle())).toEqual(['emptyQuery', 'readyForQuery']);
    c.send(serialize.query('select 1; error; select 1'));
    const msgs = await c.cycle();
    // The statement after the failing one is not run.
    expect(names(msgs)).toEqual(['rowDescription', 'dataRow', 'commandComplete', 'error', 'readyForQuery']);
    expect(msgs[3]).toMatchObject({ severity: 'ERROR', code: '42601', detail: 'some detail', hint: 'some hint', position: '1' });
    c.send(serialize.end());
    expect(await c.waitClosed()).toBe(true);
  });

  it('ReadyForQuery carries I/T/E', async () => {
    const c = await ready();
    const statuses: string[] = [];
    for (const q of ['begin', 'fail', 'select 1', 'rollback']) {
      c.send(serialize.query(q));
      const msgs = await c.cycle();
      statuses.push(String(msgs[msgs.length - 1].status));
    }
    expect(statuses).toEqual(['T', 'E', 'E', 'I']);
  });
});

describe('extended query', () => {
  it('Parse/Bind/Describe/Execute with a row limit suspends and resumes the portal', async () => {
    const c = await ready();
    c.send([
      serialize.parse({ name: 's1', text: 'generate 5' }),
      serialize.describe({ type: 'S', name: 's1' }),
      serialize.bind({ statement: 's1', portal: 'p1' }),
      serialize.describe({ type: 'P', name: 'p1' }),
      serialize.execute({ portal: 'p1', rows: 2 }),
      serialize.execute({ portal: 'p1', rows: 2 }),
      serialize.execute({ portal: 'p1', rows: 2 }),
      serialize.sync(),
    ]);
    const msgs = await c.cycle();
    expect(names(msgs)).toEqual([
      'parseComplete',
      'parameterDescription',
      'rowDescription',
      'bindComplete',
      'rowDescription',
      'dataRow',
      'dataRow',
      'portalSuspended',
      'dataRow',
      'dataRow',
      'portalSuspended',
      'dataRow',
      'commandComplete',
      'readyForQuery',
    ]);
    expect(msgs.filter((m) => m.name === 'dataRow').map((m) => (m.fields as string[])[0])).toEqual(['0', '1', '2', '3', '4']);
    expect(msgs[12]).toMatchObject({ text: 'SELECT 5' });
  });

  it('pipelines many statements before one Sync, answering in order', async () => {
    const c = await ready();
    const batch: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      batch.push(serialize.parse({ text: 'echo $1', types: [25] }));
      batch.push(serialize.bind({ values: [`v${i}`] }));
      batch.push(serialize.execute());
    }
    batch.push(serialize.sync());
    c.send(batch);
    const msgs = await c.cycle();
    const rows = msgs.filter((m) => m.name === 'dataRow').map((m) => (m.fields as string[])[0]);
    expect(rows).toEqual(Array.from({ length: 100 }, (_, i) => `v${i}`));
    expect(msgs.filter((m) => m.name === 'readyForQuery')).toHaveLength(1);
  });

  it('an error inside a batch skips to Sync and the session stays usable', async () => {
    const c = await ready();
    c.send([
      serialize.parse({ text: 'select 1' }),
      serialize.bind({ statement: 'missing' }),
      serialize.execute(),
      serialize.parse({ name: 'never', text: 'select 1' }),
      serialize.sync(),
      serialize.parse({ name: 'never', text: 'select 1' }),
      serialize.bind({ statement: 'never' }),
      serialize.execute(),
      serialize.sync(),
    ]);
    const msgs = await c.cycle(2);
    expect(names(msgs)).toEqual([
      'parseComplete',
      'error',
      'readyForQuery',
      'parseComplete',
      'bindComplete',
      'dataRow',
      'commandComplete',
      'readyForQuery',
    ]);
    expect(msgs[1]).toMatchObject({ code: '26000' });
  });

  it('reports statement/portal errors with their SQLSTATE', async () => {
    const c = await ready();
    const cases: [Buffer[], string][] = [
      [[serialize.parse({ text: 'bad syntax' })], '42601'],
      [[serialize.parse({ name: 'dup', text: 'select 1' }), serialize.parse({ name: 'dup', text: 'select 1' })], '42P05'],
      [[serialize.execute({ portal: 'nope' })], '34000'],
      [[serialize.parse({ text: 'echo $1' }), serialize.bind({ values: [] })], '08P01'],
      [[serialize.parse({ text: 'echo $1', types: [23] }), serialize.bind({ values: ['x'] })], '22P02'],
      [[serialize.parse({ text: 'select 1' }), serialize.bind(), serialize.execute(), serialize.execute({ portal: '' })], ''],
    ];
    for (const [msgs, code] of cases) {
      c.send([...msgs, serialize.sync()]);
      const out = await c.cycle();
      const err = out.find((m) => m.name === 'error');
      if (code) expect(err).toMatchObject({ code });
      else expect(err).toBeUndefined();
    }
    c.send(serialize.query('select 1'));
    expect(names(await c.cycle())).toContain('dataRow');
  });

  it('Close and NoData; closing a statement closes its portals', async () => {
    const c = await ready();
    c.send([
      serialize.parse({ name: 'b', text: 'begin' }),
      serialize.describe({ type: 'S', name: 'b' }),
      serialize.parse({ name: 'g', text: 'generate 10' }),
      serialize.bind({ statement: 'g', portal: 'gp' }),
      serialize.execute({ portal: 'gp', rows: 1 }),
      serialize.close({ type: 'S', name: 'g' }),
      serialize.close({ type: 'P', name: 'not-there' }),
      serialize.execute({ portal: 'gp', rows: 1 }),
      serialize.sync(),
    ]);
    const msgs = await c.cycle();
    expect(names(msgs)).toEqual([
      'parseComplete',
      'parameterDescription',
      'noData',
      'parseComplete',
      'bindComplete',
      'dataRow',
      'portalSuspended',
      'closeComplete',
      'closeComplete',
      'error',
      'readyForQuery',
    ]);
    expect(msgs[9]).toMatchObject({ code: '34000' });
  });

  it('binary parameters and binary results', async () => {
    const c = await ready();
    // Bind: portal '', statement '', 1 format (binary), 1 param int4 42, 1 result format (binary)
    const bind = frame(
      'B',
      Buffer.concat([Buffer.from('\0\0'), Buffer.from([0, 1, 0, 1, 0, 1]), int32(4), int32(42), Buffer.from([0, 1, 0, 1])]),
    );
    c.send([serialize.parse({ text: 'echo $1', types: [23] }), bind, serialize.execute(), serialize.sync()]);
    const msgs = await c.cycle();
    const row = msgs.find((m) => m.name === 'dataRow');
    expect(names(msgs)).toEqual(['parseComplete', 'bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
    // pg-protocol hands back binary cells as strings of the raw bytes.
    expect(Buffer.from((row?.fields as string[])[0], 'binary').readInt32BE(0)).toBe(42);
  });
});

describe('COPY', () => {
  it('COPY FROM STDIN streams CopyData to the handler', async () => {
    const c = await ready();
    c.send(serialize.query('copy in'));
    const resp = await c.until((m) => m.name === 'copyInResponse');
    expect(resp).toMatchObject({ binary: false, columnTypes: [0, 0] });
    const data = Buffer.from('1\tone\n2\ttwo\n');
    // Split mid-line across messages and TCP writes.
    c.send(serialize.copyData(data.subarray(0, 5)));
    c.send([serialize.copyData(data.subarray(5)), serialize.copyDone()]);
    const msgs = await c.cycle();
    expect(names(msgs)).toEqual(['copyInResponse', 'commandComplete', 'readyForQuery']);
    expect(msgs[1]).toMatchObject({ text: 'COPY 2' });
    expect(Buffer.concat(srv.stats.copied).toString()).toBe(data.toString());
  });

  it('CopyFail aborts with 57014 and the session continues; stray CopyData is dropped', async () => {
    const c = await ready();
    c.send(serialize.query('copy in'));
    await c.until((m) => m.name === 'copyInResponse');
    c.send([serialize.copyData(Buffer.from('x\n')), serialize.copyFail('client gave up')]);
    const msgs = await c.cycle();
    expect(msgs.find((m) => m.name === 'error')).toMatchObject({ code: '57014', message: 'COPY from stdin failed: client gave up' });
    c.send([serialize.copyData(Buffer.from('late\n')), serialize.copyDone(), serialize.query('select 1')]);
    expect(names(await c.cycle())).toEqual(['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
  });

  it('COPY TO STDOUT streams CopyData then CopyDone', async () => {
    const c = await ready();
    c.send(serialize.query('copy out 3'));
    const msgs = await c.cycle();
    expect(names(msgs)).toEqual(['copyOutResponse', 'copyData', 'copyData', 'copyData', 'copyDone', 'commandComplete', 'readyForQuery']);
    expect((msgs[1].chunk as Buffer).toString()).toBe('0\trow 0\n');
    expect(msgs[5]).toMatchObject({ text: 'COPY 3' });
  });

  it('COPY in the extended protocol', async () => {
    const c = await ready();
    c.send([serialize.parse({ text: 'copy in' }), serialize.bind(), serialize.execute()]);
    await c.until((m) => m.name === 'copyInResponse');
    c.send([serialize.copyData(Buffer.from('a\n')), serialize.copyDone(), serialize.sync()]);
    const msgs = await c.cycle();
    expect(names(msgs)).toEqual(['parseComplete', 'bindComplete', 'copyInResponse', 'commandComplete', 'readyForQuery']);
  });
});

describe('cancel', () => {
  it('a raw CancelRequest with the right key aborts; a wrong secret is ignored', async () => {
    const c = await ready();
    const before = srv.stats.aborted;
    c.send(serialize.query('sleep'));
    await new Promise((r) => setTimeout(r, 50));
    const wrong = await raw();
    wrong.send(serialize.cancel(c.key.pid, c.key.secret ^ 1));
    expect(await wrong.waitClosed()).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.stats.aborted).toBe(before);
    const right = await raw();
    right.send(serialize.cancel(c.key.pid, c.key.secret));
    expect(await right.waitClosed()).toBe(true);
    const msgs = await c.cycle();
    expect(msgs.find((m) => m.name === 'error')).toMatchObject({ code: '57014' });
    expect(srv.stats.aborted).toBe(before + 1);
  });

  it('cancel stops a streaming portal between batches', async () => {
    const c = await ready();
    c.send(serialize.query('generate 100000000 async'));
    await c.until((m) => m.name === 'dataRow');
    c.socket.pause(); // stop reading: the server must notice the cancel even while blocked on drain
    const k = await raw();
    k.send(serialize.cancel(c.key.pid, c.key.secret));
    expect(await k.waitClosed()).toBe(true);
    c.socket.resume();
    const err = await c.until((m) => m.name === 'error', 10000);
    expect(err).toMatchObject({ code: '57014' });
    await c.until((m) => m.name === 'readyForQuery', 10000);
  }, 20000);
});

describe('protocol violations', () => {
  const violations: [string, () => Buffer][] = [
    ['an unknown message type', () => frame('!', Buffer.alloc(0))],
    ['a length below 4', () => Buffer.from([0x51, 0, 0, 0, 2])],
    ['a negative length', () => Buffer.from([0x51, 0xff, 0xff, 0xff, 0xf0])],
    ['an oversized message', () => Buffer.concat([Buffer.from([0x51]), int32(64 * 1024 * 1024)])],
    ['a Query without terminator', () => frame('Q', Buffer.from('select 1'))],
    ['a Bind with a truncated parameter', () => frame('B', Buffer.concat([Buffer.from('\0\0'), Buffer.from([0, 0, 0, 1]), int32(100)]))],
    ['an invalid Describe subtype', () => frame('D', Buffer.from('Xname\0'))],
    ['an invalid format code', () => frame('B', Buffer.concat([Buffer.from('\0\0'), Buffer.from([0, 1, 0, 7, 0, 0, 0, 0])]))],
    ['trailing bytes after Execute', () => frame('E', Buffer.concat([Buffer.from('\0'), int32(0), Buffer.from('junk')]))],
    ['a password message after authentication', () => frame('p', Buffer.from('pw\0'))],
  ];

  it.each(violations)('%s -> ErrorResponse 08P01 then close', async (_name, bytes) => {
    const c = await ready();
    c.send(bytes());
    const err = await c.until((m) => m.name === 'error');
    expect(err).toMatchObject({ code: '08P01', severity: 'FATAL' });
    expect(await c.waitClosed()).toBe(true);
    await expectServerHealthy();
  });

  it('a bad startup length closes the connection', async () => {
    const c = await raw();
    c.startParsing();
    c.send(int32(1_000_000));
    expect(await c.until((m) => m.name === 'error')).toMatchObject({ code: '08P01' });
    expect(await c.waitClosed()).toBe(true);
    await expectServerHealthy();
  });

  it('messages before the violation are answered first', async () => {
    const c = await ready();
    c.send([serialize.query('select 1'), frame('!', Buffer.alloc(0))]);
    const err = await c.until((m) => m.name === 'error');
    expect(err).toMatchObject({ code: '08P01' });
    expect(names(c.messages).slice(0, 4)).toEqual(['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
  });
});
