/* Cell page: cycle plot with C-rate and pause bands and the knee, voltage and dQ/dV at chosen cycles, dQ/dV peak
   voltage vs cycle, live data-file status, upload. */
(function () {
  "use strict";
  var P = window.Plots;
  var cellId = JSON.parse(document.getElementById("cell-id").textContent);
  var cellName = JSON.parse(document.getElementById("cell-name").textContent);
  var api = "/api/v1/cells/" + cellId + "/";
  var choice = document.getElementById("cycle-choice");
  var marks = JSON.parse(document.getElementById("cell-marks").textContent) || {};
  var CYCLE_COLORS = ["#2459c5", "#dc6803", "#079455", "#7a5af8", "#d92d20", "#0e9384", "#c11574", "#475467"];

  function segmentsOf(rows) {
    var out = [];
    rows.forEach(function (r) {
      var last = out[out.length - 1];
      // A new band where the C-rate or the protocol segment changes: a rate test starting at the formation's
      // rate is not folded into the formation.
      if (last && last.label === r.c_rate_label && last.segment === r.segment) { last.to = r.cycle; }
      else { out.push({ label: r.c_rate_label, segment: r.segment, from: r.cycle, to: r.cycle }); }
    });
    return out;
  }

  function plotCycles() {
    var el = document.getElementById("plot-cycles");
    return P.getJSON(api + "cycles/").then(function (rows) {
      rows = rows.filter(function (r) { return !r.is_partial; });
      if (!rows.length) { P.empty(el, "No complete cycles yet."); return; }
      var perGram = rows.some(function (r) { return r.discharge_mah_g !== null; });
      var unit = perGram ? "mAh/g" : "mAh";
      var col = perGram ? "_mah_g" : "_mah";
      var x = rows.map(function (r) { return r.cycle; });
      var margin = { l: 64, r: 64 };  // the layout's below: the drawing area is the div less these
      var bands = P.rateBands(segmentsOf(rows), Math.max(el.clientWidth - margin.l - margin.r, 200));
      var capOf = {};
      rows.forEach(function (r) { capOf[r.cycle] = r["discharge" + col]; });
      var pauses = P.pauseBands(marks.pauses || [], capOf);
      var traces = [
        { x: x, y: rows.map(function (r) { return r["discharge" + col]; }), name: "Discharge capacity", mode: "lines+markers",
          marker: { size: 4 }, line: { color: "#2459c5", width: 2 } },
        { x: x, y: rows.map(function (r) { return r["charge" + col]; }), name: "Charge capacity", mode: "lines+markers",
          marker: { size: 4, symbol: "circle-open" }, line: { color: "#98a2b3", width: 1.5 } },
        { x: x, y: rows.map(function (r) { return r.ce_percent; }), name: "Coulombic efficiency", yaxis: "y2",
          mode: "lines+markers", marker: { size: 4 }, line: { color: "#079455", width: 1.5, dash: "dot" } }
      ];
      var knee = P.cycleMark(marks.knee_cycle, capOf, "Knee", "#d92d20", "cycle " + marks.knee_cycle +
        ": the fade gets steeper here (two-line fit)");
      var ref = P.cycleMark(marks.retention_reference_cycle, capOf, "Reference", "#475467", "retention and cycles to " +
        "80/70 % are relative to cycle " + marks.retention_reference_cycle, true);
      traces = traces.concat(pauses.traces, knee.traces);
      var lay = P.layout("Capacity and Coulombic efficiency vs cycle", "Cycle number", "Capacity (" + unit + ")", {
        yaxis2: { title: { text: "Coulombic efficiency (%)" }, overlaying: "y", side: "right", showgrid: false, tickmode: "auto",
                  linecolor: "#98a2b3", ticks: "outside", zeroline: false },
        shapes: bands.shapes.concat(pauses.shapes, knee.shapes, ref.shapes), annotations: bands.annotations,
        hovermode: "x unified",
        // A right axis takes the right side: the legend goes below, under the x-axis title.
        legend: { orientation: "h", x: 0, y: -0.32, yanchor: "top", font: { size: 11 } }
      });
      lay.margin.l = margin.l; lay.margin.r = margin.r; lay.margin.t = 56; lay.margin.b = 96;
      return P.draw(el, traces, lay, cellName + "-capacity-ce");
    });
  }

  function cycleList() { return (choice.elements.cycles.value || "1,last").replace(/\s+/g, ""); }

  function cycleTraces(byCycle, dashHalf) {
    return Object.keys(byCycle).map(Number).sort(function (a, b) { return a - b; }).map(function (c, i) {
      return { x: byCycle[c].x, y: byCycle[c].y, mode: "lines", name: "Cycle " + c,
               line: { color: CYCLE_COLORS[i % CYCLE_COLORS.length], width: 1.8 } };
    });
  }

  function plotVoltage() {
    var el = document.getElementById("plot-voltage");
    return P.getJSON(api + "curves/?points=300&cycles=" + encodeURIComponent(cycleList())).then(function (d) {
      if (!d.traces.length) { P.empty(el, "None of these cycles exists."); return; }
      var traces = cycleTraces(P.joinHalves(d.traces, "capacity", "voltage_v"));
      return P.draw(el, traces, P.layout("Voltage vs capacity", "Capacity (" + d.capacity_unit + ")", "Cell voltage (V)"),
                    cellName + "-voltage-profiles");
    });
  }

  function plotDqdv() {
    var el = document.getElementById("plot-dqdv");
    return P.getJSON(api + "dqdv/?cycles=" + encodeURIComponent(cycleList())).then(function (d) {
      if (!d.traces.length) { P.empty(el, "None of these cycles exists."); return; }
      var traces = P.dqdvTraces(d.traces, function (c, i) {
        return { name: "Cycle " + c, color: CYCLE_COLORS[i % CYCLE_COLORS.length] };
      });
      return P.draw(el, traces, P.layout("Differential capacity dQ/dV (charge > 0, discharge < 0, dashed)",
                                         "Cell voltage (V)", "dQ/dV (" + d.dqdv_unit + ")"),
                    cellName + "-dqdv");
    });
  }

  var PEAK_COLORS = { charge: ["#dc6803", "#d92d20", "#c11574"], discharge: ["#2459c5", "#0e9384", "#7a5af8"] };

  function plotPeaks() {
    var el = document.getElementById("plot-peaks");
    return P.getJSON(api + "peaks/").then(function (d) {
      if (!d.peaks.length) { P.empty(el, "No dQ/dV peaks found."); return; }
      var drift = {}, tracks = {}, order = [];
      d.drift.forEach(function (t) { drift[t.peak_id] = t; });
      d.peaks.forEach(function (p) {
        if (!drift[p.peak_id]) { return; }  /* tracks seen in too few cycles to fit a drift */
        if (!tracks[p.peak_id]) { tracks[p.peak_id] = { x: [], y: [], h: [] }; order.push(p.peak_id); }
        tracks[p.peak_id].x.push(p.cycle); tracks[p.peak_id].y.push(p.voltage_v); tracks[p.peak_id].h.push(p.height_mah_v);
      });
      order.sort();
      var n = { charge: 0, discharge: 0 };
      var traces = order.map(function (id) {
        var t = tracks[id], half = drift[id].half, colors = PEAK_COLORS[half] || ["#475467"];
        var rate = drift[id].drift_mv_per_cycle;
        return { x: t.x, y: t.y, customdata: t.h, mode: "lines+markers", marker: { size: 4 },
                 line: { color: colors[n[half]++ % colors.length], width: 1.5, dash: half === "discharge" ? "solid" : "dot" },
                 name: id + (rate === null ? "" : " (" + (rate >= 0 ? "+" : "") + rate.toFixed(2) + " mV/cycle)"),
                 hovertemplate: id + "<br>cycle %{x}: %{y:.4f} V, height %{customdata:.3g} " + d.height_unit + "<extra></extra>" };
      });
      var lay = P.layout("dQ/dV peak voltage vs cycle", "Cycle number", "Peak voltage (V)");
      var body = document.querySelector("#peak-drift tbody");
      body.innerHTML = "";
      d.drift.forEach(function (t) {
        var tr = document.createElement("tr"); tr.dataset.peak = t.peak_id;
        [t.peak_id, t.first_cycle + "–" + t.last_cycle + " (" + t.n_cycles + ")",
         t.first_voltage_v.toFixed(4) + " → " + t.last_voltage_v.toFixed(4),
         t.drift_mv_per_cycle === null ? "—" : t.drift_mv_per_cycle.toFixed(3)].forEach(function (v, i) {
          var td = document.createElement("td"); td.textContent = v; if (i) { td.className = "num"; } tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      document.getElementById("peak-drift").hidden = !d.drift.length;
      return P.draw(el, traces, lay, cellName + "-dqdv-peaks");
    });
  }

  /* Peak tracking reads every record of the file the first time: drawn once the plot scrolls into view. */
  var peaksShown = false;
  function watchPeaks() {
    var el = document.getElementById("plot-peaks");
    if (!el || peaksShown) { return; }
    var go = function () {
      if (peaksShown) { return; }
      peaksShown = true;
      P.empty(el, "Finding the dQ/dV peaks of every cycle…");
      plotPeaks().catch(function (err) { P.empty(el, "The dQ/dV peak track could not be drawn."); console.error(err); });
    };
    if (!("IntersectionObserver" in window)) { go(); return; }
    var seen = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { seen.disconnect(); go(); }
    });
    seen.observe(el);
  }

  function updateCsvLink() {
    var link = document.getElementById("dqdv-csv");
    if (link) { link.href = api + "dqdv/?cycles=" + encodeURIComponent(cycleList()) + "&format=csv"; }
    // The paper figures of the voltage profiles follow the chosen cycles too.
    ["svg", "pdf"].forEach(function (fmt) {
      var fig = document.getElementById("profiles-" + fmt);
      if (fig) { fig.href = api + "figure/?plot=profiles&cycles=" + encodeURIComponent(cycleList()) + "&output=" + fmt; }
    });
  }

  function plotAll() {
    if (document.getElementById("cell-plots").hidden) { return Promise.resolve(); }
    watchPeaks();
    updateCsvLink();
    return Promise.all([plotCycles(), plotVoltage(), plotDqdv()]).catch(function (err) { console.error(err); });
  }

  choice.addEventListener("submit", function (ev) { ev.preventDefault(); updateCsvLink(); plotVoltage(); plotDqdv(); });

  /* --- data files: live status while any is pending or parsing --------------------------------- */
  var table = document.querySelector("#datafiles tbody");
  var timer = null;

  function busy() { return !!table.querySelector('tr[data-status="pending"], tr[data-status="parsing"]'); }

  function rowFor(f) {
    var row = table.querySelector('tr[data-id="' + f.id + '"]');
    if (row) { return row; }
    var none = table.querySelector("tr.none"); if (none) { none.remove(); }
    row = document.createElement("tr"); row.dataset.id = f.id;
    row.innerHTML = "<td></td><td></td><td class=\"status\"></td><td class=\"num\"></td><td class=\"run-start\">—</td><td></td>";
    row.cells[0].textContent = f.original_name; row.cells[1].textContent = f.kind;
    row.cells[5].textContent = (f.created_at || "").slice(0, 16).replace("T", " ") + (f.uploaded_by ? " · " + f.uploaded_by : "");
    var detail = document.createElement("tr"); detail.className = "detail"; detail.dataset.for = f.id; detail.hidden = true;
    detail.innerHTML = '<td colspan="6"><div class="file-error error"></div><ul class="file-warnings warnings"></ul></td>';
    table.insertBefore(detail, table.firstChild); table.insertBefore(row, detail);
    return row;
  }

  /* The row names the file already: drop the error's leading "file 'X.xlsx'" (readers.without_file). */
  function withoutFile(error, name) {
    var heads = ["file '" + name + "': ", "file '" + name + "', "];
    for (var i = 0; i < heads.length; i++) { if (error.indexOf(heads[i]) === 0) { return error.slice(heads[i].length); } }
    return error;
  }

  function update(f) {
    var row = rowFor(f), was = row.dataset.status;
    row.dataset.status = f.status;
    var cell = row.querySelector("td.status");
    cell.innerHTML = '<span class="badge"></span>';
    cell.firstChild.className = "badge " + f.status; cell.firstChild.textContent = f.status;
    if (f.status === "pending" || f.status === "parsing") {
      var bar = document.createElement("progress"); bar.max = 100; bar.value = f.progress_percent;
      bar.textContent = f.progress_percent + " %"; cell.append(" ", bar);
    }
    row.cells[3].textContent = f.n_cycles === null ? "—" : f.n_cycles;
    var detail = table.querySelector('tr.detail[data-for="' + f.id + '"]');
    if (detail) {
      detail.querySelector(".file-error").textContent = withoutFile(f.error || "", f.original_name);
      var ul = detail.querySelector(".file-warnings"); ul.innerHTML = "";
      (f.warnings || []).forEach(function (w) { var li = document.createElement("li"); li.textContent = w; ul.appendChild(li); });
      detail.hidden = !(f.error || (f.warnings || []).length);
    }
    return was && was !== f.status && f.status === "imported";
  }

  function poll() {
    P.getJSON("/api/v1/datafiles/?limit=100&cell=" + cellId).then(function (body) {
      var imported = false;
      (body.results || body).forEach(function (f) { imported = update(f) || imported; });
      if (imported) {
        document.getElementById("no-cycles").hidden = true;
        document.getElementById("cell-plots").hidden = false;
        plotAll();
      }
      timer = busy() ? setTimeout(poll, 2000) : null;
    }).catch(function () { timer = setTimeout(poll, 5000); });
  }

  function watch() { if (!timer && busy()) { timer = setTimeout(poll, 2000); } }

  var form = document.getElementById("upload-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var msg = form.querySelector(".upload-message");
      msg.className = "upload-message"; msg.textContent = "Uploading…";
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                           headers: { "X-CSRFToken": form.elements.csrfmiddlewaretoken.value, Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
        .then(function (res) {
          if (res.status === 202 || res.status === 200) {
            update(res.body);
            msg.className = "upload-message ok";
            msg.textContent = res.status === 202 ? "Uploaded; the import runs in the background." : "These bytes were uploaded before.";
            form.reset(); watch();
          } else {
            msg.className = "upload-message error";
            msg.textContent = Object.values(res.body).map(function (v) { return [].concat(v).join(" "); }).join(" ") || ("Upload failed (" + res.status + ").");
          }
        }).catch(function (err) { msg.className = "upload-message error"; msg.textContent = "Upload failed: " + err.message; });
    });
  }

  plotAll();
  watch();
})();
