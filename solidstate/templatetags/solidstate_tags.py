"""Template tags that put solid-state results on other apps' pages without those apps importing this one."""
from django import template

from .. import selectors

register = template.Library()


@register.inclusion_tag("solidstate/_batch_conductivity.html")
def batch_conductivity(cell):
    """The conductivity of the electrolyte batch a cell was built from (σ at 25 °C, Ea), linked to its page."""
    return {"cell": cell, "summary": selectors.batch_conductivity_summary(cell.electrolyte_batch)}
