/* Effects page: fetch /api/v1/effects/ (when a build fact is chosen) and /api/v1/effects/screen/ with the page's
 * querystring; draw the cells as points with each level's mean and 95 % CI (categorical) or the scatter with the
 * OLS line and band (numeric); tables with n and cells; warnings; the screen, whose rows open their effect. */
(function () {
  "use strict";
  var form = document.getElementById("effects-form");
  var factorSel = document.getElementById("effects-factor"), outcomeSel = document.getElementById("effects-outcome");

  /* A log-log fit needs a numeric fact; an outcome read at a cycle needs that cycle. */
  function syncForm() {
    var opt = factorSel.options[factorSel.selectedIndex];
    var numeric = opt && opt.dataset.kind === "numeric";
    var logLog = form.querySelector("input[name=scale][value='log-log']");
    logLog.disabled = !numeric;
    if (!numeric && logLog.checked) { form.querySelector("input[name=scale][value=linear]").checked = true; }
    var out = outcomeSel.options[outcomeSel.selectedIndex];
    form.elements.cycle.required = Boolean(out && out.dataset.needsCycle === "1");
  }
  factorSel.addEventListener("change", syncForm);
  outcomeSel.addEventListener("change", syncForm);
  syncForm();

  var main = document.getElementById("effects-main");
  if (main.dataset.ready !== "1") { return; }
  var P = window.Plots;
  var statusEl = document.getElementById("effects-status");
  var API_KEYS = ["outcome", "factor", "project", "groups", "cells", "scale", "cycle", "detect"];
  var SCREEN_KEYS = ["outcome", "project", "groups", "cells", "cycle"];

  function query(keys) {
    var page = new URLSearchParams(window.location.search), out = new URLSearchParams();
    keys.forEach(function (k) {
      var values = page.getAll(k).filter(function (v) { return v !== ""; });
      if (values.length) { out.set(k, values.join(",")); }
    });
    return out;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined) { return "–"; }
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) { return v.toExponential(2); }
    return v.toFixed(digits === undefined ? (a >= 100 ? 1 : a >= 1 ? 2 : 3) : digits);
  }
  function ci(pair) { return pair && pair[0] !== null ? "[" + fmt(pair[0]) + ", " + fmt(pair[1]) + "]" : "–"; }
  function pval(p) { return p === null || p === undefined ? "–" : (p < 1e-4 ? p.toExponential(1) : p.toFixed(4)); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }

  function table(id, headers, rows) {
    var t = document.getElementById(id);
    t.textContent = "";
    if (!rows.length) { return t; }
    var thead = el("thead"), tr = el("tr");
    headers.forEach(function (h) { tr.appendChild(el("th", h[0], h[1] ? "num" : "")); });
    thead.appendChild(tr);
    t.appendChild(thead);
    var tbody = el("tbody");
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (cell, i) {
        var td = el("td", null, headers[i][1] ? "num" : "");
        if (cell instanceof Node) { td.appendChild(cell); } else { td.textContent = cell; }
        row.appendChild(td);
      });
      tbody.appendChild(row);
    });
    t.appendChild(tbody);
    return t;
  }

  function warnings(id, list) {
    var ul = document.getElementById(id);
    ul.textContent = "";
    (list || []).forEach(function (w) {
      var li = el("li", w.message);
      li.dataset.code = w.code;
      ul.appendChild(li);
    });
  }

  function yTitle(d) { return d.outcome_label + (d.outcome_unit ? " (" + d.outcome_unit + ")" : ""); }
  function xTitle(d) { return d.factor_label + (d.factor_unit ? " (" + d.factor_unit + ")" : ""); }

  function drawCategorical(d) {
    var names = d.levels.map(function (lv) { return lv.level; });
    var traces = [];
    d.levels.forEach(function (lv, i) {
      var pts = d.points.filter(function (p) { return p.level === lv.level; });
      traces.push({ type: "scatter", mode: "markers", name: lv.level + " cells (n = " + lv.n + ")",
        x: pts.map(function (_, j) { return i - 0.12 + 0.24 * (pts.length > 1 ? j / (pts.length - 1) : 0.5); }),
        y: pts.map(function (p) { return p.value; }), text: pts.map(function (p) { return p.cell; }),
        marker: { color: "#475467", size: 8, opacity: 0.8 },
        hovertemplate: "%{text}<br>%{y:.4g}<extra>" + lv.level + "</extra>" });
    });
    var withMean = d.levels.filter(function (lv) { return lv.mean !== null; });
    traces.push({ type: "scatter", mode: "markers", name: "mean ± 95 % CI",
      x: withMean.map(function (lv) { return names.indexOf(lv.level) + 0.3; }),
      y: withMean.map(function (lv) { return lv.mean; }),
      error_y: { type: "data", symmetric: false,
        array: withMean.map(function (lv) { return lv.ci95[1] === null ? 0 : lv.ci95[1] - lv.mean; }),
        arrayminus: withMean.map(function (lv) { return lv.ci95[0] === null ? 0 : lv.mean - lv.ci95[0]; }) },
      marker: { color: "#2459c5", size: 10, symbol: "diamond" },
      text: withMean.map(function (lv) { return lv.level + ": n = " + lv.n + ", mean " + fmt(lv.mean) + ", 95 % CI " + ci(lv.ci95) + "<br>" + lv.cells.join(", "); }),
      hovertemplate: "%{text}<extra></extra>" });
    var lay = P.layout(d.outcome_label + " by " + d.factor_label, d.factor_label, yTitle(d), {
      xaxis: { tickvals: names.map(function (_, i) { return i; }),
        ticktext: d.levels.map(function (lv) { return lv.level + " (n = " + lv.n + ")"; }), range: [-0.6, names.length - 0.3],
        title: { text: d.factor_label }, zeroline: false, showgrid: false, linecolor: "#98a2b3", ticks: "outside" } });
    return P.draw(document.getElementById("effect-plot"), traces, lay, "effect-" + d.outcome + "-" + d.factor);
  }

  function drawNumeric(d) {
    var traces = [];
    if (d.band) {
      traces.push({ x: d.band.x.concat(d.band.x.slice().reverse()), y: d.band.hi.concat(d.band.lo.slice().reverse()),
        fill: "toself", fillcolor: "rgba(36,89,197,0.15)", line: { width: 0 }, name: "95 % band", hoverinfo: "skip" });
      traces.push({ x: d.band.x, y: d.band.fit, mode: "lines", name: "OLS fit", line: { color: "#2459c5" }, hoverinfo: "skip" });
    }
    traces.push({ type: "scatter", mode: "markers", name: "cells (n = " + d.points.length + ")",
      x: d.points.map(function (p) { return p.x; }), y: d.points.map(function (p) { return p.value; }),
      text: d.points.map(function (p) { return p.cell; }), marker: { color: "#475467", size: 8, opacity: 0.85 },
      hovertemplate: "%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>" });
    var log = d.regression.scale === "log-log";
    var lay = P.layout(d.outcome_label + " vs " + d.factor_label + (log ? " (log-log)" : ""), xTitle(d), yTitle(d));
    if (log) { lay.xaxis.type = "log"; lay.yaxis.type = "log"; }
    return P.draw(document.getElementById("effect-plot"), traces, lay, "effect-" + d.outcome + "-" + d.factor);
  }

  function showEffect(d) {
    document.getElementById("effect-title").textContent = d.outcome_label + " by " + d.factor_label;
    warnings("effect-warnings", d.warnings);
    if (d.kind === "categorical") { drawCategorical(d); } else { drawNumeric(d); }
    var t = d.test, line = "";
    if (d.kind === "categorical" && d.difference) {
      line = "Difference " + d.difference.levels[0] + " − " + d.difference.levels[1] + ": " + fmt(d.difference.estimate) +
        " " + d.outcome_unit + ", 95 % CI " + ci(d.difference.ci95) + ". ";
    }
    if (d.kind === "numeric" && d.regression.slope !== null) {
      line = (d.regression.scale === "log-log" ? "Power-law exponent " : "Slope ") + fmt(d.regression.slope, 3) +
        ", 95 % CI " + ci(d.regression.slope_ci95) + ", R² = " + fmt(d.regression.r2, 3) + ", n = " + d.regression.n + ". ";
    }
    if (t) {
      line += t.name + ": statistic " + fmt(t.statistic) + ", p = " + pval(t.p_value) +
        (t.effect_size !== null ? ", " + t.effect_size_name + " = " + fmt(t.effect_size) : "") + ".";
    }
    if (d.rank_test) { line += " " + d.rank_test.name + ": p = " + pval(d.rank_test.p_value) + "."; }
    document.getElementById("effect-test").textContent = line;
    table("effect-levels", [[d.kind === "numeric" ? xTitle(d) : "Level"], ["n", 1], ["Mean", 1], ["sd", 1], ["95 % CI", 1], ["Cells"]],
      d.levels.map(function (lv) { return [String(lv.level), String(lv.n), fmt(lv.mean), fmt(lv.sd), ci(lv.ci95), lv.cells.join(", ")]; }));
    table("effect-pairwise", [["Pair"], ["Difference", 1], ["95 % CI", 1], ["p", 1], ["p (Holm)", 1], ["Hedges' g", 1]],
      (d.pairwise || []).map(function (r) { return [r.levels[0] + " − " + r.levels[1], fmt(r.difference), ci(r.ci95), pval(r.p_value), pval(r.p_holm), fmt(r.hedges_g)]; }));
    var plan = d.planning;
    document.getElementById("effect-planning").textContent = plan && plan.n_per_level ?
      "Replicate planning: to detect a difference of " + fmt(Math.abs(plan.difference)) + " " + d.outcome_unit +
      " with the observed sd " + fmt(plan.sd) + " (power " + plan.power + ", α " + plan.alpha +
      (plan.n_comparisons > 1 ? " split over " + plan.n_comparisons + " pairs" : "") + ") takes " + plan.n_per_level +
      " cells per level (now " + plan.current_n_per_level + "); " + plan.method + "." :
      plan && plan.n_cells ? "Replicate planning: to detect a " + (plan.scale === "log-log" ? "power-law exponent" : "slope") +
      " of " + fmt(plan.slope, 3) + " with the observed residual sd " + fmt(plan.sd) + " (power " + plan.power + ", α " +
      plan.alpha + ") takes " + plan.n_cells + " cells in total (now " + plan.current_n + "); " + plan.method + "." : "";
    document.getElementById("effect-excluded").textContent = d.excluded.length ?
      "Left out: " + d.excluded.map(function (x) { return x.cell + " (" + x.reason + ")"; }).join("; ") : "";
  }

  function showScreen(s) {
    warnings("screen-warnings", s.warnings);
    var sel = query(SCREEN_KEYS);
    var rows = s.rows.map(function (r) {
      var q = new URLSearchParams(sel);
      q.set("factor", r.factor);
      var a = el("a", r.label);
      a.href = main.dataset.page + "?" + q.toString();
      return [String(r.rank), a, r.kind, String(r.n), r.effect.name + (r.unit && r.kind === "numeric" ? " (per " + r.unit + ")" : ""),
        fmt(r.effect.estimate), ci(r.effect.ci95), r.test || "–", pval(r.p_value), pval(r.p_holm),
        r.confounded_with.join(", ") || "–"];
    });
    table("screen-table", [["Rank", 1], ["Build fact"], ["Kind"], ["n", 1], ["Effect"], ["Estimate", 1], ["95 % CI", 1],
      ["Test"], ["p", 1], ["p (Holm)", 1], ["Confounded with"]], rows);
    if (!s.rows.length) { document.getElementById("screen-table").appendChild(el("caption", "No build fact varies among these cells.")); }
  }

  var jobs = [P.getJSON(main.dataset.screenApi + "?" + query(SCREEN_KEYS).toString()).then(showScreen)];
  if (main.dataset.factor) { jobs.push(P.getJSON(main.dataset.api + "?" + query(API_KEYS).toString()).then(showEffect)); }
  Promise.all(jobs).then(function () { statusEl.textContent = "Done."; statusEl.dataset.state = "done"; })
    .catch(function (err) { statusEl.textContent = "Could not load: " + err.message; statusEl.dataset.state = "error"; });
})();
