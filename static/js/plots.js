/* Shared Plotly helpers: layout, download buttons (PNG + SVG), bands, C-rate and pause shading, cycle marks, fetch. */
(function () {
  "use strict";
  var FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  var DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
  var BAND_FILLS = ["rgba(36,89,197,0.07)", "rgba(220,104,3,0.09)", "rgba(7,148,85,0.08)",
                    "rgba(122,90,248,0.08)", "rgba(14,147,132,0.08)", "rgba(193,21,116,0.07)"];

  function slug(text) { return String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, ""); }

  function config(filename) {
    return {
      responsive: true, displaylogo: false,
      toImageButtonOptions: { format: "png", filename: filename, scale: 2, width: 900, height: 560 },
      modeBarButtonsToRemove: ["lasso2d", "select2d"],
      modeBarButtonsToAdd: [{
        name: "Download plot as SVG", icon: Plotly.Icons.disk,
        click: function (gd) { Plotly.downloadImage(gd, { format: "svg", filename: filename, width: 900, height: 560 }); }
      }]
    };
  }

  function layout(title, xTitle, yTitle, extra) {
    var base = {
      title: { text: title, font: { size: 15 }, x: 0.01, xanchor: "left" },
      font: { family: FONT, size: 12, color: "#1d2433" },
      margin: { l: 64, r: 20, t: 44, b: 52 },
      paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      xaxis: { title: { text: xTitle }, zeroline: false, gridcolor: "#eef1f6", linecolor: "#98a2b3", ticks: "outside" },
      yaxis: { title: { text: yTitle }, zeroline: false, gridcolor: "#eef1f6", linecolor: "#98a2b3", ticks: "outside" },
      // On the right, beside the plot: never over the axis titles, however many entries (12 cells).
      legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top", font: { size: 11 } },
      hovermode: "closest"
    };
    return Object.assign(base, extra || {});
  }

  function draw(el, traces, lay, filename) {
    el.classList.remove("is-empty");
    return Plotly.react(el, traces, lay, config(filename || slug(lay.title.text)));
  }

  function empty(el, message) {
    if (el.data) { Plotly.purge(el); }
    el.classList.add("is-empty");
    el.innerHTML = '<p class="empty"></p>';
    el.firstChild.textContent = message;
  }

  function hexToRgba(hex, alpha) {
    var h = (hex || "#667085").replace("#", "");
    if (h.length === 3) { h = h.split("").map(function (c) { return c + c; }).join(""); }
    var n = parseInt(h, 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  /* Mean line with a band (min-max or mean±sd) for one group's stats on the cycle axis. */
  function bandTraces(name, color, x, stats, band, yaxis, nCells) {
    var lo, hi, label;
    if (band === "sd") {
      lo = stats.mean.map(function (m, i) { return m === null ? null : m - (stats.sd[i] || 0); });
      hi = stats.mean.map(function (m, i) { return m === null ? null : m + (stats.sd[i] || 0); });
      label = "±1 sd";
    } else { lo = stats.min; hi = stats.max; label = "min–max"; }
    var common = { x: x, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: name };
    if (yaxis) { common.yaxis = yaxis; }
    return [
      Object.assign({}, common, { y: hi, name: name + " " + label + " (upper)" }),
      Object.assign({}, common, { y: lo, name: name + " " + label, fill: "tonexty", fillcolor: hexToRgba(color, 0.18) }),
      Object.assign({ x: x, y: stats.mean, mode: "lines", name: name + " (mean of ≤ " + nCells + " cells)", legendgroup: name,
        line: { color: color, width: 2.2 },
        // n per point: cells that reached the cycle (a band narrows where n drops).
        customdata: stats.mean.map(function (_, i) { return [stats.sd[i], stats.n ? stats.n[i] : nCells]; }),
        hovertemplate: name + "<br>cycle %{x}: %{y:.2f} (sd %{customdata[0]:.2f}, n=%{customdata[1]})<extra></extra>" },
        yaxis ? { yaxis: yaxis } : {})
    ];
  }

  /* Shade runs of equal C-rate label as vertical bands with the label on top. */
  /* Labels never overlap: a band gets its own label only when it is wide enough for it (about 7 px per
     character on a ~600 px axis); runs of narrow bands (a rate test's steps) share ONE label over their span,
     e.g. "rate test 0.1C→1C", and a span too narrow even for that stays unlabelled (the shading remains). */
  function rateBands(segments) {
    var shapes = [], annotations = [], labels = [];
    var segs = (segments || []).filter(function (s) { return s.label; });
    if (!segs.length) { return { shapes: shapes, annotations: annotations }; }
    var span = Math.max(segs[segs.length - 1].to - segs[0].from + 1, 1);
    var fits = function (from, to, text) { return (to - from + 1) / span * 600 >= text.length * 5.5 + 4; };
    var pending = [];
    function flush() {
      if (!pending.length) { return; }
      var first = pending[0], last = pending[pending.length - 1];
      var names = pending.map(function (s) { return s.label; });
      var text = pending.length === 1 ? names[0] : (first.segment === "rate-test" ? "rate test " : "") + names[0] + "→" + names[names.length - 1];
      if (!fits(first.from, last.to, text)) { text = pending.length === 1 ? "" : "rate test"; }
      if (text && fits(first.from, last.to, text)) {
        annotations.push({ x: (first.from + last.to) / 2, y: 1, xref: "x", yref: "paper", yanchor: "bottom", showarrow: false,
          text: text, font: { size: 10, color: "#5b6478" } });
      }
      pending = [];
    }
    segs.forEach(function (s) {
      if (labels.indexOf(s.label) < 0) { labels.push(s.label); }
      var fill = BAND_FILLS[labels.indexOf(s.label) % BAND_FILLS.length];
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: s.from - 0.5, x1: s.to + 0.5, y0: 0, y1: 1,
        fillcolor: fill, line: { width: 0 }, layer: "below" });
      var text = s.label + (s.segment && s.segment !== "other" && s.segment !== "rate-test" ? " · " + s.segment : "");
      if (fits(s.from, s.to, text)) {
        flush();
        annotations.push({ x: (s.from + s.to) / 2, y: 1, xref: "x", yref: "paper", yanchor: "bottom", showarrow: false,
          text: text, font: { size: 10, color: "#5b6478" } });
      } else { pending.push(s); }
    });
    flush();
    return { shapes: shapes, annotations: annotations };
  }

  /* Pauses and interruptions on the cycle axis: a red (pause) or violet (interruption) band per finding, plus one legend entry with the
     finding's words on hover (marker at the discharge capacity of that cycle). */
  function pauseBands(pauses, capOf) {
    var shapes = [], x = [], y = [], text = [];
    (pauses || []).forEach(function (p) {
      var color = p.kind === "pause" ? "rgba(217,45,32," : "rgba(122,90,248,";
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: p.from_cycle - 0.45, x1: p.to_cycle + 0.45, y0: 0, y1: 1,
        fillcolor: color + "0.16)", line: { color: color + "0.7)", width: 1, dash: "dot" }, layer: "below",
        name: p.kind + "-band" });
      x.push((p.from_cycle + p.to_cycle) / 2);
      y.push(capOf && capOf[p.from_cycle] !== undefined ? capOf[p.from_cycle] : null);
      var where = p.first_record === null ? "" : " (records " + p.first_record + "–" + p.last_record + ")";
      text.push((p.kind === "pause" ? "Pause" : "Interruption") + " in cycle " +
                (p.from_cycle === p.to_cycle ? p.from_cycle : p.from_cycle + "–" + p.to_cycle) + where + "<br>" +
                String(p.message).replace(/(.{1,70})(\s|$)/g, "$1<br>"));
    });
    var traces = x.length ? [{ x: x, y: y, mode: "markers", name: "Pause / interruption", hovertext: text,
      hoverinfo: "text", marker: { symbol: "x-thin-open", size: 11, color: "#d92d20", line: { width: 2 } } }] : [];
    return { shapes: shapes, traces: traces };
  }

  /* A vertical line at one cycle (knee, reference); with a legend marker unless `lineOnly`. */
  function cycleMark(cycle, capOf, label, color, hover, lineOnly) {
    if (cycle === null || cycle === undefined) { return { shapes: [], traces: [] }; }
    var shapes = [{ type: "line", xref: "x", yref: "paper", x0: cycle, x1: cycle, y0: 0, y1: 1, name: slug(label),
                    line: { color: color, width: 1.2, dash: lineOnly ? "dot" : "dash" } }];
    var traces = lineOnly ? [] : [{ x: [cycle], y: [capOf ? capOf[cycle] : null], mode: "markers",
      name: label + " (cycle " + cycle + ")", hovertext: [hover], hoverinfo: "text",
      marker: { symbol: "diamond", size: 10, color: color } }];
    return { shapes: shapes, traces: traces };
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(url + " answered " + r.status); }
      return r.json();
    });
  }

  /* Charge and discharge halves of one cycle as one trace: a null gap separates them. */
  function joinHalves(traces, xKey, yKey) {
    var byCycle = {};
    traces.forEach(function (t) {
      var c = byCycle[t.cycle] || (byCycle[t.cycle] = { x: [], y: [] });
      if (c.x.length) { c.x.push(null); c.y.push(null); }
      c.x = c.x.concat(t[xKey]); c.y = c.y.concat(t[yKey]);
    });
    return byCycle;
  }

  /* dQ/dV per cycle, charge and discharge told apart: discharge drawn negative (the usual sign convention)
     and dashed, both halves of a cycle under ONE legend entry (legendgroup, legend on the first half only).
     style(cycle, index) gives { color, name, dash } of a cycle. */
  function dqdvTraces(traces, style) {
    var cycles = [];
    traces.forEach(function (t) { if (cycles.indexOf(t.cycle) < 0) { cycles.push(t.cycle); } });
    cycles.sort(function (a, b) { return a - b; });
    var out = [];
    cycles.forEach(function (c, i) {
      var s = style(c, i), shown = false, group = s.name;
      ["charge", "discharge"].forEach(function (half) {
        traces.filter(function (t) { return t.cycle === c && t.half === half; }).forEach(function (t) {
          var sign = half === "discharge" ? -1 : 1;
          out.push({ x: t.voltage_v, y: t.dqdv.map(function (v) { return v === null ? null : sign * Math.abs(v); }),
                     mode: "lines", name: s.name, legendgroup: group, showlegend: !shown,
                     line: { color: s.color, width: 1.6, dash: half === "discharge" ? "dash" : (s.dash || "solid") },
                     hovertemplate: s.name + " · " + half + "<br>%{x:.3f} V: %{y:.1f}<extra></extra>" });
          shown = true;
        });
      });
    });
    return out;
  }

  window.Plots = { config: config, layout: layout, draw: draw, empty: empty, bandTraces: bandTraces, dqdvTraces: dqdvTraces,
    rateBands: rateBands, pauseBands: pauseBands, cycleMark: cycleMark, getJSON: getJSON, joinHalves: joinHalves, hexToRgba: hexToRgba, DASHES: DASHES, slug: slug };
})();
