// The PL/pgSQL subset of DO blocks: what parses into a program, what is refused (0A000 naming
// the construct), and how the interpreter runs blocks, handlers and conditions against a host.
import { PgError } from '@weft/pgwire';
import { initParser } from '../parse';
import { parseDoBlock, runDoBlock, type DoHost, type DoStatement } from './do-block';
import { t } from '../types/types';
import { conditionMatches } from './conditions';

beforeAll(() => initParser());

const refusal = (body: string): { code?: string; message?: string } => {
  try {
    parseDoBlock(body);
    return {};
  } catch (e) {
    return { code: (e as PgError).code, message: (e as Error).message };
  }
};

/**
 * A host that records statements and fails the ones `fail` names with their SQLSTATE; a query
 * `answers` names returns that one-column boolean row (IF conditions).
 */
function fakeHost(fail: Record<string, string> = {}, answers: Record<string, boolean | null> = {}): DoHost & { log: string[] } {
  const log: string[] = [];
  let marks = 0;
  return {
    log,
    run: async (sql) => {
      if (fail[sql]) throw new PgError(fail[sql], `failed: ${sql}`);
      if (sql in answers) {
        log.push(`? ${sql}`);
        return { kind: 'rows', columns: [{ name: 'bool', type: t('bool') }], rows: [[answers[sql]]] };
      }
      log.push(sql);
      return { kind: 'count', rowCount: 1 };
    },
    columnsOf: () => undefined,
    columnTypesOf: () => undefined,
    savepoint: async () => {
      log.push(`savepoint ${++marks}`);
      return marks;
    },
    rollbackTo: async (mark) => {
      log.push(`rollback to ${String(mark)}`);
    },
    notice: (severity, message) => log.push(`${severity}: ${message}`),
  };
}

const body = (text: string): readonly DoStatement[] => parseDoBlock(text).body;

describe('parseDoBlock', () => {
  it('turns a guarded CREATE TYPE into a block with a duplicate_object handler', () => {
    expect(body(` BEGIN CREATE TYPE "s" AS ENUM('a','b'); EXCEPTION WHEN duplicate_object THEN null; END `)).toEqual([
      { kind: 'block', body: [{ kind: 'sql', sql: `CREATE TYPE "s" AS ENUM('a','b')`, line: 1 }], handlers: [{ conditions: ['42710'], body: [] }] },
    ]);
  });

  it('reads SQLSTATE conditions, OR lists, class names and OTHERS', () => {
    const [block] = body(`BEGIN NULL; EXCEPTION WHEN SQLSTATE '22P02' OR unique_violation THEN NULL; WHEN integrity_constraint_violation THEN NULL; WHEN others THEN NULL; END`);
    expect(block.kind === 'block' && block.handlers.map((h) => h.conditions)).toEqual([['22P02', '23505'], ['23000'], ['others']]);
  });

  it('reads IF / ELSIF / ELSE with their SQL conditions, PERFORM, RAISE and RETURN', () => {
    // A body without handlers is the function's own block: its statements come back directly.
    expect(body(`BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'x') THEN PERFORM 1; ELSIF 1 = 2 THEN RETURN; ELSE RAISE NOTICE 'n%%'; END IF; END`)).toEqual([
      {
        kind: 'if',
        branches: [
          { cond: `NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'x')`, body: [{ kind: 'perform', sql: 'SELECT 1', line: 1 }] },
          { cond: '1 = 2', body: [{ kind: 'return' }] },
        ],
        otherwise: [{ kind: 'raise', level: 'notice', message: 'n%%', params: [], code: 'P0001' }],
      },
    ]);
  });

  it('takes RAISE EXCEPTION ... USING ERRCODE as the error code', () => {
    expect(body(`BEGIN RAISE EXCEPTION 'bad' USING ERRCODE = '22012'; END`)).toEqual([{ kind: 'raise', level: 'error', message: 'bad', params: [], code: '22012' }]);
  });

  it('refuses what is outside the subset with 0A000 naming the construct', () => {
    expect(refusal('DECLARE s text; BEGIN GET DIAGNOSTICS s = PG_CONTEXT; END').message).toBe('PL/pgSQL construct not supported in DO blocks: GET DIAGNOSTICS item PG_CONTEXT');
    expect(refusal('BEGIN DECLARE x int; BEGIN NULL; END; END')).toMatchObject({ code: '0A000', message: 'PL/pgSQL construct not supported in DO blocks: DECLARE in a nested block' });
    expect(refusal('DECLARE n int; BEGIN FOREACH n SLICE 1 IN ARRAY ARRAY[1] LOOP NULL; END LOOP; END').message).toBe('PL/pgSQL construct not supported in DO blocks: FOREACH ... SLICE');
    expect(refusal('DECLARE c CURSOR FOR SELECT 1; BEGIN OPEN c; END').code).toBe('0A000');
  });

  it('reads CASE (simple and searched), EXECUTE ... INTO and GET [STACKED] DIAGNOSTICS', () => {
    const p = parseDoBlock(`DECLARE n int; s text;
      BEGIN
        CASE n WHEN 1, 2 THEN s := 'a'; ELSE s := 'b'; END CASE;
        CASE WHEN n > 1 THEN NULL; END CASE;
        EXECUTE 'SELECT 1' INTO STRICT n USING s;
        GET DIAGNOSTICS n = ROW_COUNT;
      EXCEPTION WHEN others THEN GET STACKED DIAGNOSTICS s = MESSAGE_TEXT, s = CONSTRAINT_NAME;
      END`);
    const [block] = p.body;
    if (block.kind !== 'block') throw new Error('expected a block');
    expect(block.body.map((x) => x.kind)).toEqual(['case', 'case', 'execute', 'diagnostics']);
    expect(block.body[0]).toMatchObject({ subject: { expr: 'n' }, whens: [{ body: [{ kind: 'assign', target: 's' }] }], otherwise: [{ kind: 'assign' }] });
    const simple = block.body[0];
    expect(simple.kind === 'case' ? simple.whens[0].cond : '').toMatch(/^"__Case__Variable_\d+__" IN \(1, 2\)$/);
    expect(block.body[1]).toMatchObject({ subject: undefined, whens: [{ cond: 'n > 1', body: [] }], otherwise: undefined });
    expect(block.body[2]).toMatchObject({ query: "'SELECT 1'", params: ['s'], into: { targets: ['n'], strict: true } });
    expect(block.body[3]).toEqual({ kind: 'diagnostics', stacked: false, items: [{ item: 'ROW_COUNT', target: 'n' }] });
    expect(block.handlers[0].body).toEqual([
      { kind: 'diagnostics', stacked: true, items: [{ item: 'MESSAGE_TEXT', target: 's' }, { item: 'CONSTRAINT_NAME', target: 's' }] },
    ]);
  });

  it('reads variables, assignments, loops, EXIT/CONTINUE, EXECUTE and RAISE parameters', () => {
    const p = parseDoBlock(`DECLARE n int := 1; total bigint NOT NULL := 0; r record; k CONSTANT text := 'x';
      BEGIN
        SELECT count(*) INTO STRICT n FROM t;
        FOR i IN REVERSE 10..1 BY 2 LOOP CONTINUE WHEN i = 4; total := total + i; END LOOP;
        FOR r IN SELECT id FROM t LOOP EXIT WHEN r.id > 3; END LOOP;
        WHILE n > 0 LOOP n = n - 1; END LOOP;
        EXECUTE format('DROP TABLE %I', k) USING n;
        RAISE NOTICE 'n=% total=%%', n;
      END`);
    expect(p.variables).toEqual([
      { kind: 'scalar', name: 'n', typeName: 'int', init: '1', constant: false, notNull: false },
      { kind: 'scalar', name: 'total', typeName: 'bigint', init: '0', constant: false, notNull: true },
      { kind: 'record', name: 'r' },
      { kind: 'scalar', name: 'k', typeName: 'text', init: "'x'", constant: true, notNull: false },
    ]);
    expect(p.body.map((x) => x.kind)).toEqual(['sql', 'for-range', 'for-query', 'while', 'execute', 'raise']);
    expect(p.body[0]).toMatchObject({ into: { targets: ['n'], strict: true } });
    expect(p.body[1]).toMatchObject({ variable: 'i', lower: '10', upper: '1', step: '2', reverse: true });
    expect(p.body[3]).toMatchObject({ body: [{ kind: 'assign', target: 'n', expr: ' n - 1' }] });
    expect(p.body[5]).toMatchObject({ message: 'n=% total=%%', params: ['n'] });
    expect(refusal("BEGIN RAISE NOTICE '% %', 1; END")).toEqual({ code: '42601', message: 'too few parameters specified for RAISE' });
  });

  it('reports a body PostgreSQL would not compile with its SQLSTATE', () => {
    expect(refusal('BEGIN nonsense here; END').code).toBe('42601');
    expect(refusal('BEGIN EXIT; END')).toEqual({ code: '42601', message: 'EXIT cannot be used outside a loop, unless it has a label' });
    expect(refusal('BEGIN IF true THEN CONTINUE; END IF; END')).toEqual({ code: '42601', message: 'CONTINUE cannot be used outside a loop' });
    expect(refusal('BEGIN LOOP BEGIN EXIT; END; END LOOP; END')).toEqual({});
    expect(refusal('BEGIN NULL; EXCEPTION WHEN no_such_condition THEN NULL; END')).toEqual({ code: '42704', message: 'unrecognized exception condition "no_such_condition"' });
  });

  it('reads labels on loops and blocks, EXIT/CONTINUE naming them, and FOREACH; refuses labels nothing encloses as PostgreSQL does', () => {
    const p = parseDoBlock(`DECLARE x int; BEGIN
        <<outer>> FOREACH x IN ARRAY ARRAY[1, 2] LOOP <<inner>> LOOP EXIT outer WHEN x > 1; CONTINUE outer; END LOOP; END LOOP;
        <<blk>> BEGIN EXIT blk; END;
      END`);
    expect(p.body[0]).toMatchObject({ kind: 'foreach', variable: 'x', array: 'ARRAY[1, 2]', label: 'outer', body: [{ kind: 'loop', label: 'inner', body: [{ kind: 'exit', exit: true, cond: 'x > 1', label: 'outer' }, { kind: 'exit', exit: false, label: 'outer' }] }] });
    expect(p.body[1]).toEqual({ kind: 'block', label: 'blk', handlers: [], body: [{ kind: 'exit', exit: true, cond: undefined, label: 'blk' }] });
    expect(refusal('BEGIN LOOP EXIT nowhere; END LOOP; END')).toEqual({ code: '42601', message: 'there is no label "nowhere" attached to any block or loop enclosing this statement' });
    expect(refusal('BEGIN <<b>> BEGIN LOOP CONTINUE b; END LOOP; END; END')).toEqual({ code: '42601', message: 'block label "b" cannot be used in CONTINUE' });
    // A label is visible only inside what it labels.
    expect(refusal('BEGIN <<a>> LOOP EXIT; END LOOP; LOOP EXIT a; END LOOP; END').code).toBe('42601');
  });

  it('reads RAISE with a condition name, USING options and a bare RAISE', () => {
    expect(body(`BEGIN RAISE division_by_zero; END`)).toEqual([{ kind: 'raise', level: 'error', message: 'division_by_zero', params: [], code: '22012' }]);
    expect(body(`BEGIN RAISE EXCEPTION USING ERRCODE = 'unique_violation'; END`)).toEqual([{ kind: 'raise', level: 'error', message: 'unique_violation', params: [], code: '23505' }]);
    expect(body(`BEGIN RAISE 'a %', 1 USING HINT = 'h' || 1, DETAIL = 'd'; END`)).toEqual([
      { kind: 'raise', level: 'error', message: 'a %', params: ['1'], code: 'P0001', options: [{ option: 'hint', expr: "'h' || 1" }, { option: 'detail', expr: "'d'" }] },
    ]);
    expect(body(`BEGIN NULL; EXCEPTION WHEN others THEN RAISE; END`)[0]).toMatchObject({ handlers: [{ body: [{ kind: 'reraise' }] }] });
    expect(refusal("BEGIN RAISE 'x' USING MESSAGE = 'y'; END")).toEqual({ code: '42601', message: 'RAISE option already specified: MESSAGE' });
    expect(refusal('BEGIN RAISE no_such_condition; END').code).toBe('42704');
  });

  it('reads %TYPE declarations as written (resolved when the block starts) and %ROWTYPE as a record of the table', () => {
    expect(parseDoBlock('DECLARE a orders.amount%TYPE := 1; b a%TYPE; r public.orders%ROWTYPE; BEGIN NULL; END').variables).toEqual([
      { kind: 'scalar', name: 'a', typeName: 'orders.amount%TYPE', init: '1', constant: false, notNull: false },
      { kind: 'scalar', name: 'b', typeName: 'a%TYPE', init: undefined, constant: false, notNull: false },
      { kind: 'record', name: 'r', rowtype: 'public.orders' },
    ]);
  });

  it('wraps a body that contains the wrapper quote tag', () => {
    expect(body(`BEGIN PERFORM '$weft_do$'; END`)).toEqual([{ kind: 'perform', sql: `SELECT '$weft_do$'`, line: 1 }]);
  });
});

describe('runDoBlock', () => {
  it('rolls the body back to its savepoint and runs the matching handler', async () => {
    const host = fakeHost({ 'INSERT INTO t VALUES (2)': '23505' });
    await runDoBlock(parseDoBlock('BEGIN INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); EXCEPTION WHEN check_violation THEN NULL; WHEN unique_violation THEN INSERT INTO t VALUES (4); END'), host);
    expect(host.log).toEqual(['savepoint 1', 'INSERT INTO t VALUES (1)', 'rollback to 1', 'INSERT INTO t VALUES (4)']);
  });

  it('lets an error no handler names escape, without rolling back (the statement fails)', async () => {
    const host = fakeHost({ 'INSERT INTO t VALUES (1)': '22012' });
    await expect(runDoBlock(parseDoBlock('BEGIN INSERT INTO t VALUES (1); EXCEPTION WHEN unique_violation THEN NULL; END'), host)).rejects.toMatchObject({ code: '22012' });
    expect(host.log).toEqual(['savepoint 1']);
  });

  it('takes no savepoint for a block without handlers', async () => {
    const host = fakeHost();
    await runDoBlock(parseDoBlock('BEGIN INSERT INTO t VALUES (1); END'), host);
    expect(host.log).toEqual(['INSERT INTO t VALUES (1)']);
  });

  it('runs the first IF branch whose condition is true; NULL counts as false', async () => {
    const host = fakeHost({}, { 'SELECT ((a)::boolean)': null, 'SELECT ((b)::boolean)': true });
    await runDoBlock(parseDoBlock('BEGIN IF a THEN INSERT INTO t VALUES (1); ELSIF b THEN INSERT INTO t VALUES (2); ELSE INSERT INTO t VALUES (3); END IF; INSERT INTO t VALUES (4); END'), host);
    expect(host.log).toEqual(['? SELECT ((a)::boolean)', '? SELECT ((b)::boolean)', 'INSERT INTO t VALUES (2)', 'INSERT INTO t VALUES (4)']);
  });

  it('stops at RETURN, also from inside a nested block', async () => {
    const host = fakeHost();
    await runDoBlock(parseDoBlock('BEGIN INSERT INTO t VALUES (1); BEGIN RETURN; END; INSERT INTO t VALUES (2); END'), host);
    expect(host.log).toEqual(['INSERT INTO t VALUES (1)']);
  });

  it('raises P0001 (or the USING ERRCODE) and sends notices', async () => {
    const host = fakeHost();
    await expect(runDoBlock(parseDoBlock("BEGIN RAISE NOTICE 'hello'; RAISE WARNING 'careful'; RAISE EXCEPTION 'stop'; END"), host)).rejects.toMatchObject({ code: 'P0001', message: 'stop' });
    expect(host.log).toEqual(['NOTICE: hello', 'WARNING: careful']);
    const caught = fakeHost();
    await runDoBlock(parseDoBlock("BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '22012'; EXCEPTION WHEN division_by_zero THEN INSERT INTO t VALUES (9); END"), caught);
    expect(caught.log).toEqual(['savepoint 1', 'rollback to 1', 'INSERT INTO t VALUES (9)']);
  });
});

describe('conditionMatches', () => {
  it('matches exact codes, whole classes and OTHERS (except cancellation)', () => {
    expect(conditionMatches('23505', '23505')).toBe(true);
    expect(conditionMatches('23505', '23503')).toBe(false);
    expect(conditionMatches('23000', '23503')).toBe(true);
    expect(conditionMatches('others', '42P01')).toBe(true);
    expect(conditionMatches('others', '57014')).toBe(false);
  });
});
