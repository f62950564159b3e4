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
    if (el.classList.contains("is-empty")) { el.innerHTML = ""; }  // a message shown before (loading, none) goes
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

  /* The C-rate a label stands for ("C/3" -> 1/3, "0.5C" -> 0.5), to name a rate test by its lowest and highest. */
  function rateOf(label) {
    var m = /^C\/(\d+(?:\.\d+)?)$/.exec(label);
    if (m) { return 1 / Number(m[1]); }
    var n = parseFloat(label);
    return isFinite(n) ? n : null;
  }

  /* Shade runs of equal C-rate label as vertical bands with the label on top.
     Labels never overlap, measured in pixels on the plot's width (`widthPx`, the drawing area; 600 when not
     given): a band wide enough gets its own label; the steps of a rate test too narrow for theirs share ONE
     label, "rate test 0.1C–1C", which may stick out of its few cycles (a rate test is 2-3 % of a 500-cycle
     axis) as long as it hits no other label; any other label that would hit one is left out (the shading and
     the hover stay). */
  function rateBands(segments, widthPx) {
    var shapes = [], labels = [], candidates = [];
    var segs = (segments || []).filter(function (s) { return s.label; });
    if (!segs.length) { return { shapes: shapes, annotations: [] }; }
    var lo = segs[0].from - 0.5, hi = segs[segs.length - 1].to + 0.5;
    var width = widthPx || 600, pxPerCycle = width / Math.max(hi - lo, 1);
    var GAP_PX = 6, textPx = function (text) { return text.length * 5.5 + 4; };  // 10 px font
    var bandPx = function (from, to) { return (to - from + 1) * pxPerCycle; };
    segs.forEach(function (s) {
      if (labels.indexOf(s.label) < 0) { labels.push(s.label); }
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: s.from - 0.5, x1: s.to + 0.5, y0: 0, y1: 1,
        fillcolor: BAND_FILLS[labels.indexOf(s.label) % BAND_FILLS.length], line: { width: 0 }, layer: "below" });
    });
    // Candidates, best first: labels that fit their band (0), a rate test's one label (1), others sticking out (2).
    for (var i = 0; i < segs.length; i++) {
      var s = segs[i];
      if (s.segment === "rate-test") {
        var j = i;
        while (j + 1 < segs.length && segs[j + 1].segment === "rate-test") { j++; }
        var steps = segs.slice(i, j + 1);
        if (steps.every(function (t) { return bandPx(t.from, t.to) >= textPx(t.label) + GAP_PX; })) {
          steps.forEach(function (t) { candidates.push({ from: t.from, to: t.to, text: t.label, rank: 0 }); });
        } else {
          var rates = steps.map(function (t) { return { label: t.label, rate: rateOf(t.label) }; })
            .filter(function (r) { return r.rate !== null; }).sort(function (a, b) { return a.rate - b.rate; });
          var text = "rate test" + (rates.length ? " " + rates[0].label +
            (rates[rates.length - 1].label !== rates[0].label ? "–" + rates[rates.length - 1].label : "") : "");
          candidates.push({ from: steps[0].from, to: steps[steps.length - 1].to, text: text, rank: 1 });
        }
        i = j;
        continue;
      }
      var full = s.label + (s.segment && s.segment !== "other" ? " · " + s.segment : "");
      var fits = bandPx(s.from, s.to) >= textPx(full);
      candidates.push({ from: s.from, to: s.to, text: fits ? full : s.label,
                        rank: fits || bandPx(s.from, s.to) >= textPx(s.label) ? 0 : 2 });
    }
    var placed = [];
    candidates.map(function (c, k) { return Object.assign({ order: k }, c); })
      .sort(function (a, b) { return a.rank - b.rank || a.order - b.order; })
      .forEach(function (c) {
        var w = textPx(c.text), mid = ((c.from + c.to) / 2 - lo) * pxPerCycle;
        var left = Math.min(Math.max(mid - w / 2, 0), width - w);  // kept inside the plot
        if (left < 0) { return; }  // wider than the whole plot
        var hit = placed.some(function (p) { return left < p.right + GAP_PX && p.left < left + w + GAP_PX; });
        if (!hit) { placed.push({ left: left, right: left + w, c: c }); }
      });
    var annotations = placed.sort(function (a, b) { return a.left - b.left; }).map(function (p) {
      return { x: lo + (p.left + (p.right - p.left) / 2) / pxPerCycle, y: 1, xref: "x", yref: "paper", yanchor: "bottom",
        showarrow: false, text: p.c.text, font: { size: 10, color: "#5b6478" }, name: "rate-label" };
    });
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
