// The console's single page: plain HTML, CSS and a script that polls /console/api/snapshot every
// second and draws the charts on <canvas>. Kept dependency-free on purpose.
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Weft console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #status { font-size: 13px; opacity: .8; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 12px 16px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f3; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; color: #556; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
  .chart h3 { font-size: 13px; margin: 0 0 4px; color: #445; }
  .chart .now { float: right; font-weight: 600; }
  canvas { width: 100%; height: 120px; background: #fbfcfd; border: 1px solid #eef0f3; }
  .bad { color: #b3261e; font-weight: 600; }
  .ok { color: #1b7f3b; }
  code { font-size: 12px; }
  button { cursor: pointer; }
</style>
</head>
<body>
<header><h1>Weft</h1><span id="status">connecting…</span></header>
<main>
  <section>
    <h2>Cluster</h2>
    <table id="shards"><thead><tr><th>shard</th><th>leaseholder</th><th>quorum</th><th>replicas (applied index · lag)</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="charts">
    <div class="chart"><h3>Statements / s <span class="now" id="qps-now">–</span></h3><canvas id="chart-qps" width="600" height="160"></canvas></div>
    <div class="chart"><h3>Latency p50 / p99 (ms, last 10 s) <span class="now" id="lat-now">–</span></h3><canvas id="chart-lat" width="600" height="160"></canvas></div>
    <div class="chart"><h3>Commits / aborts per s <span class="now" id="tx-now">–</span></h3><canvas id="chart-tx" width="600" height="160"></canvas></div>
    <div class="chart"><h3>Max replication lag (s) <span class="now" id="lag-now">–</span></h3><canvas id="chart-lag" width="600" height="160"></canvas></div>
  </section>
  <section>
    <h2>Slowest statements (last 5 min)</h2>
    <table id="slowest"><thead><tr><th>ms</th><th>type</th><th>tenant</th><th>when</th><th>statement</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Sessions</h2>
    <table id="sessions"><thead><tr><th>pid</th><th>user</th><th>tenant</th><th>client</th><th>state</th><th>running</th><th>statement</th><th></th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
(() => {
  const POINTS = 120;
  const series = { qps: [], p50: [], p99: [], commits: [], aborts: [], lag: [] };
  let prev;
  const state = { series, polls: 0, last: null };
  window.weftConsole = state;
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const push = (name, v) => { series[name].push(v); if (series[name].length > POINTS) series[name].shift(); };

  function draw(id, lines) {
    const c = document.getElementById(id);
    const g = c.getContext('2d');
    g.clearRect(0, 0, c.width, c.height);
    const all = lines.flatMap((l) => l.data.filter((v) => v !== null));
    const max = Math.max(1e-9, ...all) * 1.1;
    g.strokeStyle = '#eef0f3';
    for (let i = 1; i < 4; i++) { const y = (c.height * i) / 4; g.beginPath(); g.moveTo(0, y); g.lineTo(c.width, y); g.stroke(); }
    g.fillStyle = '#889'; g.font = '11px system-ui'; g.fillText(max.toPrecision(3), 4, 12);
    for (const l of lines) {
      g.strokeStyle = l.color; g.lineWidth = 2; g.beginPath();
      let started = false;
      l.data.forEach((v, i) => {
        if (v === null) return;
        const x = (c.width * i) / (POINTS - 1);
        const y = c.height - (c.height * v) / max;
        if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
      });
      g.stroke();
    }
  }

  function render(s) {
    const shards = (s.cluster && s.cluster.shards) || [];
    document.querySelector('#shards tbody').innerHTML = shards.map((r) =>
      '<tr data-shard="' + r.shard + '"><td>' + r.shard + '</td><td>' + (r.leader ? 'node ' + r.leader : '<span class="bad">none</span>') + '</td><td>' +
      (r.quorum ? '<span class="ok">yes</span>' : '<span class="bad">no</span>') + ' (' + r.reachable + '/' + r.replicas + ')</td><td>' +
      r.replicaStatus.map((x) => 'node ' + x.node + ' · ' + x.appliedIndex + ' · ' + (x.lagSeconds === null ? '?' : x.lagSeconds + ' s')).join(' &nbsp; ') +
      Object.entries(r.errors).map(([n, e]) => ' <span class="bad">node ' + n + ': ' + esc(e) + '</span>').join('') + '</td></tr>').join('');
    document.querySelector('#slowest tbody').innerHTML = s.sql.slowest.map((x) =>
      '<tr><td>' + x.ms + '</td><td>' + x.type + '</td><td>' + esc(x.tenant) + '</td><td>' + x.at.slice(11, 19) + '</td><td><code>' + esc(x.text) + '</code></td></tr>').join('');
    document.querySelector('#sessions tbody').innerHTML = s.sql.sessions.map((x) =>
      '<tr data-pid="' + x.pid + '"><td>' + x.pid + '</td><td>' + esc(x.user) + '</td><td>' + esc(x.tenant) + '</td><td>' + esc(x.client) + '</td><td>' + x.state + '</td><td>' +
      (x.runningMs === null ? '' : x.runningMs + ' ms') + '</td><td><code>' + esc(x.statement || '') + '</code></td><td>' +
      (x.state === 'active' ? '<button data-cancel="' + x.pid + '">Cancel</button>' : '') + '</td></tr>').join('');
  }

  async function poll() {
    try {
      const res = await fetch('/console/api/snapshot', { cache: 'no-store' });
      const s = await res.json();
      const t = Date.now() / 1000;
      if (prev) {
        const dt = Math.max(1e-3, t - prev.t);
        push('qps', (s.sql.statements - prev.s.sql.statements) / dt);
        push('commits', (s.sql.commits - prev.s.sql.commits) / dt);
        push('aborts', (s.sql.aborts - prev.s.sql.aborts) / dt);
        push('p50', s.sql.latencyMs.p50);
        push('p99', s.sql.latencyMs.p99);
        const lags = ((s.cluster && s.cluster.shards) || []).flatMap((r) => r.replicaStatus.map((x) => x.lagSeconds).filter((v) => v !== null));
        push('lag', lags.length ? Math.max(...lags) : null);
      }
      prev = { t, s };
      state.polls++;
      state.last = s;
      render(s);
      const last = (a) => (a.length ? a[a.length - 1] : null);
      const fmt = (v, d) => (v === null || v === undefined ? '–' : v.toFixed(d));
      document.getElementById('qps-now').textContent = fmt(last(series.qps), 1);
      document.getElementById('lat-now').textContent = fmt(last(series.p50), 1) + ' / ' + fmt(last(series.p99), 1);
      document.getElementById('tx-now').textContent = fmt(last(series.commits), 1) + ' / ' + fmt(last(series.aborts), 1);
      document.getElementById('lag-now').textContent = fmt(last(series.lag), 1);
      draw('chart-qps', [{ data: series.qps, color: '#2f6fdf' }]);
      draw('chart-lat', [{ data: series.p50, color: '#2f6fdf' }, { data: series.p99, color: '#d9822b' }]);
      draw('chart-tx', [{ data: series.commits, color: '#1b7f3b' }, { data: series.aborts, color: '#b3261e' }]);
      draw('chart-lag', [{ data: series.lag, color: '#7a4fd6' }]);
      document.getElementById('status').textContent = 'updated ' + new Date().toLocaleTimeString() + ' · ' + s.sql.sessions.length + ' sessions';
    } catch (e) {
      document.getElementById('status').textContent = 'gateway unreachable: ' + e;
    }
  }

  document.addEventListener('click', async (ev) => {
    const pid = ev.target && ev.target.getAttribute && ev.target.getAttribute('data-cancel');
    if (!pid) return;
    ev.target.disabled = true;
    await fetch('/console/api/sessions/' + pid + '/cancel', { method: 'POST' });
  });
  poll();
  setInterval(poll, 1000);
})();
</script>
</body>
</html>
`;
