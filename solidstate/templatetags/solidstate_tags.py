"""Template tags that put solid-state results on other apps' pages without those apps importing this one."""
from django import template

from .. import selectors

register = template.Library()


@register.inclusion_tag("solidstate/_batch_conductivity.html")
def batch_conductivity(cell):
    """The conductivity of the electrolyte batch a cell was built from (σ at 25 °C, Ea), linked to its page."""
    return {"cell": cell, "summary": selectors.batch_conductivity_summary(cell.electrolyte_batch)}


@register.inclusion_tag("solidstate/_pressure.html")
def pressure_traces(cell):
    """The stack-pressure channel of the cell's files (read on first view), with any drift from the registered
    value; nothing when no file has a channel."""
    from .. import services

    traces = services.pressure_refresh(cell=cell)
    data = [{"file": t.datafile.original_name, "time_s": t.time_s, "pressure_mpa": t.pressure_mpa,
             "registered_mpa": t.registered_mpa, "drift_since_s": t.drift.get("since_s")} for t in traces]
    return {"cell": cell, "traces": traces, "data": data}
