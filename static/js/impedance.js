/* EIS plots (Nyquist, Bode, R_int vs cycle) for the impedance page and, later, the Compare page.
 *
 *   AssbEis.nyquist(el, spectra, opts)  spectra: detail objects of GET /api/v1/eis/spectra/{id}/
 *                                       (optional s.color, s.symbol); opts: {title, filename, layout,
 *                                       compactFits: fit legend entries named by cell, not circuit}
 *   AssbEis.bode(el, spectra)
 *   AssbEis.kk(el, spectra)             lin-KK residuals (real and imaginary, % of |Z|) with the threshold
 *   AssbEis.rint(el, series, opts)      series: one cell (GET /api/v1/cells/{id}/rint/), a list of cells,
 *                                       or {groups, cells} of GET /api/v1/eis/rint/ (group mean ± sd);
 *                                       opts: {unit: "ohm"|"ohm_cm2", title, filename, layout,
 *                                       band: 95 % confidence band (default: when one cell is shown)}
 * Draws with window.Plots (plots.js), which every page loads before this file.
 */
(function () {
  "use strict";
  var COLORS = ["#2459c5", "#dc6803", "#079455", "#7a5af8", "#0e9384", "#c11574", "#475467", "#b54708"];

  function color(i, given) { return given || COLORS[i % COLORS.length]; }

  function label(s) {
    var cycle = s.after_cycle === null || s.after_cycle === undefined ? "cycle ?" : "cycle " + s.after_cycle;
    return (s.cell_name ? s.cell_name + " · " : "") + cycle + (s.sweep > 1 ? " · sweep " + s.sweep : "");
  }

  // plots.js is loaded before this file on every page that uses it (cell impedance page, compare page).
  var layout = window.Plots.layout, draw = window.Plots.draw, empty = window.Plots.empty;

  function currentFit(s) {
    return (s.fits || []).filter(function (f) { return f.is_current && f.curve; })[0] || null;
  }

  function neg(values) { return values.map(function (v) { return v === null ? null : -v; }); }

  /* Nyquist: Z' vs -Z'' (capacitive arcs up), equal axis scaling, current fit as a line over the points. */
  function nyquist(el, spectra, opts) {
    opts = opts || {};
    if (!spectra || !spectra.length) { return empty(el, "No spectra to show."); }
    var traces = [];
    spectra.forEach(function (s, i) {
      var c = color(i, s.color), name = label(s);
      traces.push({ x: s.data.z_real_ohm, y: neg(s.data.z_imag_ohm), customdata: s.data.freq_hz, mode: "markers",
                    type: "scatter", name: name, legendgroup: "s" + s.id, marker: { color: c, size: 6, symbol: s.symbol || "circle" },
                    hovertemplate: "Z' %{x:.4g} Ω<br>−Z'' %{y:.4g} Ω<br>%{customdata:.4g} Hz<extra>" + name + "</extra>" });
      var fit = currentFit(s);
      if (fit) {
        var rText = fit.r_int_ohm !== null ? " (R_int " + fit.r_int_ohm.toPrecision(4) + " Ω)" : "";
        traces.push({ x: fit.curve.z_real_ohm, y: neg(fit.curve.z_imag_ohm), mode: "lines", type: "scatter",
                      name: (opts.compactFits ? (s.cell_name || "") + " fit" : "fit " + fit.circuit) + rText,
                      legendgroup: "s" + s.id, line: { color: c, width: 2, dash: "dash" }, hoverinfo: "skip" });
      }
    });
    var lay = layout(opts.title || "Nyquist", "Z' (Ω)", "−Z'' (Ω)", opts.layout || {});
    lay.yaxis = Object.assign({}, lay.yaxis, { scaleanchor: "x", scaleratio: 1 });
    return draw(el, traces, lay, opts.filename || "nyquist");
  }

  /* Bode: |Z| (log) on the left axis and −phase on the right, against log frequency. */
  function bode(el, spectra) {
    if (!spectra || !spectra.length) { return empty(el, "No spectra to show."); }
    var traces = [];
    spectra.forEach(function (s, i) {
      var c = color(i, s.color), name = label(s), fit = currentFit(s);
      traces.push({ x: s.data.freq_hz, y: s.data.z_mod_ohm, mode: "markers", type: "scatter", name: name + " |Z|",
                    legendgroup: "s" + s.id, marker: { color: c, size: 5 } });
      traces.push({ x: s.data.freq_hz, y: neg(s.data.phase_deg), mode: "markers", type: "scatter", yaxis: "y2",
                    name: name + " −phase", legendgroup: "s" + s.id, marker: { color: c, size: 5, symbol: "circle-open" } });
      if (fit) {
        traces.push({ x: fit.curve.freq_hz, y: fit.curve.z_mod_ohm, mode: "lines", type: "scatter", showlegend: false,
                      legendgroup: "s" + s.id, line: { color: c, dash: "dash" }, hoverinfo: "skip" });
        traces.push({ x: fit.curve.freq_hz, y: neg(fit.curve.phase_deg), mode: "lines", type: "scatter", yaxis: "y2",
                      showlegend: false, legendgroup: "s" + s.id, line: { color: c, dash: "dot" }, hoverinfo: "skip" });
      }
    });
    var lay = layout("Bode", "Frequency (Hz)", "|Z| (Ω)", {});
    lay.xaxis = Object.assign({}, lay.xaxis, { type: "log" });
    lay.yaxis = Object.assign({}, lay.yaxis, { type: "log" });
    lay.yaxis2 = { title: { text: "−phase (°)" }, type: "linear", tickmode: "auto", overlaying: "y", side: "right",
                    zeroline: false, showgrid: false };
    lay.margin = Object.assign({}, lay.margin, { r: 60, b: 96 });
    // The phase axis takes the right side: the legend goes below, under the frequency axis title.
    lay.legend = { orientation: "h", x: 0, y: -0.3, yanchor: "top", font: { size: 11 } };
    return draw(el, traces, lay, "bode");
  }

  /* One cell's R_int: the line through its trusted fits, a 95 % confidence band (±1.96 standard errors),
   * marked fits (large standard error, not converged) as open red markers, and spectra without R_int
   * (refused: aborted sweep, no arc, span too short) as crosses on the cycle axis, each with its reason. */
  function cellTraces(c, i, unit, band) {
    var key = unit === "ohm_cm2" ? "r_int_ohm_cm2" : "r_int_ohm";
    var scale = unit === "ohm_cm2" && c.area_cm2 ? c.area_cm2 : 1;
    var xs = [], ys = [], es = [], lo = [], hi = [], mx = [], my = [], mt = [], rx = [], rt = [];
    var marked = c.marked || [], finding = c.finding || [];
    c.cycle.forEach(function (cyc, k) {
      if (cyc === null) { return; }
      var y = c[key][k], err = c.r_int_stderr_ohm[k];
      if (y === null) { rx.push(cyc); rt.push(finding[k] || "no R_int"); return; }
      if (marked[k]) { mx.push(cyc); my.push(y); mt.push(finding[k]); return; }
      var e = err === null ? 0 : err * scale;
      xs.push(cyc); ys.push(y); es.push(e); lo.push(y - 1.96 * e); hi.push(y + 1.96 * e);
    });
    var col = color(i, c.color), out = [];
    if (band && xs.length > 1) {
      out.push({ x: xs.concat(xs.slice().reverse()), y: hi.concat(lo.slice().reverse()), type: "scatter",
                 mode: "lines", fill: "toself", fillcolor: col + "33", line: { width: 0 }, hoverinfo: "skip",
                 name: c.name + " 95 % band", legendgroup: "c" + c.id, showlegend: false });
    }
    out.push({ x: xs, y: ys, error_y: { type: "data", array: es, visible: true, thickness: 1 }, mode: "lines+markers",
               type: "scatter", name: c.name, legendgroup: "c" + c.id, line: { color: col, width: 1.5 },
               marker: { size: 7 } });
    if (mx.length) {
      out.push({ x: mx, y: my, text: mt, mode: "markers", type: "scatter", name: c.name + " marked fits",
                 legendgroup: "c" + c.id, marker: { size: 10, symbol: "circle-open", color: "#d92d20", line: { width: 2 } },
                 hovertemplate: "cycle %{x}: R_int %{y:.4g}<br>%{text}<extra>marked</extra>" });
    }
    if (rx.length) {
      out.push({ x: rx, y: rx.map(function () { return 0; }), text: rt, mode: "markers", type: "scatter",
                 name: c.name + " no R_int", legendgroup: "c" + c.id,
                 marker: { size: 11, symbol: "x-thin-open", color: "#d92d20", line: { width: 2 } },
                 hovertemplate: "cycle %{x}: %{text}<extra>skipped</extra>" });
    }
    return out;
  }

  /* Lin-KK residuals (% of |Z|) on the real and imaginary parts against frequency, with the ± threshold. */
  function kk(el, spectra) {
    var traces = [], threshold = null, fmin = Infinity, fmax = 0;
    (spectra || []).forEach(function (s, i) {
      var k = s.kk || {};
      if (!k.freq_hz || !k.freq_hz.length) { return; }
      var c = color(i, s.color), name = label(s);
      threshold = k.threshold_pct || threshold;
      k.freq_hz.forEach(function (f) { fmin = Math.min(fmin, f); fmax = Math.max(fmax, f); });
      traces.push({ x: k.freq_hz, y: k.residuals_real_pct, mode: "lines+markers", type: "scatter", name: name + " Δ real",
                    legendgroup: "k" + s.id, line: { color: c, width: 1 }, marker: { size: 4 } });
      traces.push({ x: k.freq_hz, y: k.residuals_imag_pct, mode: "lines+markers", type: "scatter", name: name + " Δ imag",
                    legendgroup: "k" + s.id, line: { color: c, width: 1, dash: "dot" }, marker: { size: 4, symbol: "square-open" } });
    });
    if (!traces.length) { return empty(el, "No Kramers-Kronig residuals to show."); }
    [threshold, -threshold].forEach(function (t) {
      traces.push({ x: [fmin, fmax], y: [t, t], mode: "lines", type: "scatter", showlegend: false, hoverinfo: "skip",
                    line: { color: "#d92d20", width: 1, dash: "dash" } });
    });
    var lay = layout("Kramers-Kronig residuals (lin-KK)", "Frequency (Hz)", "residual (% of |Z|)", {});
    lay.xaxis = Object.assign({}, lay.xaxis, { type: "log" });
    return draw(el, traces, lay, "kk-residuals");
  }

  /* R_int vs cycle: each cell with its fit's standard error; groups as mean ± sd over their cells. */
  function rint(el, series, opts) {
    opts = opts || {};
    var unit = opts.unit || "ohm";
    var cells = [], groups = [];
    if (Array.isArray(series)) { cells = series; }
    else if (series && series.cycle) { cells = [series]; }
    else if (series) { cells = series.cells || []; groups = series.groups || []; }
    // The band by default when one cell is shown (its impedance page); with many cells it would hide them,
    // and each point keeps its standard-error bar anyway.
    var band = opts.band !== undefined ? opts.band : (cells.length === 1 && !groups.length);
    var traces = [];
    cells.forEach(function (c, i) { traces = traces.concat(cellTraces(c, i, unit, band)); });
    groups.forEach(function (g, i) {
      var stats = unit === "ohm_cm2" ? g.r_int_ohm_cm2 : g.r_int_ohm;
      traces.push({ x: g.cycle, y: stats.mean, error_y: { type: "data", array: stats.sd, visible: true },
                    mode: "lines+markers", type: "scatter", name: g.name + " mean ± sd (n=" + g.n_cells + ")",
                    line: { color: color(i, g.color), width: 3 }, marker: { size: 9, symbol: "diamond" } });
    });
    if (!traces.some(function (t) { return t.x.length; })) {
      return empty(el, "No R_int with a known cycle yet: give after_cycle=N in the upload notes.");
    }
    var lay = layout(opts.title || "R_int vs cycle", "Measured after cycle",
                     unit === "ohm_cm2" ? "R_int (Ω cm²)" : "R_int (Ω)", opts.layout || {});
    return draw(el, traces, lay, opts.filename || "r-int-vs-cycle");
  }

  window.AssbEis = { nyquist: nyquist, bode: bode, rint: rint, kk: kk };

  /* The impedance page: data embedded with json_script; checkboxes choose the spectra shown. */
  function initPage() {
    var node = document.getElementById("eis-spectra-data");
    var nyq = document.getElementById("eis-nyquist");
    if (!node || !nyq) { return; }
    var spectra = JSON.parse(node.textContent);
    var series = JSON.parse(document.getElementById("eis-rint-data").textContent);
    function chosen() {
      var on = {};
      document.querySelectorAll(".eis-show").forEach(function (box) { on[box.value] = box.checked; });
      return spectra.filter(function (s) { return on[String(s.id)] !== false; });
    }
    function redraw() {
      var s = chosen();
      nyquist(nyq, s); bode(document.getElementById("eis-bode"), s);
      var kkEl = document.getElementById("eis-kk");
      if (kkEl) { kk(kkEl, s); }
    }
    document.querySelectorAll(".eis-show").forEach(function (box) { box.addEventListener("change", redraw); });
    redraw();
    rint(document.getElementById("eis-rint"), series);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", initPage); }
  else { initPage(); }
})();
