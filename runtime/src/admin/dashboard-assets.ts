// The dashboard's static files, served by the admin server: plain HTML, CSS and browser JavaScript
// with no build step, kept here as strings so they ship inside the compiled runtime. The page polls
// GET /v1/overview and draws everything from it; data is only ever set as text, never as HTML.

const html = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Continuum runtime</title>
<link rel="stylesheet" href="/dashboard/dashboard.css">
<script src="/dashboard/dashboard.js" defer></script>
</head>
<body>
<header>
  <div class="brand">Continuum <span class="muted">runtime</span></div>
  <div class="meta"><span id="instance">…</span> · <span id="mode">…</span> · up <span id="uptime">…</span></div>
  <div class="spacer"></div>
  <div class="updated">updated <span id="updated">never</span></div>
  <div id="status" data-testid="status" class="pill pill-unknown">connecting…</div>
</header>

<form id="token-form" class="card hidden">
  <label for="token">This runtime requires its admin token.</label>
  <input id="token" type="password" autocomplete="off" placeholder="admin token">
  <button type="submit">Show dashboard</button>
</form>

<main id="main">
  <section class="card problems" id="problems-card">
    <h2>Health</h2>
    <ul id="problems" data-testid="problems"></ul>
  </section>

  <section class="kpis">
    <div class="kpi"><div class="label">Messages in</div><div class="value"><span id="kpi-ingress" data-testid="kpi-ingress">–</span><small>/s</small></div><div class="sub">total <span id="kpi-ingress-total" data-testid="kpi-ingress-total">–</span></div></div>
    <div class="kpi"><div class="label">Invocations</div><div class="value"><span id="kpi-invocations" data-testid="kpi-invocations">–</span><small>/s</small></div><div class="sub">total <span id="kpi-invocations-total" data-testid="kpi-invocations-total">–</span></div></div>
    <div class="kpi"><div class="label">Egress</div><div class="value"><span id="kpi-egress" data-testid="kpi-egress">–</span><small>/s</small></div><div class="sub">total <span id="kpi-egress-total" data-testid="kpi-egress-total">–</span></div></div>
    <div class="kpi"><div class="label">Latency p99</div><div class="value"><span id="kpi-p99" data-testid="kpi-p99">–</span></div><div class="sub">p50 <span id="kpi-p50">–</span></div></div>
    <div class="kpi"><div class="label">Consumer lag</div><div class="value"><span id="kpi-lag" data-testid="kpi-lag">–</span><small>records</small></div><div class="sub">max <span id="kpi-lag-max">–</span> · <span id="kpi-partitions">–</span> partitions</div></div>
    <div class="kpi" id="kpi-dead-card"><div class="label">Dead letters</div><div class="value"><span id="kpi-dead" data-testid="kpi-dead">–</span></div><div class="sub" id="kpi-dead-sub">in the topic</div></div>
    <div class="kpi" id="kpi-failed-card"><div class="label">Failed messages</div><div class="value"><span id="kpi-failed" data-testid="kpi-failed">–</span></div><div class="sub">calls failed past their budget</div></div>
  </section>

  <section class="charts">
    <div class="card">
      <h2>Throughput <span class="muted">messages / s</span></h2>
      <svg id="chart-throughput" viewBox="0 0 640 200" preserveAspectRatio="none" role="img" aria-label="throughput over time"></svg>
      <div class="legend" id="legend-throughput"></div>
    </div>
    <div class="card">
      <h2>Invocation latency <span class="muted">p50 / p99 per sample</span></h2>
      <svg id="chart-latency" viewBox="0 0 640 200" preserveAspectRatio="none" role="img" aria-label="latency over time"></svg>
      <div class="legend" id="legend-latency"></div>
    </div>
  </section>

  <section class="grid2">
    <div class="card">
      <h2>Functions</h2>
      <table data-testid="functions"><thead><tr><th>function type</th><th class="num" title="Messages the function handled. Several travel to its endpoint in one call.">invocations</th><th class="num">failed</th><th class="num">error rate</th><th class="num">p50</th><th class="num">p99</th><th class="num">retries</th></tr></thead><tbody id="functions"></tbody></table>
    </div>
    <div class="card">
      <h2>Function endpoints</h2>
      <p class="note muted" data-testid="calls-note">A call is one HTTP request to an endpoint; it carries a batch of invocations (the messages waiting for one address), so calls can be fewer than invocations.</p>
      <table data-testid="endpoints"><thead><tr><th>endpoint</th><th class="num" title="HTTP requests to the endpoint; each carries a batch of invocations">calls</th><th class="num">failures</th><th class="num">error rate</th><th>last error</th></tr></thead><tbody id="endpoints"></tbody></table>
    </div>
  </section>

  <section class="card hidden" id="topics-card">
    <h2>Kafka topics <span class="muted" id="topics-where"></span></h2>
    <table data-testid="topics"><thead><tr><th>topic</th><th>read by / written by</th><th class="num">partitions</th><th class="num">records</th><th class="num" title="Records the ingress moved into the runtime since it started">moved</th><th class="num">dead letters</th></tr></thead><tbody id="topics"></tbody></table>
  </section>

  <section class="card" id="cluster-card">
    <h2>Cluster <span class="muted" id="cluster-summary"></span></h2>
    <p class="cluster-note" id="cluster-note" data-testid="cluster-note"></p>
    <table data-testid="cluster"><thead><tr><th>process</th><th>state</th><th class="num">partitions</th><th class="num">lag</th><th class="num">reported</th></tr></thead><tbody id="cluster"></tbody></table>
  </section>

  <section class="grid2">
    <div class="card">
      <h2>Partitions <span class="muted" id="partitions-owner"></span></h2>
      <table data-testid="partitions"><thead><tr><th class="num">partition</th><th>status</th><th class="num">lag</th><th class="num">mailbox</th><th class="num">in flight</th><th class="num">delayed</th><th class="num">watermark</th><th class="num">checkpoint</th></tr></thead><tbody id="partitions"></tbody></table>
    </div>
    <div class="card">
      <h2>Dead letters <span class="muted" id="dead-topic"></span></h2>
      <div class="chips" id="dead-codes" data-testid="dead-codes"></div>
      <table data-testid="dead-letters"><thead><tr><th>when</th><th>code</th><th>target</th><th>reason</th></tr></thead><tbody id="dead-letters"></tbody></table>
    </div>
  </section>

  <footer class="muted">
    memory <span id="memory">–</span> · state cache hit rate <span id="cache">–</span> · calls in flight <span id="inflight">–</span>, queued <span id="queued">–</span> ·
    <a href="/metrics">/metrics</a> · <a href="/v1/overview">/v1/overview</a> · <a href="/v1/cluster">/v1/cluster</a>
  </footer>
</main>
</body>
</html>
`;

const css = String.raw`:root {
  --bg: #f4f6f9; --card: #ffffff; --ink: #1c2330; --muted: #6b7585; --line: #e3e7ee;
  --ok: #1f9d55; --warn: #d98b00; --bad: #d64545; --blue: #2f6fde; --violet: #7c4dcc; --teal: #138a8a;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: #111827; color: #f3f4f6; }
header .brand { font-weight: 700; font-size: 18px; }
header .muted, header .meta, header .updated { color: #9ca3af; }
.spacer { flex: 1; }
.pill { padding: 4px 14px; border-radius: 999px; font-weight: 700; letter-spacing: .02em; }
.pill-ok { background: var(--ok); color: #fff; }
.pill-degraded { background: var(--warn); color: #fff; }
.pill-failing { background: var(--bad); color: #fff; }
.pill-unknown { background: #4b5563; color: #fff; }
main { padding: 16px 24px; display: flex; flex-direction: column; gap: 16px; }
.hidden { display: none !important; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; min-width: 0; }
h2 { margin: 0 0 10px; font-size: 15px; }
.muted { color: var(--muted); font-weight: 400; }
#token-form { margin: 24px; display: flex; gap: 10px; align-items: center; }
#token-form input { padding: 6px 8px; min-width: 260px; }
.problems ul { margin: 0; padding-left: 20px; }
.problems li { margin: 2px 0; }
.problems li.good { list-style: none; margin-left: -20px; color: var(--ok); font-weight: 600; }
.problems li.bad { color: var(--bad); }
.cluster-note { margin: 0 0 8px; }
.cluster-note.bad { color: var(--bad); }
.cluster-note.warn { color: var(--warn); }
.cluster-note.good { color: var(--ok); }
.kpis { display: grid; grid-template-columns: repeat(7, minmax(0, 1fr)); gap: 12px; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.kpi .value { font-size: 28px; font-weight: 700; font-variant-numeric: tabular-nums; margin: 2px 0; }
.kpi .value small { font-size: 13px; color: var(--muted); font-weight: 500; margin-left: 4px; }
.kpi .sub { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.kpi.alert { border-color: var(--bad); box-shadow: inset 4px 0 0 var(--bad); }
.kpi.alert .value { color: var(--bad); }
.charts, .grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
svg { width: 100%; height: 200px; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { fill: var(--muted); font-size: 11px; }
svg .series { fill: none; stroke-width: 2.2; vector-effect: non-scaling-stroke; }
svg .mark { fill: none; stroke-width: 7; stroke-linecap: round; vector-effect: non-scaling-stroke; }
.note { margin: -4px 0 8px; font-size: 12px; }
.legend { display: flex; gap: 16px; margin-top: 6px; color: var(--muted); font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 3px; vertical-align: middle; margin-right: 6px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; }
td.wrap { overflow-wrap: anywhere; max-width: 420px; }
td.url { white-space: nowrap; max-width: 260px; overflow: hidden; text-overflow: ellipsis; }
tr.bad td { color: var(--bad); }
tr.warn td { color: var(--warn); }
td.empty { color: var(--muted); text-align: center; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
.chip { background: #fdecec; color: var(--bad); border-radius: 6px; padding: 2px 8px; font-size: 12px; font-weight: 600; }
footer { font-size: 12px; }
footer a { color: var(--blue); }
@media (max-width: 1100px) { .kpis { grid-template-columns: repeat(4, 1fr); } .charts, .grid2 { grid-template-columns: 1fr; } }
`;

// Browser JavaScript (ES2020, no modules, no template literals so it can live in this string).
const js = String.raw`'use strict';
(function () {
  var TOKEN_KEY = 'continuum.adminToken';
  var POLL_MS = 2000;
  var SVG = 'http://www.w3.org/2000/svg';

  function byId(id) { return document.getElementById(id); }
  function setText(id, value) { var n = byId(id); if (n) n.textContent = value; }
  function dash(v) { return v === null || v === undefined || Number.isNaN(v); }
  function fmtInt(v) { return dash(v) ? '–' : Math.round(v).toLocaleString('en-US'); }
  function fmtRate(v) {
    if (dash(v)) return '–';
    if (v >= 100) return Math.round(v).toLocaleString('en-US');
    return v >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function fmtMs(v) {
    if (dash(v)) return '–';
    if (v < 10) return v.toFixed(1) + ' ms';
    if (v < 1000) return Math.round(v) + ' ms';
    return (v / 1000).toFixed(2) + ' s';
  }
  // Axis labels: short enough for the margin at any size (ms, s, min), no trailing zeros.
  function fmtAxisMs(v) {
    if (dash(v)) return '–';
    if (v === 0) return '0';
    var trim = function (x) { return String(Number(x.toPrecision(3))); };
    if (v < 1000) return trim(v) + ' ms';
    if (v < 60000) return trim(v / 1000) + ' s';
    if (v < 3600000) return trim(v / 60000) + ' min';
    return trim(v / 3600000) + ' h';
  }
  function fmtPct(v) { return dash(v) ? '–' : (v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0) + ' %'; }
  function fmtBytes(v) { return dash(v) ? '–' : (v / 1048576).toFixed(0) + ' MiB'; }
  function fmtDuration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }
  function fmtAgo(iso) {
    if (!iso) return '';
    return fmtDuration(Date.now() - Date.parse(iso)) + ' ago';
  }
  function clock(t) { return new Date(t).toTimeString().slice(0, 8); }
  // Event time of the partition: the time of day, with the date when it is not today.
  function fmtWatermark(t) {
    if (dash(t)) return '–';
    var d = new Date(t);
    var sameDay = d.toDateString() === new Date().toDateString();
    var pad = function (n) { return n < 10 ? '0' + n : String(n); };
    var date = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ';
    return (sameDay ? '' : date) + clock(t);
  }
  function clip(v, n) { v = v || ''; return v.length > n ? v.slice(0, n - 1) + '…' : v; }
  // KPI rates average the last few samples: one interval alone is jumpy.
  function recentRate(history, key) {
    var last = history.slice(-5);
    if (last.length === 0) return null;
    return last.reduce(function (n, p) { return n + (p[key] || 0); }, 0) / last.length;
  }
  function lastValue(history, key) {
    for (var i = history.length - 1; i >= 0; i--) if (!dash(history[i][key])) return history[i][key];
    return null;
  }

  function cell(value, cls, title) {
    var td = document.createElement('td');
    td.textContent = value;
    if (cls) td.className = cls;
    if (title) td.title = title;
    return td;
  }
  function fillTable(id, rows, empty, columns, rowClass) {
    var body = byId(id);
    body.replaceChildren();
    if (rows.length === 0) {
      var tr = document.createElement('tr');
      var td = cell(empty, 'empty');
      td.colSpan = columns.length;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (row) {
      var tr = document.createElement('tr');
      var cls = rowClass ? rowClass(row) : '';
      if (cls) tr.className = cls;
      columns.forEach(function (c) { tr.appendChild(cell(c[0](row), c[1], c[2] ? c[2](row) : '')); });
      body.appendChild(tr);
    });
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }

  function drawChart(svgId, legendId, points, series, format) {
    var svg = byId(svgId);
    svg.replaceChildren();
    var W = 640, H = 200, L = 56, R = 8, T = 8, B = 22;
    var max = 0;
    points.forEach(function (p) {
      series.forEach(function (s) { var v = p[s.key]; if (!dash(v) && v > max) max = v; });
    });
    max = niceMax(max);
    for (var g = 0; g <= 4; g++) {
      var y = T + (H - T - B) * (1 - g / 4);
      var line = document.createElementNS(SVG, 'line');
      line.setAttribute('x1', L); line.setAttribute('x2', W - R);
      line.setAttribute('y1', y); line.setAttribute('y2', y);
      line.setAttribute('class', 'grid');
      svg.appendChild(line);
      var label = document.createElementNS(SVG, 'text');
      label.setAttribute('x', L - 6); label.setAttribute('y', y + 4);
      label.setAttribute('text-anchor', 'end'); label.setAttribute('class', 'axis y-label');
      label.textContent = format(max * g / 4);
      svg.appendChild(label);
    }
    if (points.length > 0) {
      [[points[0].t, 'start'], [points[points.length - 1].t, 'end']].forEach(function (x) {
        var t = document.createElementNS(SVG, 'text');
        t.setAttribute('x', x[1] === 'start' ? L : W - R); t.setAttribute('y', H - 6);
        t.setAttribute('text-anchor', x[1]); t.setAttribute('class', 'axis');
        t.textContent = clock(x[0]);
        svg.appendChild(t);
      });
    }
    var n = points.length;
    var xOf = function (i) { return n <= 1 ? W - R : L + (W - L - R) * (i / (n - 1)); };
    var yOf = function (v) { return T + (H - T - B) * (1 - v / max); };
    series.forEach(function (s) {
      var d = '';
      var pen = false;
      points.forEach(function (p, i) {
        var v = p[s.key];
        if (dash(v)) { pen = false; return; }
        d += (pen ? ' L' : ' M') + xOf(i).toFixed(1) + ' ' + yOf(v).toFixed(1);
        pen = true;
      });
      // A path of moves alone draws nothing: only one with a line in it is added.
      if (d.indexOf('L') >= 0) {
        var path = document.createElementNS(SVG, 'path');
        path.setAttribute('d', d.trim());
        path.setAttribute('class', 'series');
        path.setAttribute('stroke', s.color);
        svg.appendChild(path);
      }
      // A sample without a neighbour draws no line: it gets a dot (a zero-length round-capped
      // stroke keeps its shape however the chart is stretched).
      points.forEach(function (p, i) {
        if (dash(p[s.key])) return;
        var before = i > 0 && !dash(points[i - 1][s.key]);
        var after = i < n - 1 && !dash(points[i + 1][s.key]);
        if (before || after) return;
        var x = xOf(i).toFixed(1), y = yOf(p[s.key]).toFixed(1);
        var dot = document.createElementNS(SVG, 'path');
        dot.setAttribute('d', 'M' + x + ' ' + y + ' L' + x + ' ' + y);
        dot.setAttribute('class', 'mark');
        dot.setAttribute('stroke', s.color);
        var title = document.createElementNS(SVG, 'title');
        title.textContent = s.label + ' ' + format(p[s.key]) + ' at ' + clock(p.t);
        dot.appendChild(title);
        svg.appendChild(dot);
      });
    });
    var legend = byId(legendId);
    legend.replaceChildren();
    series.forEach(function (s) {
      var item = document.createElement('span');
      var swatch = document.createElement('i');
      swatch.style.background = s.color;
      item.appendChild(swatch);
      var last = lastValue(points, s.key);
      item.appendChild(document.createTextNode(s.label + ' ' + format(last)));
      legend.appendChild(item);
    });
  }

  var STATUS_TEXT = { ok: 'Healthy', degraded: 'Degraded', failing: 'Failing' };

  function render(o) {
    var status = byId('status');
    status.textContent = STATUS_TEXT[o.health.status] || o.health.status;
    status.className = 'pill pill-' + o.health.status;
    setText('instance', o.instance);
    setText('mode', o.mode === 'production' ? 'production (Kafka + Redis)' : 'dev (embedded)');
    setText('uptime', fmtDuration(Date.parse(o.now) - Date.parse(o.startedAt)));
    setText('updated', clock(Date.now()));

    var problems = byId('problems');
    problems.replaceChildren();
    if (o.health.problems.length === 0) {
      var ok = document.createElement('li');
      ok.className = 'good';
      ok.textContent = 'No problems: every partition runs, calls succeed, no new dead letters.';
      problems.appendChild(ok);
    }
    o.health.problems.forEach(function (p) {
      var li = document.createElement('li');
      li.className = 'bad';
      li.textContent = clip(p, 240);
      li.title = p;
      problems.appendChild(li);
    });

    var h = o.history;
    setText('kpi-ingress', fmtRate(recentRate(h, 'ingress')));
    setText('kpi-ingress-total', fmtInt(o.totals.ingress));
    setText('kpi-invocations', fmtRate(recentRate(h, 'invocations')));
    setText('kpi-invocations-total', fmtInt(o.totals.invocations));
    setText('kpi-egress', fmtRate(recentRate(h, 'egress')));
    setText('kpi-egress-total', fmtInt(o.totals.egress));
    setText('kpi-p99', fmtMs(lastValue(h, 'p99Ms')));
    setText('kpi-p50', fmtMs(lastValue(h, 'p50Ms')));
    setText('kpi-lag', fmtInt(o.lag.total));
    setText('kpi-lag-max', fmtInt(o.lag.max));
    setText('kpi-partitions', fmtInt(o.lag.partitions));
    setText('kpi-dead', fmtInt(o.deadLetters.total));
    setText('kpi-failed', fmtInt(o.totals.failedMessages));
    byId('kpi-dead-card').classList.toggle('alert', o.deadLetters.total > 0);
    byId('kpi-failed-card').classList.toggle('alert', o.totals.failedMessages > 0);
    var codes = Object.keys(o.deadLetters.byCode);
    setText('kpi-dead-sub', codes.length === 0 ? 'in the topic' : codes.length + ' code' + (codes.length > 1 ? 's' : ''));

    drawChart('chart-throughput', 'legend-throughput', o.history, [
      { key: 'ingress', label: 'in', color: '#2f6fde' },
      { key: 'invocations', label: 'invocations', color: '#7c4dcc' },
      { key: 'egress', label: 'egress', color: '#138a8a' },
      { key: 'deadLetters', label: 'dead letters', color: '#d64545' }
    ], fmtRate);
    drawChart('chart-latency', 'legend-latency', o.history, [
      { key: 'p50Ms', label: 'p50', color: '#2f6fde' },
      { key: 'p99Ms', label: 'p99', color: '#d98b00' }
    ], fmtAxisMs);

    fillTable('functions', o.functions, 'no function called yet', [
      [function (f) { return f.functionType; }],
      [function (f) { return fmtInt(f.invocations); }, 'num'],
      [function (f) { return fmtInt(f.failedMessages); }, 'num'],
      [function (f) { return fmtPct(f.errorRate); }, 'num'],
      [function (f) { return fmtMs(f.p50Ms); }, 'num'],
      [function (f) { return fmtMs(f.p99Ms); }, 'num'],
      [function (f) { return fmtInt(f.retries); }, 'num']
    ], function (f) { return f.errorRate > 0 ? 'bad' : ''; });

    fillTable('endpoints', o.endpoints, 'no endpoint called yet', [
      [function (e) { return e.url; }, 'url', function (e) { return e.url; }],
      [function (e) { return fmtInt(e.calls); }, 'num'],
      [function (e) { return fmtInt(e.failures); }, 'num'],
      [function (e) { return fmtPct(e.errorRate); }, 'num'],
      [function (e) { return e.lastError ? e.lastError.code + ' (' + fmtAgo(e.lastError.at) + '): ' + clip(e.lastError.message, 160) : ''; }, 'wrap',
        function (e) { return e.lastError ? e.lastError.message : ''; }]
    ], function (e) { return e.errorRate > 0 ? 'bad' : ''; });

    renderCluster(o.cluster, o.instance);
    renderTopics(o.topics);

    setText('partitions-owner', 'owned by ' + o.instance);
    fillTable('partitions', o.partitions, 'no partition assigned to this process', [
      [function (p) { return String(p.partition); }, 'num'],
      [function (p) { return p.status === 'running' ? (p.paused ? 'backpressure' : 'running') : p.status; }],
      [function (p) { return fmtInt(p.lag); }, 'num'],
      [function (p) { return fmtInt(p.mailbox); }, 'num'],
      [function (p) { return fmtInt(p.inFlight); }, 'num'],
      [function (p) { return fmtInt(p.delayedMessages + (p.eventTimers || 0)); }, 'num', function (p) {
        return fmtInt(p.delayedMessages) + ' delayed messages, ' + fmtInt(p.eventTimers || 0) + ' event-time timers';
      }],
      [function (p) { return fmtWatermark(p.watermark); }, 'num', function (p) {
        return dash(p.watermark) ? 'no watermark yet' : new Date(p.watermark).toISOString() + ' (' + fmtDuration(Date.now() - p.watermark) + ' behind the clock)';
      }],
      [function (p) { return fmtMs(p.lastCheckpointMs); }, 'num']
    ], function (p) { return p.status !== 'running' ? 'bad' : p.paused ? 'warn' : ''; });

    setText('dead-topic', o.deadLetters.topic);
    var chips = byId('dead-codes');
    chips.replaceChildren();
    codes.forEach(function (c) {
      var chip = document.createElement('span');
      chip.className = 'chip';
      chip.textContent = c + ' × ' + fmtInt(o.deadLetters.byCode[c]);
      chips.appendChild(chip);
    });
    fillTable('dead-letters', o.deadLetters.recent, 'no dead letters', [
      [function (d) { return d.failedAt ? fmtAgo(d.failedAt) : ''; }],
      [function (d) { return d.code; }],
      [function (d) { return d.target || d.key || ''; }, 'wrap'],
      [function (d) { return clip(d.reason, 160); }, 'wrap', function (d) { return d.reason; }]
    ]);

    setText('memory', fmtBytes(o.memory.rssBytes));
    setText('cache', fmtPct(o.stateCache.hitRate));
    setText('inflight', fmtInt(o.client.inFlight));
    setText('queued', fmtInt(o.client.queued));
  }

  function renderTopics(t) {
    byId('topics-card').classList.toggle('hidden', !t);
    if (!t) return;
    setText('topics-where', t.mode === 'kafka' ? 'on ' + t.brokers.join(', ') : 'embedded (statefun produce / consume)');
    fillTable('topics', t.list, 'the module has no Kafka ingress and no function has written to a Kafka egress yet', [
      [function (x) { return x.topic; }],
      [function (x) { return x.roles.join(', '); }],
      [function (x) { return fmtInt(x.partitions); }, 'num'],
      [function (x) { return fmtInt(x.records); }, 'num'],
      [function (x) { return x.roles.length === 1 && x.roles[0] === 'egress' ? '' : fmtInt(x.moved); }, 'num'],
      [function (x) { return fmtInt(x.deadLetters); }, 'num']
    ], function (x) { return x.deadLetters > 0 ? 'warn' : ''; });
  }

  function partitionList(ps) {
    return ps.length > 8 ? ps.slice(0, 8).join(', ') + ' … (' + ps.length + ')' : ps.join(', ');
  }

  function renderCluster(c, self) {
    byId('cluster-card').classList.toggle('hidden', !c);
    if (!c) return;
    setText('cluster-summary', c.members.length + ' process' + (c.members.length === 1 ? '' : 'es') + ' · ' + c.totalPartitions + ' partitions');
    var notes = [];
    if (c.unowned.length > 0) notes.push('without an owner: partition' + (c.unowned.length > 1 ? 's ' : ' ') + partitionList(c.unowned));
    if (c.contested.length > 0) notes.push('moving between processes: ' + partitionList(c.contested));
    var note = byId('cluster-note');
    note.textContent = notes.length === 0 ? 'every partition has one owner' : notes.join(' · ');
    note.className = 'cluster-note ' + (c.unowned.length > 0 ? 'bad' : notes.length > 0 ? 'warn' : 'good');
    fillTable('cluster', c.members, 'no process has reported yet', [
      [function (m) { return m.instance + (m.instance === self ? ' (this one)' : ''); }],
      [function (m) { return m.ready ? 'ready' : 'recovering'; }],
      [function (m) { return fmtInt(m.partitions.length); }, 'num', function (m) {
        return m.partitions.map(function (p) { return p.partition; }).join(', ');
      }],
      [function (m) { return fmtInt(m.partitions.reduce(function (n, p) { return n + (p.lag || 0); }, 0)); }, 'num'],
      [function (m) { return fmtDuration(m.reportAgeMs) + ' ago'; }, 'num']
    ], function (m) { return m.ready ? '' : 'warn'; });
  }

  function showTokenForm(show) {
    byId('token-form').classList.toggle('hidden', !show);
    byId('main').classList.toggle('hidden', show);
  }

  function poll() {
    var headers = {};
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.authorization = 'Bearer ' + token;
    fetch('/v1/overview', { headers: headers, cache: 'no-store' })
      .then(function (res) {
        if (res.status === 401) {
          showTokenForm(true);
          return null;
        }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (o) {
        if (o === null) return;
        showTokenForm(false);
        render(o);
        setTimeout(poll, POLL_MS);
      })
      .catch(function (err) {
        var status = byId('status');
        status.textContent = 'unreachable';
        status.className = 'pill pill-failing';
        status.title = String(err);
        setTimeout(poll, POLL_MS);
      });
  }

  byId('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, byId('token').value);
    poll();
  });
  poll();
})();
`;

/** Static files by path, with their content types. */
export const dashboardAssets: Readonly<Record<string, { type: string; body: string }>> = {
  '/dashboard/': { type: 'text/html; charset=utf-8', body: html },
  '/dashboard/dashboard.css': { type: 'text/css; charset=utf-8', body: css },
  '/dashboard/dashboard.js': { type: 'text/javascript; charset=utf-8', body: js },
};
