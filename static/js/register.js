// Registration form: the derived values (active mass, areal capacity, 1C current, pressures) live while typing.
// They come from the server's cells.derived (one definition) via the form's data-derive-url.
(function () {
  "use strict";
  const form = document.getElementById("register-form");
  if (!form) return;
  const url = form.dataset.deriveUrl;
  const fmt = (value, digits) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
  const set = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
  const list = (id, items) => {
    const ul = document.getElementById(id);
    ul.replaceChildren(...items.map((text) => { const li = document.createElement("li"); li.textContent = text; return li; }));
  };
  let timer = null, seq = 0;

  async function refresh() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (key !== "csrfmiddlewaretoken" && typeof value === "string") params.append(key, value);
    }
    const mine = ++seq;
    const resp = await fetch(`${url}?${params}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (mine !== seq) return;  // a newer request is on its way
    if (!resp.ok) { list("derived-errors", [`The derived values could not be computed (HTTP ${resp.status}).`]); return; }
    const d = await resp.json();
    set("derived-active-loading", fmt(d.active_loading_mg_cm2, 3));
    set("derived-composite-loading", fmt(d.composite_loading_mg_cm2, 3));
    set("derived-area", fmt(d.area_cm2, 4));
    set("derived-active-mass", fmt(d.active_mass_mg, 3));
    set("derived-theoretical", fmt(d.theoretical_mah_g, 1));
    set("derived-areal-capacity", fmt(d.areal_capacity_mah_cm2, 3));
    set("derived-one-c", fmt(d.one_c_current_ma, 4));
    set("derived-stack", fmt(d.stack_pressure_mpa, 0));
    (d.pressing_pressures_mpa || []).forEach((p, i) => {
      const out = form.querySelector(`output[data-derived="pressure-${i}"]`);
      if (out) out.textContent = p === null ? "—" : `${fmt(p, 0)} MPa`;
    });
    // The next replicate number of the chosen group, until the user types one.
    const replicate = document.getElementById("id_replicate_number");
    if (replicate && !replicate.dataset.typed && d.next_replicate_number) replicate.value = d.next_replicate_number;
    list("derived-warnings", d.warnings || []);
    list("derived-errors", d.errors || []);
    form.dataset.derivedReady = String(mine);
  }

  const replicateInput = document.getElementById("id_replicate_number");
  if (replicateInput) replicateInput.addEventListener("input", () => { replicateInput.dataset.typed = "1"; });
  if (replicateInput && new URLSearchParams(window.location.search).has("like")) replicateInput.dataset.typed = "1";
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 150); });
  form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(refresh, 50); });
  refresh();
})();
