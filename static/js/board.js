// The board: polls /api/v1/board/ (same filters as the address) and redraws the table without a reload;
// alert buttons (board and inbox) acknowledge, mute or resolve through the API.
(function () {
  "use strict";

  function csrf() {
    var el = document.querySelector("input[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function fmt(value, digits, unit) {
    if (value === null || value === undefined) return "—";
    return Number(value).toFixed(digits) + (unit ? " " + unit : "");
  }

  function ago(hours) {
    if (hours === null || hours === undefined) return "";
    if (hours < -0.1) return "in the future: check the cycler PC's clock";
    if (hours < 1) return Math.round(hours * 60) + " min ago";
    if (hours < 48) return hours.toFixed(1) + " h ago";
    var days = hours / 24;
    if (days < 60) return days.toFixed(1) + " days ago";
    if (days < 730) return Math.round(days / 30.44) + " months ago";
    return (days / 365.25).toFixed(1) + " years ago";
  }

  function sparkline(points) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 120 28");
    svg.setAttribute("role", "img");
    if (!points || points.length < 2) { svg.setAttribute("aria-label", "not enough cycles"); return svg; }
    var xs = points.map(function (p) { return p[0]; }), ys = points.map(function (p) { return p[1]; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.map(function (p) {
      var x = x1 > x0 ? (p[0] - x0) / (x1 - x0) * 118 + 1 : 60;
      var y = y1 > y0 ? 27 - (p[1] - y0) / (y1 - y0) * 26 : 14;
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" "));
    svg.appendChild(line);
    svg.setAttribute("aria-label", "capacity from cycle " + x0 + " to " + x1);
    return svg;
  }

  function act(action, id, hours) {
    var body = action === "mute" ? JSON.stringify({ hours: Number(hours || 24) }) : "{}";
    return fetch("/api/v1/alerts/" + id + "/" + action + "/", {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
    }).then(function (r) {
      if (!r.ok) throw new Error("The server refused to " + action + " alert " + id + " (HTTP " + r.status + ").");
      return r.json();
    });
  }

  /* One menu per incident (board) or alert (inbox): the action applies to the headline alert and every alert
     folded under it. */
  function alertMenu(alerts) {
    var menu = el("details", { class: "alert-menu" });
    menu.appendChild(el("summary", { "aria-label": "Act on this incident" }, "Act ▾"));
    var box = el("span", { class: "alert-actions" });
    var ids = alerts.map(function (a) { return a.id; }).join(",");
    if (alerts.some(function (a) { return a.status === "open"; })) {
      box.appendChild(el("button", { type: "button", "data-alert-action": "acknowledge", "data-alert-ids": ids }, "Acknowledge"));
    }
    box.appendChild(el("button", { type: "button", "data-alert-action": "mute", "data-alert-ids": ids, "data-hours": "24" }, "Mute 24 h"));
    box.appendChild(el("button", { type: "button", "data-alert-action": "resolve", "data-alert-ids": ids }, "Resolve"));
    menu.appendChild(box);
    return menu;
  }

  function alertLine(a) {
    var li = el("li", { "data-alert": a.id, "data-kind": a.kind, "data-status": a.status });
    li.appendChild(el("a", { href: a.url, title: a.message }, a.rule_label + " · cycle " + (a.cycle === null ? "—" : a.cycle)));
    if (a.status === "acknowledged") li.appendChild(el("span", { class: "badge alert-status acknowledged" }, "acknowledged"));
    if (a.muted) li.appendChild(el("span", { class: "badge" }, "muted"));
    return li;
  }

  function row(r, canAct) {
    var tr = el("tr", { "data-cell": r.cell_name, "data-state": r.state });
    var name = el("td");
    name.appendChild(el("a", { href: r.cell_url }, r.cell_name));
    tr.appendChild(name);
    var group = el("td");
    var dot = el("span", { class: "dot" });
    dot.style.background = r.group_color || "#98a2b3";
    group.appendChild(dot);
    group.appendChild(document.createTextNode(r.group));
    tr.appendChild(group);
    tr.appendChild(el("td", {}, (r.device || "—") + (r.channel ? " · " + r.channel : "")));
    tr.appendChild(el("td", {}, r.run_started_lab_time || "—"));
    var last = el("td", { "data-key": "last_data", title: r.last_record_at || "" });
    last.textContent = r.last_record_lab_time ? r.last_record_lab_time + " (" + ago(r.hours_since_last_record) + ")" : "—";
    tr.appendChild(last);
    tr.appendChild(el("td", { class: "num", "data-key": "latest_cycle" }, r.latest_cycle === null ? "—" : String(r.latest_cycle)));
    tr.appendChild(el("td", { class: "num", "data-key": "latest_capacity" }, fmt(r.latest_capacity, 1, r.capacity_unit)));
    var ret = el("td", { class: "num", "data-key": "retention_percent",
                         title: r.reference_cycle ? "vs cycle " + r.reference_cycle : "" }, fmt(r.retention_percent, 1, "%"));
    tr.appendChild(ret);
    tr.appendChild(el("td", { class: "num", "data-key": "latest_ce_percent" }, fmt(r.latest_ce_percent, 2, "%")));
    var spark = el("td");
    spark.appendChild(sparkline(r.sparkline));
    tr.appendChild(spark);
    var state = el("td", { "data-key": "state" });
    state.appendChild(el("span", { class: "badge state-" + r.state }, r.state_label));
    if (canAct && (r.state === "running" || r.state === "stale")) {
      state.appendChild(el("button", { type: "button", class: "finish", "data-finish-cell": r.cell, "data-cell-name": r.cell_name,
                                       title: "The test ended on purpose: it will not go stale" }, "Mark finished"));
    }
    tr.appendChild(state);
    var alerts = el("td", { "data-key": "alerts" });
    if (r.alerts.length) {
      // One incident per cell: the most severe alert (the API sends them in that order), the others folded.
      var ul = el("ul", { class: "board-alerts incident" });
      var head = alertLine(r.alerts[0]);
      if (canAct) head.appendChild(alertMenu(r.alerts));
      ul.appendChild(head);
      alerts.appendChild(ul);
      if (r.alerts.length > 1) {
        var more = el("details", { class: "folded-alerts" });
        more.appendChild(el("summary", {}, "+" + (r.alerts.length - 1) + " more"));
        var sub = el("ul", { class: "board-alerts" });
        r.alerts.slice(1).forEach(function (a) { sub.appendChild(alertLine(a)); });
        more.appendChild(sub);
        alerts.appendChild(more);
      }
    } else {
      alerts.textContent = "none";
      alerts.className = "muted";
    }
    tr.appendChild(alerts);
    return tr;
  }

  /* Now in the lab's zone and 24-hour format, with the zone named (as every other time on the pages). */
  function labTime(tz) {
    var opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short" };
    try { return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: tz || "UTC" }, opts)).format(new Date()); }
    catch (e) { return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: "UTC" }, opts)).format(new Date()); }
  }

  function initBoard(box) {
    var api = box.dataset.api, refreshS = Number(box.dataset.refreshS || 15), canAct = box.dataset.canAct === "1";
    var tbody = box.querySelector("tbody"), stamp = document.getElementById("board-updated");
    var polls = 0, timer = null;

    function query() {
      var params = new URLSearchParams(window.location.search);
      params.delete("refresh");
      Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) params.delete(k); });
      return params.toString();
    }

    function markSort() {
      var ordering = new URLSearchParams(window.location.search).get("ordering") || "";
      box.querySelectorAll("th[data-sort]").forEach(function (th) {
        var key = th.dataset.sort;
        th.setAttribute("aria-sort", ordering === key ? "ascending" : ordering === "-" + key ? "descending" : "none");
      });
    }

    // The API pages the board (Link: rel="next"/"prev", X-Total-Count); the page follows with links that keep
    // the address's filters and sort and only change the offset.
    var pagerBox = document.getElementById("board-pager");
    function pager(link, total) {
      if (!pagerBox) return;
      var parts = [];
      ["prev", "next"].forEach(function (rel) {
        var m = new RegExp("<([^>]*)>; rel=\"" + rel + "\"").exec(link);
        if (!m) return;
        var offset = new URL(m[1], window.location.href).searchParams.get("offset") || "0";
        var params = new URLSearchParams(window.location.search);
        params.set("offset", offset);
        parts.push(el("a", { href: "?" + params.toString(), rel: rel, class: "pager-" + rel },
          rel === "next" ? "Next cells →" : "← Previous cells"));
      });
      var shown = total ? el("span", { class: "muted small" }, total + " cells in all") : null;
      pagerBox.replaceChildren.apply(pagerBox, shown ? parts.concat([shown]) : parts);
    }

    function load() {
      var q = query();
      return fetch(api + (q ? "?" + q : ""), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (!r.ok) throw new Error("The board could not be loaded (HTTP " + r.status + ").");
          pager(r.headers.get("Link") || "", r.headers.get("X-Total-Count"));
          return r.json();
        })
        .then(function (rows) {
          tbody.replaceChildren.apply(tbody, rows.length ? rows.map(function (r) { return row(r, canAct); })
            : [(function () { var tr = el("tr"); tr.appendChild(el("td", { colspan: "12", class: "empty" },
              "No running or recently finished tests match. A cell appears here once an export of it is imported.")); return tr; })()]);
          polls += 1;
          document.body.dataset.boardPolls = String(polls);
          document.body.dataset.boardReady = "1";
          stamp.textContent = "Updated " + labTime(box.dataset.labTz) + " · " + rows.length + " cell" + (rows.length === 1 ? "" : "s");
        })
        .catch(function (err) { stamp.textContent = err.message; stamp.className = "error small"; });
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(function () { load().then(schedule); }, refreshS * 1000);
    }

    box.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.addEventListener("click", function () {
        var params = new URLSearchParams(window.location.search);
        var key = th.dataset.sort, current = params.get("ordering");
        params.set("ordering", current === key ? "-" + key : key);
        params.delete("offset");  // a new order starts at its first page
        history.replaceState(null, "", "?" + params.toString());
        markSort();
        load();
      });
    });
    markSort();
    load().then(schedule);
    return load;
  }

  function finish(cell, undo) {
    return fetch("/api/v1/board/" + cell + (undo ? "/unfinish/" : "/finish/"), {
      method: "POST", credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf() },
    }).then(function (r) {
      if (!r.ok) throw new Error("The server refused to " + (undo ? "undo “finished”" : "mark the run finished") + " (HTTP " + r.status + ").");
      return r.json();
    });
  }

  /* After "mark finished": a line with an Undo button (the run counts as running again). */
  function offerUndo(root, row, reload) {
    var note = document.getElementById("board-undo");
    if (!note) { return; }
    note.replaceChildren(document.createTextNode(row.cell_name + " marked finished. "));
    var undo = el("button", { type: "button", "data-unfinish-cell": row.cell }, "Undo");
    note.appendChild(undo);
    note.hidden = false;
  }

  function bindActions(root, reload) {
    root.addEventListener("click", function (ev) {
      var fin = ev.target.closest("button[data-finish-cell]");
      if (fin) {
        var name = fin.dataset.cellName || "this cell";
        if (!window.confirm("Mark the run of " + name + " finished? It then no longer turns stale or raises " +
                            "“no new data” until newer data arrives. You can undo this.")) { return; }
        fin.disabled = true;
        finish(fin.dataset.finishCell).then(function (row) { offerUndo(root, row, reload); return reload(); })
          .catch(function (err) { fin.disabled = false; window.alert(err.message); });
        return;
      }
      var unfin = ev.target.closest("button[data-unfinish-cell]");
      if (unfin) {
        unfin.disabled = true;
        finish(unfin.dataset.unfinishCell, true).then(function () {
          var note = document.getElementById("board-undo"); if (note) { note.hidden = true; }
          return reload();
        }).catch(function (err) { unfin.disabled = false; window.alert(err.message); });
        return;
      }
      var btn = ev.target.closest("button[data-alert-action]");
      if (!btn) return;
      btn.disabled = true;
      var ids = (btn.dataset.alertIds || btn.dataset.alertId || "").split(",").filter(Boolean);
      ids.reduce(function (p, id) { return p.then(function () { return act(btn.dataset.alertAction, id, btn.dataset.hours); }); },
                 Promise.resolve())
        .then(function () { return reload(); })
        .catch(function (err) { btn.disabled = false; window.alert(err.message); });
    });
  }

  var board = document.getElementById("board");
  if (board) bindActions(board, initBoard(board));
  var inbox = document.getElementById("inbox");
  if (inbox) {
    // The inbox lists alerts one by one: each live one gets the board's menu (acknowledge, mute, resolve).
    inbox.querySelectorAll("[data-alert-menu]").forEach(function (slot) {
      slot.replaceWith(alertMenu([{ id: slot.dataset.alertMenu, status: slot.dataset.status }]));
    });
    bindActions(inbox, function () { window.location.reload(); });
  }
})();
