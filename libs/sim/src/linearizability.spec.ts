import { checkLinearizable, HistoryOp, KvInput } from './linearizability';
import { Prng } from './prng';

const put = (client: number, key: string, value: string, call: number, ret?: number): HistoryOp => ({
  client,
  input: { op: 'put', key, value },
  call,
  ret,
});
const get = (client: number, key: string, output: string | undefined, call: number, ret?: number): HistoryOp => ({
  client,
  input: { op: 'get', key },
  output,
  call,
  ret,
});
const cas = (
  client: number,
  key: string,
  expected: string | undefined,
  value: string,
  output: boolean,
  call: number,
  ret?: number,
): HistoryOp => ({ client, input: { op: 'cas', key, expected, value }, output, call, ret });

describe('checkLinearizable: known histories', () => {
  it('accepts an empty history and a sequential one', () => {
    expect(checkLinearizable([]).ok).toBe(true);
    expect(checkLinearizable([put(1, 'x', 'a', 0, 1), get(2, 'x', 'a', 2, 3), get(1, 'y', undefined, 4, 5)]).ok).toBe(
      true,
    );
  });

  it('accepts a read concurrent with a write seeing either value', () => {
    const h = [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 10), get(2, 'x', 'a', 3, 4), get(3, 'x', 'b', 5, 6)];
    expect(checkLinearizable(h).ok).toBe(true);
  });

  it('rejects a stale read', () => {
    const h = [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 3), get(2, 'x', 'a', 4, 5)];
    const r = checkLinearizable(h);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.key).toBe('x');
      expect(r.explanation).toContain('get(x) -> "a"');
    }
  });

  it('rejects a lost write', () => {
    const r = checkLinearizable([put(1, 'x', 'a', 0, 1), get(2, 'x', undefined, 2, 3)]);
    expect(r.ok).toBe(false);
  });

  it('rejects a read of a value never written', () => {
    const r = checkLinearizable([put(1, 'x', 'a', 0, 1), get(2, 'x', 'zzz', 0, 3)]);
    expect(r.ok).toBe(false);
  });

  it('rejects a value that flips back during a concurrent write (new-old inversion)', () => {
    const h = [put(1, 'x', 'a', 0, 10), get(2, 'x', 'a', 1, 2), get(3, 'x', undefined, 3, 4)];
    expect(checkLinearizable(h).ok).toBe(false);
    const ok = [put(1, 'x', 'a', 0, 10), get(2, 'x', undefined, 1, 2), get(3, 'x', 'a', 3, 4)];
    expect(checkLinearizable(ok).ok).toBe(true);
  });

  it('lets an unknown-outcome write take effect or not, but not both', () => {
    expect(checkLinearizable([put(1, 'x', 'a', 0), get(2, 'x', 'a', 5, 6)]).ok).toBe(true);
    expect(checkLinearizable([put(1, 'x', 'a', 0), get(2, 'x', undefined, 5, 6)]).ok).toBe(true);
    expect(checkLinearizable([put(1, 'x', 'a', 0), get(2, 'x', undefined, 5, 6), get(2, 'x', 'a', 7, 8)]).ok).toBe(true);
    expect(checkLinearizable([put(1, 'x', 'a', 0), get(2, 'x', 'a', 5, 6), get(2, 'x', undefined, 7, 8)]).ok).toBe(false);
    // It cannot take effect before it was called.
    expect(checkLinearizable([get(2, 'x', 'a', 0, 1), put(1, 'x', 'a', 5)]).ok).toBe(false);
  });

  it('models compare-and-set', () => {
    expect(checkLinearizable([cas(1, 'x', undefined, 'a', true, 0, 1), cas(2, 'x', undefined, 'b', false, 2, 3)]).ok).toBe(
      true,
    );
    expect(checkLinearizable([cas(1, 'x', undefined, 'a', true, 0, 1), cas(2, 'x', undefined, 'b', true, 2, 3)]).ok).toBe(
      false,
    );
    // Two concurrent CAS from the same expected value: at most one may win.
    expect(checkLinearizable([cas(1, 'x', undefined, 'a', true, 0, 5), cas(2, 'x', undefined, 'b', true, 1, 6)]).ok).toBe(
      false,
    );
    // An unknown CAS may explain a later read.
    expect(checkLinearizable([cas(1, 'x', undefined, 'a', false, 0), get(2, 'x', 'a', 3, 4)]).ok).toBe(true);
  });

  it('checks keys independently and names the bad key', () => {
    const h = [put(1, 'x', 'a', 0, 1), put(2, 'y', 'b', 0, 1), get(1, 'x', 'a', 2, 3), get(2, 'y', 'stale', 2, 3)];
    const r = checkLinearizable(h);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.key).toBe('y');
  });

  it('shrinks the explanation to a small core', () => {
    const h: HistoryOp[] = [put(1, 'x', 'a', 0, 1)];
    for (let i = 0; i < 40; i++) h.push(get(2 + (i % 3), 'x', 'a', 2 + i * 2, 3 + i * 2));
    h.push(get(9, 'x', 'never', 200, 201));
    const r = checkLinearizable(h);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.core.length).toBeLessThanOrEqual(2);
  });
});

/**
 * Generates the history of a real atomic register: each op takes effect at a random instant
 * between its call and its return, outputs are computed in that order, and some ops never
 * return (their effect may or may not have happened).
 */
function atomicRegisterHistory(rng: Prng, clients: number, opsPerClient: number, keys: string[]): HistoryOp[] {
  interface Planned {
    client: number;
    input: KvInput;
    call: number;
    lp: number | undefined;
    ret: number | undefined;
  }
  const planned: Planned[] = [];
  let unique = 0;
  for (let c = 0; c < clients; c++) {
    let t = rng.int(5);
    for (let i = 0; i < opsPerClient; i++) {
      const key = rng.pick(keys);
      const r = rng.float();
      const input: KvInput =
        r < 0.4
          ? { op: 'put', key, value: `v${unique++}` }
          : r < 0.85
            ? { op: 'get', key }
            : { op: 'cas', key, expected: rng.chance(0.5) ? undefined : `v${rng.int(unique + 1)}`, value: `v${unique++}` };
      const call = t;
      const lp = call + rng.int(20);
      const ret = lp + rng.int(20);
      const lost = rng.chance(0.05);
      // A lost op may still have taken effect (the reply was lost) — or not (the request was).
      planned.push({ client: c, input, call, lp: lost && rng.chance(0.5) ? undefined : lp, ret: lost ? undefined : ret });
      if (lost) break; // the client is stuck on it, like a crashed client process
      t = ret + rng.int(10);
    }
  }
  const order = planned.filter((p) => p.lp !== undefined).sort((a, b) => (a.lp as number) - (b.lp as number));
  const reg = new Map<string, string>();
  const outputs = new Map<Planned, string | boolean | undefined>();
  for (const p of order) {
    const inp = p.input;
    const cur = reg.get(inp.key);
    if (inp.op === 'put') reg.set(inp.key, inp.value);
    else if (inp.op === 'get') outputs.set(p, cur);
    else {
      const ok = cur === inp.expected;
      if (ok) reg.set(inp.key, inp.value);
      outputs.set(p, ok);
    }
  }
  return planned.map((p) => ({ client: p.client, input: p.input, output: outputs.get(p), call: p.call, ret: p.ret }));
}

describe('checkLinearizable: randomized', () => {
  it('accepts histories of a real atomic register and rejects them with one read corrupted', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rng = new Prng(seed);
      const h = atomicRegisterHistory(rng, 2 + rng.int(5), 10 + rng.int(40), ['a', 'b', 'c'].slice(0, 1 + rng.int(3)));
      const good = checkLinearizable(h);
      if (!good.ok) throw new Error(`seed ${seed}: false positive\n${good.explanation}`);

      const reads = h.map((op, i) => [op, i] as const).filter(([op]) => op.input.op === 'get' && op.ret !== undefined);
      if (reads.length === 0) continue;
      const [victim, idx] = rng.pick(reads);
      // Either a value nobody wrote, or one written only after the read had returned.
      const later = h.filter(
        (op) => op.input.op === 'put' && op.input.key === victim.input.key && op.call > (victim.ret as number),
      );
      const bogus = later.length > 0 && rng.chance(0.5) ? (later[0].input as { value: string }).value : 'corrupted';
      const bad = h.slice();
      bad[idx] = { ...victim, output: bogus };
      const r = checkLinearizable(bad);
      if (r.ok) throw new Error(`seed ${seed}: corrupted read of ${bogus} not caught`);
    }
  });

  it('stays fast on long, highly concurrent histories', () => {
    const rng = new Prng(42);
    const h = atomicRegisterHistory(rng, 8, 300, ['k1', 'k2', 'k3', 'k4']);
    const t0 = process.hrtime.bigint();
    expect(checkLinearizable(h).ok).toBe(true);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(ms).toBeLessThan(5000);
  });
});
