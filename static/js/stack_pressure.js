/* Stack pressure page: R_int vs stack pressure per cell (coloured by group) and pellet conductivity vs the
 * pellet's stack pressure. Data: the json_script "pressure-overview". */
(function () {
  "use strict";
  var node = document.getElementById("pressure-overview");
  if (!node || !window.Plotly) { return; }
  var data = JSON.parse(node.textContent);
  function lay(t, x, y, extra) { return window.Plots ? window.Plots.layout(t, x, y, extra) : { title: { text: t } }; }
  function draw(id, traces, layout) {
    var el = document.getElementById(id);
    if (window.Plots) { window.Plots.draw(el, traces, layout); } else { Plotly.react(el, traces, layout); }
  }
  var groups = {};
  data.rint.forEach(function (r) { (groups[r.group] = groups[r.group] || []).push(r); });
  draw("plot-rint-pressure", Object.keys(groups).map(function (g) {
    var rows = groups[g];
    return { name: g, type: "scatter", mode: "markers", marker: { size: 9, color: rows[0].color || undefined },
             x: rows.map(function (r) { return r.stack_pressure_mpa; }), y: rows.map(function (r) { return r.r_int_ohm; }),
             text: rows.map(function (r) { return r.cell + " (" + r.pressure_source + ")"; }) };
  }), lay("R_int vs stack pressure", "Stack pressure (MPa)", "R_int (Ω)", { xaxis: { type: "log", title: { text: "Stack pressure (MPa)" } }, yaxis: { type: "log", title: { text: "R_int (Ω)" } } }));
  draw("plot-sigma-pressure", [{ name: "pellets", type: "scatter", mode: "markers", marker: { size: 9 },
    x: data.conductivity.map(function (r) { return r.stack_pressure_mpa; }),
    y: data.conductivity.map(function (r) { return r.sigma_total_s_cm * 1000; }),
    text: data.conductivity.map(function (r) { return r.cell + " at " + r.temperature_c + " °C"; }) }],
    lay("Pellet conductivity vs stack pressure", "Stack pressure (MPa)", "σ_total (mS/cm)"));
})();
