// wattlens live page: first paint from api/snapshot and api/history, then
// one Server-Sent Event per tick from api/stream. No library: the chart is
// drawn as SVG here. Every figure is put in with textContent, never as
// markup, so process names and command lines cannot inject anything.
'use strict';
(function () {
  var SVGNS = 'http://www.w3.org/2000/svg';
  var SERIES = 5; // consumers drawn on the chart
  var main = document.getElementById('main');
  var windowMs = (parseFloat(main.dataset.historyMinutes) || 5) * 60000;
  var state = { seq: 0, rec: null, history: [] };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'class') e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      if (arguments[i] != null) e.appendChild(arguments[i]);
    }
    return e;
  }

  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    return e;
  }

  function setText(node, s) { if (node.textContent !== s) node.textContent = s; }

  function fmtW(w) {
    if (!isFinite(w)) return '—';
    if (Math.abs(w) >= 1000) return (w / 1000).toFixed(2) + ' kW';
    if (Math.abs(w) >= 100) return w.toFixed(0) + ' W';
    if (Math.abs(w) >= 10) return w.toFixed(1) + ' W';
    return w.toFixed(2) + ' W';
  }
  function fmtJ(j) {
    if (j < 1000) return j.toFixed(1) + ' J';
    if (j < 3.6e6) return (j / 1000).toFixed(1) + ' kJ';
    return (j / 3.6e6).toFixed(2) + ' kWh';
  }
  function fmtPct(x) { return (x * 100).toFixed(x < 0.1 ? 1 : 0) + ' %'; }
  function basename(p) { var i = p.lastIndexOf('/'); return i < 0 ? p : p.slice(i + 1); }

  // ---- status -----------------------------------------------------------
  function setStatus(stateName, text) {
    var s = $('status');
    s.dataset.state = stateName;
    setText($('status-text'), text);
  }

  // ---- headline and cards ----------------------------------------------
  function renderHero(rec) {
    var host = rec.host, up = rec.sensor_up;
    var hp = $('host-power');
    setText(hp, up ? host.power_watts.toFixed(1) + ' W' : 'sensor down');
    hp.dataset.watts = String(host.power_watts);
    hp.dataset.seq = String(rec.seq);
    var src = $('host-source');
    src.dataset.source = host.source;
    setText(src, host.source === 'estimated' ? '≈ estimated' : '● measured');
    src.title = host.source === 'estimated'
      ? 'Estimated from CPU use with a power model' + (rec.method ? ' (' + rec.method + ')' : '')
      : 'Measured by hardware energy counters';
    var parts = [rec.sensor, 'step ' + rec.interval_seconds.toFixed(rec.interval_seconds < 1 ? 2 : 1) + ' s'];
    if (rec.cpus) parts.push(rec.cpus + ' CPUs');
    parts.push(fmtJ(host.energy_joules) + ' since start');
    setText($('sensor'), parts.join(' · '));
    setText($('host-resources'), up ? resourceSplit(host.resources, 'By resource: ') : '');
    var err = $('sensor-error');
    err.hidden = up;
    setText(err, up ? '' : 'Sensor down: ' + (rec.sensor_error || 'no reading') + '. Figures resume at the next good reading.');

    setText($('idle-power'), fmtW(rec.idle.policy === 'shared' ? host.idle_power_watts : rec.idle.power_watts));
    setText($('idle-note'), rec.idle.policy === 'shared'
      ? 'shared over processes'
      : (host.idle_origin === 'learning' ? 'still learning' : host.idle_origin));
    setText($('active-power'), fmtW(Math.max(0, host.power_watts - rec.idle.power_watts)));
    var un = unattributed(rec);
    setText($('unattributed-power'), fmtW(un.power_watts));
    setText($('unattributed-note'), host.power_watts > 0 ? fmtPct(un.power_watts / host.power_watts) + ' of host' : '');
    setText($('utilisation'), up ? fmtPct(rec.utilisation) : '—');
    setText($('cpus'), rec.processes + ' processes');
    var cov = $('coverage-card');
    var coverage = rec.attribution && rec.attribution.coverage;
    if (typeof coverage === 'number') {
      cov.hidden = false;
      setText($('coverage'), fmtPct(coverage));
    } else {
      cov.hidden = true;
    }
  }

  // resourceSplit writes the interval's split by resource (JSON
  // "resources": cpu, memory, storage, network, gpu, platform) as the
  // shares of at least 1 %, largest first; '' when there is none.
  function resourceSplit(res, prefix) {
    if (!res) return '';
    var parts = [], total = 0;
    Object.keys(res).forEach(function (k) { total += res[k].interval_energy_joules; });
    if (total <= 0) return '';
    Object.keys(res).forEach(function (k) {
      var f = res[k].interval_energy_joules / total;
      if (f >= 0.01) parts.push({ name: k, f: f });
    });
    parts.sort(function (a, b) { return b.f - a.f; });
    return prefix + parts.map(function (p) { return p.name + ' ' + fmtPct(p.f); }).join(' · ');
  }

  // unattributed is the consumer of that kind: the active energy of busy
  // CPU time that no readable process holds.
  function unattributed(rec) {
    for (var i = 0; i < rec.consumers.length; i++) {
      if (rec.consumers[i].kind === 'unattributed') return rec.consumers[i];
    }
    return { power_watts: 0, energy_joules: 0 };
  }

  // ---- tables -------------------------------------------------------------
  function fillBody(table, rows, cols, emptyText) {
    var tbody = el('tbody');
    if (rows.length === 0) {
      tbody.appendChild(el('tr', null, el('td', { colspan: String(cols), class: 'empty', text: emptyText })));
    }
    rows.forEach(function (r) { tbody.appendChild(r); });
    var old = table.tBodies[0];
    table.replaceChild(tbody, old);
  }

  function shareCell(w, host) {
    var f = host > 0 ? Math.max(0, Math.min(1, w / host)) : 0;
    var fill = el('div', { class: 'fill' });
    fill.style.width = (f * 100).toFixed(1) + '%';
    return el('td', { class: 'share-col' },
      el('div', { class: 'share' },
        el('div', { class: 'bar', 'aria-hidden': 'true' }, fill),
        el('span', { class: 'pct', text: fmtPct(f) })));
  }

  function renderProcesses(rec) {
    var host = rec.host.power_watts, rows = [], other = null;
    rec.consumers.forEach(function (c) {
      if (c.kind === 'other') { other = c; return; }
      if (c.kind === 'unattributed') return; // a row of its own, below
      var name = c.kind === 'vm' ? c.vm : (c.comm || basename(c.exe || '') || 'pid ' + c.pid);
      var th = el('th', { scope: 'row' }, document.createTextNode(name));
      if (c.kind === 'vm') th.appendChild(el('span', { class: 'tag', text: 'VM' }));
      if (c.container_name) th.appendChild(el('span', { class: 'tag', text: c.container_name }));
      if (c.cmdline) th.appendChild(el('span', { class: 'cmd', title: c.cmdline, text: c.cmdline }));
      var split = resourceSplit(c.resources, '');
      if (split) th.appendChild(el('span', { class: 'cmd', title: 'Energy of the step by resource', text: split }));
      rows.push(el('tr', null, th,
        el('td', { class: 'num hide-narrow', text: String(c.pid) }),
        el('td', { class: 'num', text: fmtW(c.power_watts) }),
        shareCell(c.power_watts, host),
        el('td', { class: 'num hide-narrow', text: rec.interval_seconds > 0 ? (100 * c.cpu_seconds / rec.interval_seconds).toFixed(0) + ' %' : '—' }),
        el('td', { class: 'num hide-narrow', text: fmtJ(c.energy_joules) })));
    });
    function rest(label, w, j, cpu, title) {
      var th = el('th', { scope: 'row', text: label });
      if (title) th.title = title;
      return el('tr', { class: 'rest' }, th,
        el('td', { class: 'num hide-narrow', text: '' }),
        el('td', { class: 'num', text: fmtW(w) }),
        shareCell(w, host),
        el('td', { class: 'num hide-narrow', text: cpu }),
        el('td', { class: 'num hide-narrow', text: fmtJ(j) }));
    }
    if (other) {
      var cpu = rec.interval_seconds > 0 ? (100 * other.cpu_seconds / rec.interval_seconds).toFixed(0) + ' %' : '—';
      rows.push(rest('Other processes (' + (other.count || 0) + ')', other.power_watts, other.energy_joules, cpu,
        'The processes not listed; their energy also counts those that have exited since start'));
    }
    var un = unattributed(rec);
    rows.push(rest('Unattributed', un.power_watts, un.energy_joules, '—',
      'Busy CPU time that no visible process holds (interrupts, processes outside this view)'));
    if (rec.idle.policy !== 'shared') {
      rows.push(rest('Idle', rec.idle.power_watts, rec.idle.energy_joules, '—', 'The idle baseline: what the machine draws doing nothing'));
    }
    fillBody($('processes'), rows, 6, 'No process yet.');
  }

  function renderZones(rec) {
    var rows = rec.zones.map(function (z) {
      return el('tr', null,
        el('th', { scope: 'row', text: z.name + (z.name !== z.zone ? ' (' + z.zone + ')' : '') }),
        el('td', { text: z.socket < 0 ? '—' : String(z.socket) }),
        el('td', { class: 'num', text: fmtW(z.power_watts) }),
        el('td', { text: z.source }));
    });
    fillBody($('zones'), rows, 4, 'No zone: the figures are estimated.');
  }

  function renderVMs(rec) {
    var rows = (rec.vms || []).map(function (v) {
      return el('tr', null,
        el('th', { scope: 'row', text: v.vm }),
        el('td', { class: 'num', text: String(v.pid) }),
        el('td', { class: 'num', text: fmtW(v.power_watts) }),
        el('td', { class: 'num', text: fmtJ(v.energy_joules) }));
    });
    fillBody($('vms'), rows, 4, 'No qemu/KVM guest on this machine.');
  }

  function renderWorkloads(rec) {
    var off = !Array.isArray(rec.workloads);
    $('workloads-off').hidden = !off;
    $('workloads').hidden = off;
    if (off) return;
    var list = rec.workloads.slice().sort(function (a, b) { return b.power_watts - a.power_watts; }).slice(0, 10);
    var rows = list.map(function (w) {
      var name = w.container_name || w.pod || (w.kind === 'service' ? w.id : w.id.slice(0, 12));
      return el('tr', null,
        el('th', { scope: 'row', text: name }),
        el('td', { text: w.kind + (w.runtime ? ' (' + w.runtime + ')' : '') }),
        el('td', { text: w.namespace || '—' }),
        el('td', { class: 'num', text: String(w.processes) }),
        el('td', { class: 'num', text: fmtW(w.power_watts) }),
        el('td', { class: 'num', text: fmtJ(w.energy_joules) }));
    });
    fillBody($('workloads'), rows, 6, 'No container, pod or service seen yet.');
  }

  // ---- chart --------------------------------------------------------------
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    // Four grid lines: quarters of these are round numbers.
    var steps = [1, 2, 4, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }

  // pathOf draws values (null: gap) at the points' times.
  function pathOf(pts, val, x, y) {
    var d = '', pen = false;
    for (var i = 0; i < pts.length; i++) {
      var v = val(pts[i]);
      if (v == null) { pen = false; continue; }
      d += (pen ? 'L' : 'M') + x(pts[i].t).toFixed(1) + ' ' + y(v).toFixed(1);
      pen = true;
    }
    return d;
  }

  function topSeries(pts) {
    var sums = {}, labels = {}, last = {};
    pts.forEach(function (p) {
      p.top.forEach(function (s) {
        sums[s.key] = (sums[s.key] || 0) + s.w;
        labels[s.key] = s.label;
      });
    });
    var lastPt = pts[pts.length - 1];
    if (lastPt) lastPt.top.forEach(function (s) { last[s.key] = s.w; });
    return Object.keys(sums).sort(function (a, b) { return sums[b] - sums[a]; }).slice(0, SERIES)
      .map(function (k, i) { return { key: k, label: labels[k], cls: 's' + (i + 1), last: last[k] }; });
  }

  // tickStep is the smallest round time step that leaves room for a label.
  function tickStep(span, px) {
    var steps = [10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 1800e3, 3600e3];
    for (var i = 0; i < steps.length; i++) if (px * steps[i] / span >= 64) return steps[i];
    return steps[steps.length - 1];
  }
  function fmtAgo(ms) {
    var s = Math.round(ms / 1000);
    return s % 60 === 0 ? (s / 60) + ' min' : s + ' s';
  }
  function fmtSpan(ms) {
    var s = Math.round(ms / 1000);
    if (s < 120) return s + ' seconds';
    var mnt = Math.round(s / 60);
    return mnt === 1 ? 'minute' : mnt + ' minutes';
  }

  var DASHES = ['', '7 4', '2 3', '9 3 2 3', '4 4', '1 2'];

  function legendItem(cls, dash, label, value) {
    var sample = svg('svg', { viewBox: '0 0 26 10', 'aria-hidden': 'true' });
    var line = svg('line', { x1: 1, y1: 5, x2: 25, y2: 5, class: 'line ' + cls });
    if (dash) line.setAttribute('stroke-dasharray', dash);
    line.setAttribute('stroke-width', cls === 'host' ? 3 : 2);
    sample.appendChild(line);
    return el('li', null, sample, el('span', { class: 'name', text: label }), el('span', { class: 'val', text: value }));
  }

  function renderChart() {
    var chart = $('chart');
    var pts = state.history;
    var W = Math.max(280, Math.round(chart.clientWidth || 800));
    var H = Math.max(160, Math.round(chart.clientHeight || 240));
    chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    chart.dataset.points = String(pts.length);
    var keep = [chart.querySelector('title'), chart.querySelector('desc')];
    while (chart.lastChild) chart.removeChild(chart.lastChild);
    keep.forEach(function (k) { chart.appendChild(k); });
    var legend = $('legend');
    while (legend.lastChild) legend.removeChild(legend.lastChild);
    if (pts.length === 0) return;

    var narrow = W < 480;
    var m = { l: narrow ? 40 : 48, r: 10, t: 10, b: 22 };
    var now = pts[pts.length - 1].t;
    // The time axis spans what the agent has, from a minute up to the
    // history window.
    var span = Math.min(windowMs, Math.max(60000, now - pts[0].t));
    var t0 = now - span;
    setText($('chart-window'), fmtSpan(span));
    var series = topSeries(pts);
    var maxV = 0;
    pts.forEach(function (p) { if (p.up) maxV = Math.max(maxV, p.host); });
    var yMax = niceMax(maxV * 1.08);
    function x(t) { return m.l + (W - m.l - m.r) * (t - t0) / span; }
    function y(v) { return H - m.b - (H - m.t - m.b) * v / yMax; }

    var g = svg('g', { 'aria-hidden': 'true' });
    for (var i = 0; i <= 4; i++) {
      var v = yMax * i / 4, yy = y(v).toFixed(1);
      g.appendChild(svg('line', { x1: m.l, x2: W - m.r, y1: yy, y2: yy, class: 'grid' }));
      g.appendChild(svg('text', { x: m.l - 6, y: Number(yy) + 4, 'text-anchor': 'end', class: 'axis', text: (yMax < 10 ? v.toFixed(1) : v.toFixed(0)) + ' W' }));
    }
    var tick = tickStep(span, W - m.l - m.r);
    for (var dt = 0; dt <= span + 1; dt += tick) {
      var tx = x(now - dt);
      var anchor = dt === 0 ? 'end' : (tx - m.l < 30 ? 'start' : 'middle');
      g.appendChild(svg('text', { x: tx.toFixed(1), y: H - 5, 'text-anchor': anchor, class: 'axis', text: dt === 0 ? 'now' : '−' + fmtAgo(dt) }));
    }
    chart.appendChild(g);

    var lines = svg('g', { 'aria-hidden': 'true' });
    lines.appendChild(svg('path', { d: pathOf(pts, function (p) { return p.up ? p.idle : null; }, x, y), class: 'line idle' }));
    series.slice().reverse().forEach(function (s) {
      var idx = Number(s.cls.slice(1)) - 1;
      var path = svg('path', { d: pathOf(pts, function (p) {
        if (!p.up) return null;
        for (var j = 0; j < p.top.length; j++) if (p.top[j].key === s.key) return p.top[j].w;
        return null;
      }, x, y), class: 'line ' + s.cls });
      if (DASHES[idx]) path.setAttribute('stroke-dasharray', DASHES[idx]);
      lines.appendChild(path);
    });
    lines.appendChild(svg('path', { d: pathOf(pts, function (p) { return p.up ? p.host : null; }, x, y), class: 'line host' }));
    chart.appendChild(lines);

    var last = pts[pts.length - 1];
    legend.appendChild(legendItem('host', '', 'Host', last.up ? fmtW(last.host) : '—'));
    legend.appendChild(legendItem('idle', '2 4', 'Idle', last.up ? fmtW(last.idle) : '—'));
    series.forEach(function (s, i) {
      legend.appendChild(legendItem(s.cls, DASHES[i], s.label, s.last != null ? fmtW(s.last) : '—'));
    });

    var ups = pts.filter(function (p) { return p.up; }).map(function (p) { return p.host; });
    var desc = 'Host power over the last ' + fmtSpan(span);
    if (ups.length) {
      desc += ': now ' + fmtW(last.host) + ', lowest ' + fmtW(Math.min.apply(null, ups)) + ', highest ' + fmtW(Math.max.apply(null, ups)) + '.';
    }
    if (series.length) {
      desc += ' Top consumers: ' + series.map(function (s) { return s.label + (s.last != null ? ' ' + fmtW(s.last) : ''); }).join(', ') + '.';
    }
    setText(chart.querySelector('desc'), desc);
  }

  // ---- data flow ----------------------------------------------------------
  function addPoint(p) {
    var h = state.history;
    if (h.length && h[h.length - 1].seq >= p.seq) return;
    h.push(p);
    var cut = 0;
    while (cut < h.length && p.t - h[cut].t > windowMs) cut++;
    if (cut) h.splice(0, cut);
  }

  function apply(rec) {
    if (rec.seq <= state.seq) return;
    state.seq = rec.seq;
    state.rec = rec;
    main.dataset.seq = String(rec.seq);
    addPoint(rec.point);
    renderHero(rec);
    renderProcesses(rec);
    renderZones(rec);
    renderVMs(rec);
    renderWorkloads(rec);
    renderChart();
    var when = new Date(rec.timestamp).toLocaleTimeString();
    if (rec.sensor_up) setStatus('live', 'Live · updated ' + when);
    else setStatus('down', 'Sensor down · ' + when);
  }

  function getJSON(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(url + ': ' + r.status);
      return r.json();
    });
  }

  function connect() {
    if (!window.EventSource) { setStatus('down', 'This browser cannot follow live updates.'); return; }
    var es = new EventSource('api/stream');
    es.addEventListener('snapshot', function (e) {
      try { apply(JSON.parse(e.data)); } catch (err) { setStatus('reconnecting', 'Bad update: ' + err.message); }
    });
    es.addEventListener('error', function () {
      setStatus('reconnecting', es.readyState === EventSource.CLOSED ? 'Disconnected; reload to retry' : 'Reconnecting…');
    });
  }

  var resizeTimer = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(renderChart, 150);
  });

  getJSON('api/history').then(function (h) {
    h.forEach(addPoint);
  }).catch(function () { /* the stream fills the chart */ }).then(function () {
    return getJSON('api/snapshot').then(apply, function () { /* before the first tick */ });
  }).then(connect);
})();
