/* Stack pressure under a cell's cycling plots: each file's pressure channel against time, the registered value
 * and where a drift began. Data: the json_script "pressure-data". Runs once the page's scripts (Plotly) loaded. */
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("pressure-data");
    var el = document.getElementById("plot-pressure");
    if (!node || !el || !window.Plotly) { return; }
    var traces = [], shapes = [];
    JSON.parse(node.textContent).forEach(function (t, i) {
      traces.push({ name: t.file, type: "scattergl", mode: "lines", line: { width: 1.5 },
                    x: t.time_s.map(function (s) { return s / 3600; }), y: t.pressure_mpa });
      if (t.registered_mpa !== null && i === 0) {
        shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: t.registered_mpa, y1: t.registered_mpa,
                      line: { color: "#475467", dash: "dash" } });
      }
      if (t.drift_since_s !== null && t.drift_since_s !== undefined) {
        shapes.push({ type: "line", yref: "paper", y0: 0, y1: 1, x0: t.drift_since_s / 3600, x1: t.drift_since_s / 3600,
                      line: { color: "#d92d20", dash: "dot" } });
      }
    });
    var lay = window.Plots ? window.Plots.layout("Stack pressure", "Time (h)", "Pressure (MPa)", { shapes: shapes })
      : { title: { text: "Stack pressure" }, shapes: shapes };
    if (window.Plots) { window.Plots.draw(el, traces, lay); } else { Plotly.react(el, traces, lay); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
