/* Compare page: fetch /api/v1/compare/ with the page's querystring, draw the plots and summary tables;
 * the impedance row adds /api/v1/eis/rint/ (one request) and one spectrum detail per cell with EIS. */
(function () {
  "use strict";
  var P = window.Plots;
  var form = document.getElementById("compare-form");
  var statusEl = document.getElementById("compare-status");
  var MAX_PROFILE_CELLS = 12;
  var MAX_EIS_CELLS = 12;
  var NO_EIS = "No EIS data for this selection.";
  var SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "x"];
  var data = null;
  var profileCache = {};

  function params() { return new URLSearchParams(window.location.search); }
  function band() { return form.elements.band.value || "minmax"; }
  function show() { return form.elements.show.value || "mean"; }

  function memberOf(cell) { return data.groups.some(function (g) { return g.cells.indexOf(cell.id) >= 0; }); }

  /* Group mean + band and/or cell lines for one per-cycle metric. */
  function metricTraces(key) {
    var traces = [], mode = show();
    data.groups.forEach(function (g) {
      if (!g.cycle.length) { return; }
      if (mode !== "cells") { traces = traces.concat(P.bandTraces(g.name, g.color, g.cycle, g[key], band(), null, g.n_cells)); }
    });
    data.cells.forEach(function (c) {
      var single = c.selected && !memberOf(c);
      if (!c.cycle.length || (!single && mode === "mean")) { return; }
      traces.push({ x: c.cycle, y: c[key], mode: "lines", name: c.name, legendgroup: c.group,
        line: { color: c.color, width: single ? 2 : 1.2, dash: single ? "dot" : "solid" }, opacity: single ? 1 : 0.75,
        hovertemplate: c.name + "<br>cycle %{x}: %{y:.2f}<extra></extra>" });
    });
    return traces;
  }

  function refText() {
    var ref = data.selection.reference_cycle;
    return ref ? "cycle " + ref : "first long-term cycle";
  }

  function drawCyclePlots() {
    var defs = [
      ["plot-capacity", "discharge_mah_g", "Discharge capacity vs cycle", "Discharge capacity (mAh/g)", "discharge-capacity"],
      ["plot-ce", "ce_percent", "Coulombic efficiency vs cycle", "Coulombic efficiency (%)", "coulombic-efficiency"],
      ["plot-retention", "retention_percent", "Capacity retention vs " + refText(), "Retention (% of " + refText() + ")", "retention"]
    ];
    defs.forEach(function (d) {
      var el = document.getElementById(d[0]);
      var traces = metricTraces(d[1]);
      if (!traces.length) { P.empty(el, "No cycling data for this selection."); return; }
      P.draw(el, traces, P.layout(d[2], "Cycle number", d[3], { hovermode: "x unified" }), "compare-" + d[4]);
    });
  }

  function drawRate() {
    var el = document.getElementById("plot-rate"), rc = data.rate_capability;
    if (!rc.labels.length) { P.empty(el, "No C-rate labels in this selection."); return; }
    var traces = rc.groups.map(function (g) {
      var color = (data.groups.filter(function (x) { return x.id === g.id; })[0] || {}).color;
      return { type: "bar", x: rc.labels, y: g.mean, name: g.name, marker: { color: color },
               error_y: { type: "data", array: g.sd.map(function (v) { return v || 0; }), visible: true, color: "#344054" } };
    });
    var singles = data.cells.filter(function (c) { return (c.selected && !memberOf(c)) || show() !== "mean"; });
    rc.cells.forEach(function (c) {
      var cell = singles.filter(function (s) { return s.id === c.id; })[0];
      if (!cell) { return; }
      traces.push({ type: "scatter", mode: "markers", x: rc.labels, y: c.mean, name: c.name,
                    marker: { color: cell.color, size: 7, symbol: "diamond", line: { color: "#fff", width: 1 } } });
    });
    P.draw(el, traces, P.layout("Rate capability", "C-rate", "Mean discharge capacity (mAh/g)",
                                { barmode: "group", xaxis: { title: { text: "C-rate" }, type: "category" } }), "compare-rate-capability");
  }

  /* Profiles/dQ/dV: one replicate per group in "mean" mode, every cell otherwise (at most 12). */
  function profileCells() {
    var chosen = [], seen = {};
    data.cells.forEach(function (c) {
      var single = c.selected && !memberOf(c);
      if (show() === "mean" && !single && seen[c.group_id]) { return; }
      seen[c.group_id] = true; chosen.push(c);
    });
    return chosen.slice(0, MAX_PROFILE_CELLS);
  }

  /* Many cell x cycle traces: a vertical legend on the right keeps the axis titles free. */
  function sideLegend() {
    return { legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, font: { size: 10 } },
             margin: { l: 64, r: 10, t: 44, b: 66 } };
  }

  function cached(url) { return profileCache[url] || (profileCache[url] = P.getJSON(url)); }

  function drawProfiles() {
    var cycles = encodeURIComponent((form.elements.profile_cycles.value || "1,last").replace(/\s+/g, ""));
    var cells = profileCells();
    var vEl = document.getElementById("plot-profiles"), dEl = document.getElementById("plot-dqdv");
    if (!cells.length) { P.empty(vEl, "No cells."); P.empty(dEl, "No cells."); return Promise.resolve(); }
    var curves = cells.map(function (c) { return cached("/api/v1/cells/" + c.id + "/curves/?points=250&cycles=" + cycles); });
    var dqdvs = cells.map(function (c) { return cached("/api/v1/cells/" + c.id + "/dqdv/?cycles=" + cycles); });
    function overlay(results, xKey, yKey) {
      var traces = [];
      results.forEach(function (res, i) {
        var cell = cells[i], byCycle = P.joinHalves(res.traces, xKey, yKey);
        Object.keys(byCycle).map(Number).sort(function (a, b) { return a - b; }).forEach(function (cyc, j) {
          traces.push({ x: byCycle[cyc].x, y: byCycle[cyc].y, mode: "lines", name: cell.name + " · cycle " + cyc,
                        legendgroup: cell.name, line: { color: cell.color, width: 1.6, dash: P.DASHES[j % P.DASHES.length] } });
        });
      });
      return traces;
    }
    var note = show() === "mean" ? " (one replicate per group)" : "";
    var a = Promise.all(curves).then(function (res) {
      var traces = overlay(res, "capacity", "voltage_v");
      if (!traces.length) { P.empty(vEl, "None of these cycles exists."); return; }
      P.draw(vEl, traces, P.layout("Voltage profiles" + note, "Capacity (" + res[0].capacity_unit + ")", "Cell voltage (V)", sideLegend()),
             "compare-voltage-profiles");
    });
    var b = Promise.all(dqdvs).then(function (res) {
      var traces = overlay(res, "voltage_v", "dqdv");
      if (!traces.length) { P.empty(dEl, "None of these cycles exists."); return; }
      P.draw(dEl, traces, P.layout("dQ/dV" + note, "Cell voltage (V)", "dQ/dV (" + res[0].dqdv_unit + ")", sideLegend()),
             "compare-dqdv");
    });
    return Promise.all([a, b]);
  }

  /* The impedance row: R_int vs cycle (groups/cells by the show toggle) and the after-formation Nyquist plots. */
  function eisQuery() {
    return "groups=" + data.selection.groups.join(",") + "&cells=" + data.selection.cells.join(",");
  }

  function colorOf(list, id) { return (list.filter(function (x) { return x.id === id; })[0] || {}).color; }

  function drawRint(el, json) {
    var hasData = json.cells.some(function (c) { return c.r_int_ohm.some(function (v) { return v !== null; }); });
    if (!hasData) { P.empty(el, NO_EIS); return; }
    var mode = show();
    var cells = json.cells.filter(function (c) {
      var single = c.selected && !data.groups.some(function (g) { return g.id === c.group_id; });
      return mode !== "mean" || single;
    }).map(function (c) { return Object.assign({}, c, { color: colorOf(data.cells, c.id) }); });
    var groups = mode === "cells" ? [] : json.groups.map(function (g) {
      return Object.assign({}, g, { color: colorOf(data.groups, g.id) });
    });
    window.AssbEis.rint(el, { groups: groups, cells: cells }, {
      title: "R_int vs cycle" + (mode === "cells" ? " (cells)" : " (group mean ± sd)"),
      filename: "compare-r-int-vs-cycle", layout: sideLegend() });
  }

  /* One spectrum per cell: the earliest (after formation) of each cell that has EIS, at most 12. */
  function eisCells() {
    var rows = data.summary.cells.filter(function (r) { return r.r_int_spectrum_id; });
    return rows.slice(0, MAX_EIS_CELLS).map(function (r) {
      var cell = data.cells.filter(function (c) { return c.id === r.cell_id; })[0];
      var rank = data.cells.filter(function (c) { return c.group_id === cell.group_id; }).indexOf(cell);
      return { spectrum: r.r_int_spectrum_id, color: cell.color, symbol: SYMBOLS[rank % SYMBOLS.length] };
    }).concat(rows.length > MAX_EIS_CELLS ? [{ capped: rows.length }] : []);
  }

  function drawEis() {
    var rEl = document.getElementById("plot-rint"), nEl = document.getElementById("plot-nyquist");
    if (!rEl || !nEl) { return Promise.resolve(); }
    var fail = function (el) { return function (err) { P.empty(el, "Could not load EIS data: " + err.message); }; };
    var a = cached("/api/v1/eis/rint/?" + eisQuery()).then(function (json) { drawRint(rEl, json); }).catch(fail(rEl));
    var chosen = eisCells(), capped = chosen.length && chosen[chosen.length - 1].capped;
    if (capped) { chosen = chosen.slice(0, -1); }
    if (!chosen.length) { P.empty(nEl, NO_EIS); return a; }
    var b = Promise.all(chosen.map(function (c) { return cached("/api/v1/eis/spectra/" + c.spectrum + "/"); }))
      .then(function (details) {
        var spectra = details.map(function (d, i) { return Object.assign({}, d, { color: chosen[i].color, symbol: chosen[i].symbol }); });
        window.AssbEis.nyquist(nEl, spectra, {
          title: "Nyquist after formation" + (capped ? " (first " + MAX_EIS_CELLS + " of " + capped + " cells)" : ""),
          filename: "compare-nyquist", compactFits: true, layout: sideLegend() });
      }).catch(fail(nEl));
    return Promise.all([a, b, drawDrt()]);
  }

  /* The groups' DRTs at their first and last measured cycle, and each process's resistance vs cycle (mean ± sd
     over the replicate cells): GET /api/v1/eis/drt/. */
  function drawDrt() {
    var gEl = document.getElementById("plot-drt"), pEl = document.getElementById("plot-drt-processes");
    if (!gEl || !pEl) { return Promise.resolve(); }
    if (!data.selection.groups.length) { P.empty(gEl, "Choose groups to compare their DRTs."); P.empty(pEl, ""); return Promise.resolve(); }
    return cached("/api/v1/eis/drt/?groups=" + data.selection.groups.join(",")).then(function (json) {
      var curves = [], procs = [];
      json.groups.forEach(function (g) {
        var color = colorOf(data.groups, g.id) || g.color || null;
        g.drts.forEach(function (d) {
          var last = d.cycle === json.cycles[json.cycles.length - 1] && json.cycles.length > 1;
          curves.push({ x: d.tau_s, y: d.gamma_ohm, mode: "lines", type: "scatter", name: d.cell_name + " · cycle " + d.cycle,
                        legendgroup: "g" + g.id, line: { color: color, width: 1.4, dash: last ? "solid" : "dot" } });
        });
        g.processes.forEach(function (p) {
          var name = g.name + " ~" + p.f_hz_median.toPrecision(2) + " Hz";
          var upper = p.mean_ohm.map(function (m, i) { return p.sd_ohm[i] === null ? m : m + p.sd_ohm[i]; });
          var lower = p.mean_ohm.map(function (m, i) { return p.sd_ohm[i] === null ? m : m - p.sd_ohm[i]; });
          procs.push({ x: p.cycle.concat(p.cycle.slice().reverse()), y: upper.concat(lower.slice().reverse()), fill: "toself",
                       mode: "lines", line: { width: 0 }, fillcolor: "rgba(128,128,128,0.15)", hoverinfo: "skip", showlegend: false });
          procs.push({ x: p.cycle, y: p.mean_ohm, mode: "lines+markers", type: "scatter", name: name, line: { color: color } });
        });
      });
      if (!curves.length) { P.empty(gEl, NO_EIS); } else {
        P.draw(gEl, curves, P.layout("DRT at cycles " + json.cycles.join(" and "), "τ (s)", "γ (Ω)",
                                     Object.assign({ xaxis: { type: "log", title: { text: "τ (s)" } } }, sideLegend())), "compare-drt");
      }
      if (!procs.length) { P.empty(pEl, NO_EIS); } else {
        P.draw(pEl, procs, P.layout("DRT processes vs cycle (mean ± sd)", "Cycle", "Resistance (Ω)", sideLegend()), "compare-drt-processes");
      }
    }).catch(function (err) { P.empty(gEl, "Could not load DRT data: " + err.message); });
  }

  function fmt(value, decimals) {
    if (value === null || value === undefined) { return "—"; }
    return decimals === 0 ? String(value) : Number(value).toFixed(decimals);
  }

  function renderTable(el, idColumns, rows, columns, isGroup) {
    var thead = "<thead><tr>" + idColumns.map(function (c) { return "<th>" + c[1] + "</th>"; }).join("") +
      columns.map(function (c) { return '<th class="num">' + c.label + "</th>"; }).join("") + "</tr></thead>";
    el.innerHTML = thead + "<tbody></tbody>";
    var body = el.tBodies[0];
    if (!rows.length) {
      body.innerHTML = '<tr><td class="empty" colspan="' + (idColumns.length + columns.length) + '">Nothing to summarise.</td></tr>';
      return;
    }
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      idColumns.forEach(function (c) {
        var td = document.createElement("td");
        if (c[0] === "cell") {
          var a = document.createElement("a"); a.href = "/cells/" + r.cell_id + "/"; a.textContent = r.cell; td.appendChild(a);
          tr.dataset.cell = r.cell;
        } else { td.textContent = r[c[0]]; }
        if (c[0] === "group") { tr.dataset.group = r.group; }
        tr.appendChild(td);
      });
      columns.forEach(function (c) {
        var td = document.createElement("td"); td.className = "num"; td.dataset.key = c.key;
        var text = fmt(r[c.key], c.decimals);
        if (isGroup && r[c.key + "_sd"] !== null && r[c.key + "_sd"] !== undefined && r[c.key] !== null) {
          text += " ± " + fmt(r[c.key + "_sd"], c.decimals);
        }
        if (isGroup && r[c.key + "_varies"]) { text = "varies"; }
        if (isGroup && c.key.indexOf("r_int_ohm") === 0 && r[c.key] !== null && r.r_int_n < r.n_cells) {
          text += " (n=" + r.r_int_n + ")";  // replicates without EIS do not count
        }
        td.textContent = text; tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function drawTables() {
    var cols = data.summary.columns;
    renderTable(document.getElementById("summary-groups"), [["group", "Group"], ["n_cells", "Cells (n)"]], data.summary.groups, cols, true);
    renderTable(document.getElementById("summary-cells"), [["cell", "Cell"], ["group", "Group"]], data.summary.cells, cols, false);
  }

  function drawAll() {
    drawCyclePlots(); drawRate(); drawTables();
    return Promise.all([drawProfiles(), drawEis()]);
  }

  ["band", "show"].forEach(function (name) {
    Array.prototype.forEach.call(form.elements[name], function (radio) {
      radio.addEventListener("change", function () {
        var p = params(); p.set(name, radio.value);
        history.replaceState(null, "", "?" + p.toString());
        if (data) { drawAll(); }
      });
    });
  });

  P.getJSON("/api/v1/compare/?" + params().toString()).then(function (payload) {
    data = payload;
    var n = data.cells.length;
    statusEl.textContent = n + " cell" + (n === 1 ? "" : "s") + " in " + data.groups.length + " group" +
      (data.groups.length === 1 ? "" : "s") + " · retention relative to " + refText() + ".";
    if (!n) { statusEl.textContent = "None of the chosen groups or cells is visible to you or has cells."; }
    return drawAll();
  }).then(function () { document.body.dataset.compareReady = "1"; })
    .catch(function (err) { statusEl.textContent = "Could not load the comparison: " + err.message; statusEl.className = "error"; });
})();
