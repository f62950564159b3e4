/* Electrolyte batch page: conductivity vs temperature, the Arrhenius plot (log10 sigma*T vs 1000/T with the fit)
 * and the symmetric cells' voltage traces with the short marked. Data: the json_script "solidstate-data". */
(function () {
  "use strict";
  var COLORS = ["#2459c5", "#dc6803", "#079455", "#7a5af8", "#0e9384", "#c11574"];
  var node = document.getElementById("solidstate-data");
  if (!node || !window.Plotly) { return; }
  var data = JSON.parse(node.textContent);
  var P = window.Plots;
  function layout(t, x, y, extra) {
    return P ? P.layout(t, x, y, extra) : Object.assign({ title: { text: t }, xaxis: { title: { text: x } }, yaxis: { title: { text: y } } }, extra || {});
  }
  function draw(id, traces, lay) {
    var el = document.getElementById(id);
    if (!el) { return; }
    if (P) { P.draw(el, traces, lay); } else { Plotly.react(el, traces, lay); }
  }
  var pellets = {};
  data.points.forEach(function (p) { (pellets[p.pellet] = pellets[p.pellet] || []).push(p); });
  var names = Object.keys(pellets);
  var sigmaT = names.map(function (name, i) {
    var ps = pellets[name];
    return { name: name, mode: "markers", type: "scatter", marker: { color: COLORS[i % COLORS.length], size: 8 },
             x: ps.map(function (p) { return p.temperature_c; }),
             y: ps.map(function (p) { return p.sigma_total_s_cm * 1000; }),
             error_y: { type: "data", array: ps.map(function (p) { return (p.sigma_total_se_s_cm || 0) * 1000; }), visible: true } };
  });
  draw("plot-sigma-t", sigmaT, layout("σ_total vs temperature", "Temperature (°C)", "σ_total (mS/cm)", { yaxis: { type: "log", title: { text: "σ_total (mS/cm)" } } }));
  var arr = names.map(function (name, i) {
    var ps = pellets[name];
    return { name: name, mode: "markers", type: "scatter", marker: { color: COLORS[i % COLORS.length], size: 8 },
             x: ps.map(function (p) { return 1000 / (p.temperature_c + 273.15); }),
             y: ps.map(function (p) { return Math.log10(p.sigma_total_s_cm * (p.temperature_c + 273.15)); }) };
  });
  if (data.arrhenius) {
    arr.push({ name: "fit: Ea = " + data.arrhenius.ea_ev.toFixed(3) + " eV", mode: "lines", type: "scatter",
               line: { color: "#1d2433", dash: "dash" }, x: data.arrhenius.line.inv_t_1000_k, y: data.arrhenius.line.log10_sigma_t });
  }
  draw("plot-arrhenius", arr, layout("Arrhenius plot", "1000 / T (1/K)", "log10(σT / S cm⁻¹ K)"));
  if (data.ccd.length) {
    var traces = [], shapes = [];
    data.ccd.forEach(function (c, i) {
      if (!c.trace || !c.trace.time_s) { return; }
      traces.push({ name: c.cell, mode: "lines", type: "scattergl", line: { color: COLORS[i % COLORS.length], width: 1 },
                    x: c.trace.time_s.map(function (t) { return t / 3600; }), y: c.trace.voltage_v.map(function (v) { return v * 1000; }) });
      if (c.short_time_s !== null) {
        shapes.push({ type: "line", xref: "x", yref: "paper", x0: c.short_time_s / 3600, x1: c.short_time_s / 3600, y0: 0, y1: 1,
                      line: { color: "#d92d20", dash: "dot" } });
        traces.push({ name: c.cell + " short (CCD " + c.ccd_ma_cm2.toFixed(2) + " mA/cm²)", mode: "markers", type: "scatter",
                      marker: { color: "#d92d20", symbol: "x", size: 11 }, x: [c.short_time_s / 3600], y: [0] });
      }
    });
    draw("plot-ccd", traces, layout("Symmetric cell voltage", "Time (h)", "Voltage (mV)", { shapes: shapes }));
  }
})();
