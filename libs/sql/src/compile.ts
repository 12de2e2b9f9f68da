// Statement dispatch: parse tree -> CompiledStatement.
import type { Node } from 'libpg-query';
import { isAggregate } from './functions/aggregates';
import { S, sqlError } from './errors';
import { explainLines } from './exec/nodes';
import type { PlannerEnv } from './plan/context';
import type { ParamTypes } from './plan/expr';
import { Planner, type PlannedQuery } from './plan/select';
import { compileDml, hasDmlCte, planTopLevelWith } from './plan/with-dml';
import type { Row, Runtime } from './runtime';
import type { CompiledStatement } from './statement';
import { compileUtility } from './ddl';
import { compileCreateTableAs } from './create-table-as';
import { type SqlType, isRegKind, t, withTypeResolver } from './types/types';
import { typeResolverFor } from './catalog/user-types';
import { toPg } from './types/values';
import { descriptorDependencies } from './catalog/dependencies';
import { descriptorStampKey } from './catalog/store';
import type { PgValue } from '@weft/pgwire';

export function newPlanner(env: PlannerEnv): Planner {
  return new Planner(env, isAggregate);
}

function finalParamTypes(p: ParamTypes): SqlType[] {
  return p.types.map((x) => (x && x.kind !== 'unknown' ? x : t('text')));
}

/**
 * Compiles one statement; it compiles and runs with the user types (enums) of `env`'s catalog
 * resolvable by name (`withTypeResolver`); DDL runs with those of the catalog it is given.
 */
export function compileStatement(node: Node, env: PlannerEnv, declared: readonly (SqlType | undefined)[], sqlText: string): CompiledStatement {
  const used = new Set<number>();
  const tracking: PlannerEnv = {
    ...env,
    resolveRelation: (schema, name) => {
      const rel = env.resolveRelation(schema, name);
      if (rel !== undefined && 'id' in rel) used.add(rel.id);
      return rel;
    },
  };
  const compiled = withTypeResolver(typeResolverFor(env.catalog, env.session), () => compileNode(node, tracking, declared, sqlText));
  const execute = compiled.execute.bind(compiled);
  const stamps = descriptorDependencies(env.catalog, used, !compiled.readOnly).map(descriptorStampKey);
  return {
    ...compiled,
    execute: (ctx) => {
      // The transaction depends on these descriptors, not on the whole catalog (decision 0052).
      for (const key of stamps) ctx.txn.notePointRead(key);
      return withTypeResolver(typeResolverFor(ctx.env.catalog, ctx.env.session), () => execute(ctx));
    },
  };
}

function compileNode(node: Node, env: PlannerEnv, declared: readonly (SqlType | undefined)[], sqlText: string): CompiledStatement {
  const params: ParamTypes = { types: [...declared] };
  const planner = newPlanner(env);
  if ('CreateTableAsStmt' in node) {
    const c = node.CreateTableAsStmt;
    if (c.objtype !== 'OBJECT_TABLE') throw sqlError(S.FEATURE_NOT_SUPPORTED, 'materialized views are not supported', { hint: 'Use CREATE TABLE ... AS, or a view.' });
    const query = c.query as Node;
    if (!('SelectStmt' in query) || !c.into) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'CREATE TABLE AS supports a SELECT or VALUES query');
    return { ...compileCreateTableAs(query.SelectStmt, c.into, c.if_not_exists === true, planner, params), paramTypes: finalParamTypes(params) };
  }
  if ('SelectStmt' in node && node.SelectStmt.intoClause) {
    // SELECT ... INTO t is CREATE TABLE t AS SELECT ...
    const stmt = node.SelectStmt;
    return { ...compileCreateTableAs({ ...stmt, intoClause: undefined }, stmt.intoClause as NonNullable<typeof stmt.intoClause>, false, planner, params), paramTypes: finalParamTypes(params) };
  }
  if ('SelectStmt' in node) {
    const stmt = node.SelectStmt;
    if (hasDmlCte(stmt.withClause)) {
      // WITH ... (INSERT/UPDATE/DELETE ... RETURNING) SELECT ...: the CTEs run first, then the query.
      const w = planTopLevelWith(stmt.withClause as NonNullable<typeof stmt.withClause>, planner, params);
      const q = planner.planSelect({ ...stmt, withClause: undefined }, undefined, params, w.ctes);
      return w.wrap(selectStatement(q, params));
    }
    return selectStatement(planner.planSelect(stmt, undefined, params), params);
  }
  if ('InsertStmt' in node || 'UpdateStmt' in node || 'DeleteStmt' in node) return compileDml(node, planner, params, finalParamTypes);
  const u = compileUtility(node, env, planner, params, sqlText);
  if (u) return { ...u, paramTypes: finalParamTypes(params) };
  throw sqlError(S.FEATURE_NOT_SUPPORTED, `statement ${Object.keys(node)[0]} is not supported`);
}

function selectStatement(q: PlannedQuery, params: ParamTypes): CompiledStatement {
  const visible = q.columns.length;
  const cols = q.columns;
  return {
    kind: 'SELECT',
    paramTypes: finalParamTypes(params),
    columns: q.columns,
    readOnly: true,
    cacheable: true,
    async execute(ctx) {
      const rows: PgValue[][] = [];
      for await (const r of q.node.rows(undefined, ctx.rt)) rows.push(toRow(r, cols, visible, ctx.rt));
      return { kind: 'rows', columns: [], rows };
    },
    explain: () => explainLines(q.node.explain()),
  };
}

/** A result row as pgwire values; reg* OIDs print as the names they stand for. */
export function toRow(r: Row, cols: readonly { type: SqlType; hidden?: boolean }[], visible: number, rt?: Runtime): PgValue[] {
  const out: PgValue[] = new Array<PgValue>(visible);
  for (let i = 0; i < visible; i++) {
    const type = cols[i].type;
    const v = r[i];
    out[i] = rt && typeof v === 'number' && isRegKind(type.kind) ? rt.services.regName(type.kind as Parameters<Runtime['services']['regName']>[0], v) : toPg(v, type);
  }
  return out;
}
