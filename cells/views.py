"""Registry pages: registering a cell in the browser (researchers, not only staff) and its live derived values."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms.models import model_to_dict
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from . import services
from .access import permission_needed
from .forms import CellRegistrationForm, PressingFormSet, build_sheet_of, theoretical_of
from .models import Cell, Material
from .selectors import cells_visible_to, groups_visible_to, projects_visible_to

ADD_CELL = "cells.add_cell"
# A replicate is built like its source but runs on a channel of its own.
_COPIED_FIELDS = [f for f in CellRegistrationForm._meta.fields if f not in ("name", "replicate_number", "cycler_channel")]


def _like(request):
    """The cell a "register like this one" link names (?like=<id>), if the user may see it."""
    pk = request.GET.get("like")
    if not pk or not pk.isdigit():
        return None
    return get_object_or_404(cells_visible_to(request.user).prefetch_related("pressing_steps"), pk=pk)


@login_required
def cell_register(request):
    if not request.user.has_perm(ADD_CELL):
        return permission_needed(request, ADD_CELL, "registering a cell")
    if not projects_visible_to(request.user).exists():
        return render(request, "cells/cell_register.html", {"no_project": True}, status=403)
    source = _like(request)
    if request.method == "POST":
        form = CellRegistrationForm(request.POST, user=request.user)
        pressings = PressingFormSet(request.POST, prefix="pressing")
        if form.is_valid() and pressings.is_valid():
            steps = [f.save(commit=False) for f in pressings.forms if f.has_changed() and f.cleaned_data]
            cell = services.cell_register(cell=form.save(commit=False), pressing_steps=steps, actor=request.user,
                                          source_cell=source)
            messages.success(request, f"{cell.name} registered.")
            return redirect(cell.get_absolute_url())
    else:
        initial, steps = {}, []
        if source is not None:
            initial = {**model_to_dict(source, fields=_COPIED_FIELDS), "name": services.replicate_name(source.name),
                       "replicate_number": services.next_replicate_number(group_id=source.group_id)}
            steps = [{"layer": s.layer, "force_t": s.force_t, "die_diameter_mm": s.die_diameter_mm,
                      "hold_time_s": s.hold_time_s} for s in source.pressing_steps.all()]
        form = CellRegistrationForm(initial=initial, user=request.user)
        pressings = PressingFormSet(prefix="pressing", initial=steps, queryset=Cell.objects.none())
        pressings.extra = max(3, len(steps))
    return render(request, "cells/cell_register.html", {
        "form": form, "pressings": pressings, "source": source,
        "cathode_defaults": dict(Material.objects.filter(kind=Material.Kind.CATHODE_ACTIVE)
                                 .values_list("pk", "theoretical_capacity_mah_g")),
    })


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is None or abs(number) < 1e12 else None


@login_required
@require_GET
def cell_derive(request):
    """The derived values of a build sheet being typed (the registration form's live preview), by cells.derived."""
    if not request.user.has_perm(ADD_CELL):
        return JsonResponse({"detail": f"Needs the permission {ADD_CELL}."}, status=403)
    q = request.GET
    data = {name: _number(q.get(name)) for name in (
        "cathode_active_fraction", "composite_loading_mg_cm2", "active_loading_mg_cm2", "area_cm2",
        "die_diameter_mm", "theoretical_capacity_mah_g")}
    material = q.get("cathode_material")
    data["cathode_material"] = int(material) if material and material.isdigit() else None
    total = min(int(q.get("pressing-TOTAL_FORMS") or 0) if (q.get("pressing-TOTAL_FORMS") or "").isdigit() else 0, 8)
    pressings = [(_number(q.get(f"pressing-{i}-force_t")), _number(q.get(f"pressing-{i}-die_diameter_mm")))
                 for i in range(total)]
    sheet = build_sheet_of(data, pressings)
    stack = _number(q.get("stack_pressure_mpa"))
    group = q.get("group") or ""
    visible_group = group.isdigit() and groups_visible_to(request.user).filter(pk=int(group)).exists()
    replicate = services.next_replicate_number(group_id=int(group)) if visible_group else None
    return JsonResponse({**sheet, "theoretical_mah_g": theoretical_of(data), "stack_pressure_mpa": stack,
                         "next_replicate_number": replicate})

