/* DRT on the impedance page: gamma(ln tau) of each sweep (log tau axis, coloured by cycle) and the resistance of
 * each process (peaks matched by tau over the cycles) vs cycle. Data: the page's json_script "eis-drt-data"
 * (impedance.drt_selectors.cell_drt). Draws with window.Plots (plots.js).
 */
(function () {
  "use strict";
  var COLORS = ["#2459c5", "#dc6803", "#079455", "#7a5af8", "#0e9384", "#c11574", "#475467", "#b54708"];

  // plots.js is loaded before this file on every page that uses it (templates/impedance/cell_impedance.html).
  var layout = window.Plots.layout, draw = window.Plots.draw, empty = window.Plots.empty;

  function gamma(el, drt) {
    var ok = (drt.spectra || []).filter(function (d) { return !d.error; });
    if (!ok.length) { return empty(el, "No spectrum of this cell gives a DRT."); }
    var traces = ok.map(function (d, i) {
      var name = "cycle " + (d.after_cycle === null || d.after_cycle === undefined ? "?" : d.after_cycle);
      var t = ok.length > 1 ? i / (ok.length - 1) : 0;
      return { x: d.tau_s, y: d.gamma_ohm, mode: "lines", type: "scatter", name: name,
               line: { color: "hsl(" + Math.round(220 - 200 * t) + ",70%,45%)", width: 1.5 },
               hovertemplate: "τ %{x:.3g} s<br>γ %{y:.4g} Ω<extra>" + name + " · λ " + d.lambda.toPrecision(2) + "</extra>" };
    });
    draw(el, traces, layout("DRT", "τ (s)", "γ (Ω)", { xaxis: { type: "log", title: { text: "τ (s)" } } }), "drt");
  }

  function tracks(el, drt) {
    var list = drt.tracks || [];
    if (!list.length) { return empty(el, "No processes to track."); }
    var traces = list.map(function (t, i) {
      var name = "process " + t.process + " (~" + t.f_hz_median.toPrecision(3) + " Hz)";
      return { x: t.cycle, y: t.resistance_ohm, mode: "lines+markers", type: "scatter", name: name, connectgaps: false,
               marker: { color: COLORS[i % COLORS.length], size: 6 }, line: { color: COLORS[i % COLORS.length] },
               hovertemplate: "cycle %{x}<br>%{y:.4g} Ω<extra>" + name + "</extra>" };
    });
    draw(el, traces, layout("Process resistance vs cycle", "Cycle", "Resistance (Ω)"), "drt-processes");
  }

  function init() {
    var node = document.getElementById("eis-drt-data");
    if (!node || !window.Plotly) { return; }
    var drt = JSON.parse(node.textContent);
    var g = document.getElementById("drt-gamma"), t = document.getElementById("drt-tracks");
    if (g) { gamma(g, drt); }
    if (t) { tracks(t, drt); }
  }

  window.AssbDrt = { gamma: gamma, tracks: tracks };
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
