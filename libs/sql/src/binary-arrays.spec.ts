// Binary-format arrays end to end (issue 12): a Buffer parameter is sent by node-postgres in
// binary format, so these are the bytes pgx, pgjdbc, asyncpg and psycopg send for an array.
// Before the array codecs, `id = ANY($1)` compared the array's raw bytes and matched extra rows.
import type { QueryArrayConfig } from 'pg';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

function int8Array(values: readonly (bigint | null)[]): Buffer {
  const head = Buffer.alloc(20);
  head.writeInt32BE(1, 0);
  head.writeInt32BE(values.includes(null) ? 1 : 0, 4);
  head.writeInt32BE(20, 8); // int8
  head.writeInt32BE(values.length, 12);
  head.writeInt32BE(1, 16);
  return Buffer.concat([
    head,
    ...values.map((v) => {
      const b = Buffer.alloc(v === null ? 4 : 12);
      b.writeInt32BE(v === null ? -1 : 8, 0);
      if (v !== null) b.writeBigInt64BE(v, 4);
      return b;
    }),
  ]);
}

function textArray(values: readonly string[]): Buffer {
  const head = Buffer.alloc(20);
  head.writeInt32BE(1, 0);
  head.writeInt32BE(0, 4);
  head.writeInt32BE(25, 8); // text
  head.writeInt32BE(values.length, 12);
  head.writeInt32BE(1, 16);
  return Buffer.concat([
    head,
    ...values.map((v) => {
      const s = Buffer.from(v, 'utf8');
      const len = Buffer.alloc(4);
      len.writeInt32BE(s.length, 0);
      return Buffer.concat([len, s]);
    }),
  ]);
}

describe('binary-format array parameters and results', () => {
  let srv: SqlTestServer;
  beforeAll(async () => {
    srv = await startSqlServer({ memory: true });
    const c = await srv.client();
    await c.query('CREATE TABLE ba (id int8 PRIMARY KEY, tag text, tags text[])');
    await c.query("INSERT INTO ba SELECT g, 'n' || g, ARRAY['x' || g, 'y'] FROM generate_series(1, 300) g");
  });
  afterAll(() => srv.close());

  it('id = ANY($1) with a binary int8[] matches exactly the ids in the array', async () => {
    const c = await srv.client();
    const ids = [3n, 17n, 42n, 99n, 100n, 101n, 150n, 200n, 250n, 299n];
    const r = await c.query('SELECT id::text FROM ba WHERE id = ANY($1) ORDER BY id', [int8Array(ids)]);
    expect(r.rows.map((x: { id: string }) => x.id)).toEqual(ids.map(String));
    const none = await c.query('SELECT count(*)::int AS n FROM ba WHERE id = ANY($1)', [int8Array([])]);
    expect(none.rows).toEqual([{ n: 0 }]);
    const withNull = await c.query('SELECT count(*)::int AS n, cardinality($1::int8[]) AS card FROM ba WHERE id = ANY($1)', [int8Array([1n, null, 2n])]);
    expect(withNull.rows).toEqual([{ n: 2, card: 3 }]);
  });

  it('a binary text[] parameter is inserted and compared element by element', async () => {
    const c = await srv.client();
    await c.query('INSERT INTO ba VALUES (1000, $1, $2)', ['q', textArray(['a b', 'NULL', '{x}', 'é'])]);
    const r = await c.query('SELECT tags[1] AS a, tags[2] AS b, tags[3] AS c, tags[4] AS d, array_length(tags, 1) AS n FROM ba WHERE id = 1000');
    expect(r.rows).toEqual([{ a: 'a b', b: 'NULL', c: '{x}', d: 'é', n: 4 }]);
    const hit = await c.query('SELECT id::text FROM ba WHERE tag = ANY($1) ORDER BY id', [textArray(['n5', 'n7', 'zz'])]);
    expect(hit.rows).toEqual([{ id: '5' }, { id: '7' }]);
  });

  it('a binary array where a scalar is expected is refused, not read as bytes', async () => {
    const c = await srv.client();
    expect(await sqlstate(c.query('SELECT $1::int8[] = $2::int4[]', [int8Array([1n]), int8Array([1n])]))).toBe('42804');
  });

  it('array columns can be fetched in binary format', async () => {
    const c = await srv.client();
    const q: QueryArrayConfig & { binary: boolean } = {
      text: 'SELECT tags, ARRAY[id, 7] AS ids FROM ba WHERE id = $1',
      values: ['5'],
      rowMode: 'array',
      binary: true,
      types: { getTypeParser: () => (v: string | Buffer) => v },
    };
    const r = await c.query(q);
    // node-postgres hands a binary cell to the parser as a UTF-8 string; every byte here is ASCII.
    const [tags, ids] = (r.rows[0] as string[]).map((s) => Buffer.from(s, 'utf8'));
    expect(r.fields.map((f) => [f.dataTypeID, f.format])).toEqual([
      [1009, 'binary'],
      [1016, 'binary'],
    ]);
    expect(tags.readInt32BE(0)).toBe(1); // ndim
    expect(tags.readInt32BE(8)).toBe(25); // element type text
    expect(tags.readInt32BE(12)).toBe(2);
    expect(tags.subarray(20).toString('latin1')).toBe('\0\0\0\x02x5\0\0\0\x01y');
    expect(ids).toEqual(int8Array([5n, 7n]));
  });
});
