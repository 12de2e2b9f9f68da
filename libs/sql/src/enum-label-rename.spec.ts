import { parseSync, type Node } from 'libpg-query';
import { initParser } from './parse';
import { renameEnumLabel, renameLabelInText } from './enum-label-rename';

beforeAll(() => initParser());

const r = { from: 'cancelled', to: 'canceled', typeName: 'st', schemaName: 'public' };
/** Every string constant of a tree, in order. */
function strings(n: unknown): string[] {
  if (Array.isArray(n)) return n.flatMap(strings);
  if (n === null || typeof n !== 'object') return [];
  const o = n as Record<string, unknown>;
  const c = o.A_Const as { sval?: { sval?: string } } | undefined;
  if (c?.sval?.sval !== undefined) return [c.sval.sval];
  return Object.values(o).flatMap(strings);
}

/** `SELECT 1 FROM t WHERE <expr>` with the rename applied (`status` is the enum column): its string constants. */
function rename(expr: string): { sql: string; changed: number } {
  const stmt = parseSync(`SELECT 1 FROM t WHERE ${expr}`).stmts?.[0]?.stmt as Node;
  const { node, changed } = renameEnumLabel(stmt, r, (fields) => fields[fields.length - 1] === 'status');
  return { sql: strings(node).join(' '), changed };
}

describe('renameEnumLabel', () => {
  it('renames literals compared with a column of the type, on either side, in lists and arrays', () => {
    expect(rename("status <> 'cancelled'")).toEqual({ sql: 'canceled', changed: 1 });
    expect(rename("'cancelled' = t.status")).toEqual({ sql: 'canceled', changed: 1 });
    expect(rename("status IN ('new', 'cancelled')").sql).toBe('new canceled');
    expect(rename("status = ANY (ARRAY['paid', 'cancelled'])").sql).toBe('paid canceled');
    expect(rename("status IS DISTINCT FROM 'cancelled'").sql).toBe('canceled');
  });

  it('renames a literal cast to the type, bare or schema-qualified, wherever it is', () => {
    expect(rename("x = 'cancelled'::st")).toEqual({ sql: 'canceled', changed: 1 });
    expect(rename("coalesce(y, 'cancelled'::public.st) = x")).toEqual({ sql: 'canceled', changed: 1 });
    expect(rename("x = 'cancelled'::other").changed).toBe(0);
    expect(rename("status = ANY (ARRAY['paid', 'cancelled']::st[])")).toEqual({ sql: 'paid canceled', changed: 1 });
    expect(rename("status = ANY ('{paid,\"cancelled\"}'::st[])")).toEqual({ sql: '{paid,"canceled"}', changed: 1 });
    expect(rename("status = ANY ('{paid,cancelled}')")).toEqual({ sql: '{paid,"canceled"}', changed: 1 });
    expect(rename("status = ANY ('{paid,cancelledx}')").changed).toBe(0);
  });

  it('leaves literals compared with other columns, other labels, and unrelated casts alone', () => {
    expect(rename("note <> 'cancelled' AND status = 'new'")).toEqual({ sql: 'cancelled new', changed: 0 });
    expect(rename("note <> 'cancelled' AND status <> 'cancelled'")).toEqual({ sql: 'cancelled canceled', changed: 1 });
    expect(rename("note = 'cancelled'::text").changed).toBe(0);
  });

  it('returns the same tree when nothing changed', () => {
    const stmt = parseSync("SELECT 1 FROM t WHERE note = 'x'").stmts?.[0]?.stmt as Node;
    expect(renameEnumLabel(stmt, r, () => true).node).toBe(stmt);
  });
});

describe('renameLabelInText', () => {
  it('rewrites the quoted literal only', () => {
    expect(renameLabelInText("SELECT id FROM o WHERE status = 'cancelled' AND note LIKE '%cancelled%'", r)).toBe("SELECT id FROM o WHERE status = 'canceled' AND note LIKE '%cancelled%'");
  });
});
