import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';

// The alert rules, their unit tests, the Prometheus configuration and the Grafana dashboards
// shipped in deploy/ (issue 13), checked with Prometheus's own promtool (Debian package
// `prometheus`; .ci/run installs it), and cross-checked against the metrics Weft exports.
const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const PROM = path.join(ROOT, 'deploy/prometheus');

async function promtool(args: string[], cwd = PROM): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await exec('promtool', args, { cwd, timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new Error('promtool not found: install Debian package `prometheus` (apt-get install prometheus)', { cause: e });
    return { code: typeof err.code === 'number' ? err.code : -1, out: `${err.stdout ?? ''}${err.stderr ?? String(e)}` };
  }
}

/** Every `weft_...` metric name Weft's services create (string literals in apps/ sources). */
function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const app of readdirSync(path.join(ROOT, 'apps'))) {
    const dir = path.join(ROOT, 'apps', app, 'src');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.spec.ts'))) {
      for (const m of readFileSync(path.join(dir, f), 'utf8').matchAll(/'(weft_[a-z0-9_]+)'/g)) names.add(m[1]);
    }
  }
  return names;
}

/** The exported metric a Prometheus series name comes from (histogram and counter suffixes). */
function baseName(series: string, exported: Set<string>): string | undefined {
  for (const candidate of [series, series.replace(/_(bucket|count|sum)$/, ''), series.replace(/_total$/, '')]) {
    if (exported.has(candidate)) return candidate;
  }
  return undefined;
}

/** weft_* series names used in a PromQL-bearing text (rules, dashboards), recording rules (weft:...) aside. */
const usedSeries = (text: string): string[] => [...new Set([...text.matchAll(/\b(weft_[a-z0-9_]+)/g)].map((m) => m[1]))];

describe('alert rules and dashboards in deploy/', () => {
  it('promtool check rules accepts the rules', async () => {
    const r = await promtool(['check', 'rules', 'weft-rules.yml']);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining('SUCCESS')]);
  });

  it('promtool test rules: every alert fires (and stays quiet) as its unit tests say', async () => {
    const r = await promtool(['test', 'rules', 'weft-rules.test.yml']);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining('SUCCESS')]);
  });

  it('promtool check config accepts the Prometheus configuration docker-compose.yml mounts', async () => {
    // The configuration names the rules by their path inside the container; check a copy that
    // points at the repository's file instead.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'weft-prom-'));
    try {
      const cfg = readFileSync(path.join(PROM, 'prometheus.yml'), 'utf8').replace('/etc/prometheus/weft/weft-rules.yml', path.join(PROM, 'weft-rules.yml'));
      writeFileSync(path.join(dir, 'prometheus.yml'), cfg);
      const r = await promtool(['check', 'config', 'prometheus.yml'], dir);
      expect([r.code, r.out]).toEqual([0, expect.stringContaining('SUCCESS')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every alert has a severity and a runbook that exists', () => {
    const rules = parse(readFileSync(path.join(PROM, 'weft-rules.yml'), 'utf8')) as {
      groups: { rules: { alert?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
    };
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
    expect(alerts.length).toBeGreaterThanOrEqual(6);
    for (const a of alerts) {
      expect([a.alert, a.labels?.severity]).toEqual([a.alert, expect.stringMatching(/^(page|ticket)$/)]);
      const runbook = a.annotations?.runbook ?? '';
      expect([a.alert, existsSync(path.join(ROOT, runbook)) && runbook.startsWith('docs/runbooks/')]).toEqual([a.alert, true]);
    }
  });

  it('the rules and the Grafana dashboards only use metrics Weft exports', () => {
    const exported = exportedMetrics();
    expect(exported.has('weft_raft_commit_latency_seconds')).toBe(true);
    const texts = [readFileSync(path.join(PROM, 'weft-rules.yml'), 'utf8')];
    const dashDir = path.join(ROOT, 'deploy/grafana/dashboards');
    const dashboards = readdirSync(dashDir).filter((f) => f.endsWith('.json'));
    expect(dashboards.length).toBeGreaterThan(0);
    for (const f of dashboards) texts.push(readFileSync(path.join(dashDir, f), 'utf8'));
    const unknown = texts.flatMap(usedSeries).filter((s) => baseName(s, exported) === undefined);
    expect(unknown).toEqual([]);
  });
});
