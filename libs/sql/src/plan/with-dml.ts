// Data-modifying statements in WITH (INSERT/UPDATE/DELETE as CTEs), with Postgres semantics:
// each runs exactly once, to completion, whether or not anything reads it; its RETURNING rows
// are what references to it see; and every part of the statement (each CTE, the main query)
// reads the same snapshot, taken when the statement starts, so no part sees another part's
// writes. UPDATE/DELETE skip rows an earlier part already changed (Postgres skips rows the same
// command changed). Only the top level of a statement may hold them (0A000 elsewhere).
import type { Node, WithClause } from 'libpg-query';
import { S, sqlError } from '../errors';
import type { ExplainNode, PlanNode } from '../exec/nodes';
import { hasStagedWrites, withStatementSnapshot } from '../exec/statement-snapshot';
import type { Row, Runtime } from '../runtime';
import type { CompiledStatement, ExecContext } from '../statement';
import type { SqlType } from '../types/types';
import { dmlStatement, planDelete, planInsert, planUpdate, type DmlPlan } from './dml';
import { stringOf, type ParamTypes } from './expr';
import type { CteDef, DmlCtePlanner, Planner } from './select';
import type { ScopeColumn } from './scope';

/** References to a data-modifying CTE: the RETURNING rows of this execution's run of it. */
export class DmlCteNode implements PlanNode {
  private readonly results = new WeakMap<Runtime, Row[]>();
  constructor(
    readonly columns: readonly ScopeColumn[],
    private readonly name: string,
  ) {}
  store(rt: Runtime, rows: Row[]): void {
    this.results.set(rt, rows);
  }
  async *rows(_outer: unknown, rt: Runtime): AsyncGenerator<Row> {
    const rows = this.results.get(rt);
    // The statement runs every data-modifying CTE before its main query reads any of them.
    if (!rows) throw sqlError(S.INTERNAL, `WITH query "${this.name}" was read before it ran`);
    for (const r of rows) yield r;
  }
  explain(): ExplainNode {
    return { label: `CTE Scan on ${this.name}` };
  }
}

interface DmlCte {
  readonly name: string;
  readonly plan: DmlPlan;
  readonly node: DmlCteNode;
}

export function hasDmlCte(w: WithClause | undefined): boolean {
  return (w?.ctes ?? []).some((c) => 'CommonTableExpr' in c && !('SelectStmt' in ((c.CommonTableExpr.ctequery ?? {}) as Node)));
}

function dmlCtePlanner(planner: Planner, params: ParamTypes, out: DmlCte[]): DmlCtePlanner {
  return (cte, query, ctes): CteDef => {
    const name = cte.ctename ?? '';
    const plan = planDml(query, planner, params, ctes, undefined);
    const names = (cte.aliascolnames ?? []).map(stringOf);
    const columns = (plan.returning ?? []).map((c, i) => ({ ...c, name: names[i] ?? c.name, qualifier: name, hidden: false }));
    const node = new DmlCteNode(columns, name);
    out.push({ name, plan, node });
    return { node, columns, noReturning: !plan.returning };
  };
}

/**
 * An INSERT/UPDATE/DELETE parse node as a plan. Its own WITH clause may hold data-modifying
 * CTEs only when `top` collects them (the statement's top level).
 */
function planDml(q: Node, planner: Planner, params: ParamTypes, inherited: Map<string, CteDef>, top: DmlCte[] | undefined): DmlPlan {
  const stmt = 'InsertStmt' in q ? q.InsertStmt : 'UpdateStmt' in q ? q.UpdateStmt : 'DeleteStmt' in q ? q.DeleteStmt : undefined;
  if (!stmt) throw sqlError(S.FEATURE_NOT_SUPPORTED, `${Object.keys(q)[0]} is not supported in WITH`);
  const ctes = stmt.withClause ? planner.planCtes(stmt.withClause, undefined, params, inherited, top ? dmlCtePlanner(planner, params, top) : undefined) : inherited;
  return planner.withCtes(ctes, () => {
    if ('InsertStmt' in q) return planInsert(q.InsertStmt, planner, params, ctes);
    if ('UpdateStmt' in q) return planUpdate(q.UpdateStmt, planner, params, ctes);
    return planDelete((q as { DeleteStmt: import('libpg-query').DeleteStmt }).DeleteStmt, planner, params, ctes);
  });
}

/** A top-level INSERT, UPDATE or DELETE, with whatever its WITH clause holds. */
export function compileDml(q: Node, planner: Planner, params: ParamTypes, final: (p: ParamTypes) => SqlType[]): CompiledStatement {
  const dml: DmlCte[] = [];
  const plan = planDml(q, planner, params, new Map(), dml);
  return withDmlCtes(dmlStatement(plan, final(params)), dml);
}

/**
 * Plans a top-level WITH clause that holds data-modifying CTEs: the CTEs for the main query,
 * and `wrap`, which turns the compiled main query into the whole statement.
 */
export function planTopLevelWith(w: WithClause, planner: Planner, params: ParamTypes): { ctes: Map<string, CteDef>; wrap: (main: CompiledStatement) => CompiledStatement } {
  const dml: DmlCte[] = [];
  const ctes = planner.planCtes(w, undefined, params, new Map(), dmlCtePlanner(planner, params, dml));
  return { ctes, wrap: (main) => withDmlCtes(main, dml) };
}

function withDmlCtes(main: CompiledStatement, dml: readonly DmlCte[]): CompiledStatement {
  if (dml.length === 0) return main;
  return {
    ...main,
    readOnly: false,
    explain: () => [
      ...(main.explain ? main.explain() : [main.kind]),
      ...dml.flatMap((c) => {
        const [head, ...rest] = c.plan.explain();
        return [`  CTE ${c.name}`, `    ->  ${head}`, ...rest.map((l) => `      ${l}`)];
      }),
    ],
    async execute(ctx: ExecContext) {
      if (hasStagedWrites(ctx.txn)) {
        throw sqlError(S.FEATURE_NOT_SUPPORTED, 'data-modifying statements in WITH are not supported once a transaction has staged its writes', {
          detail: 'The transaction wrote more than fits its write buffer, so its earlier writes are staged on the shard.',
          hint: 'Run the WITH statement in a smaller transaction, or split it into separate statements.',
        });
      }
      const part = withStatementSnapshot(ctx);
      for (const c of dml) {
        const p = part();
        c.node.store(p.rt, (await c.plan.run(p)).rows);
      }
      return main.execute(part());
    },
  };
}
