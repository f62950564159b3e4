"""Web pages of cycling data: a cell's per-cycle table download, timeline marks and the format profiles (the
compare page is in lab)."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cells.models import CyclerDevice
from cells.selectors import cells_visible_to
from readers import ParseError

from . import services
from .analysis.columns import EXPORT, headers_for, rounded_row
from .exports import table_response
from .models import DataFile, FormatProfile
from .parsers import profile as profile_parsers
from .selectors import cycles_of, format_profile_document, unknown_layout_files

# The per-cycle download: the column contract's EXPORT face (headers with units), plus the file each cycle
# comes from; values rounded to each column's precision.
CYCLE_EXPORT_COLUMNS = [*headers_for(EXPORT)[:2], ("datafile__original_name", "File"), *headers_for(EXPORT)[2:]]


@login_required
def cell_cycles_export(request, pk):
    """A cell's per-cycle table (active files) as CSV or XLSX."""
    cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
    keys = [k for k, _ in CYCLE_EXPORT_COLUMNS]
    rows, seen = [], set()
    for values in cycles_of([cell.pk]).values(*keys):
        if values["cycle"] in seen:  # newest file first within a cycle
            continue
        seen.add(values["cycle"])
        rows.append(rounded_row(values))
    return table_response(CYCLE_EXPORT_COLUMNS, rows, fmt=request.GET.get("format", "csv"),
                          filename=f"{cell.name}-cycles", sheet="cycles")


@login_required
@require_POST
def cell_timeline_mark(request, pk):
    """A researcher marks how a file follows the previous one on the cell's timeline (audit-logged)."""
    cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
    if not request.user.has_perm("cycling.change_datafile"):
        raise PermissionDenied("Only researchers may change a cell's timeline.")
    datafile = get_object_or_404(DataFile, pk=request.POST.get("datafile"), cell=cell, kind=DataFile.Kind.CYCLING)
    mark = request.POST.get("mark", "")
    if mark not in DataFile.TimelineMark.values:
        return HttpResponseBadRequest(f"Unknown timeline mark {mark!r}: use continues, new_run or nothing.")
    services.datafile_mark_timeline(datafile=datafile, mark=mark, actor=request.user)
    return redirect(reverse("cell-page", args=[cell.pk]) + "#timeline")



# --- format profiles: a lab admin maps a text layout no reader knows, once ---------------------------

def _staff_only(request):
    if not request.user.is_staff:
        raise PermissionDenied("Only lab admins may map file layouts (format profiles).")


@login_required
def format_profile_list(request):
    """The lab's format profiles (export, edit, import) and the files refused for an unknown layout."""
    _staff_only(request)
    return render(request, "cycling/format_profiles.html", {
        "profiles": FormatProfile.objects.select_related("device", "created_by"),
        "devices": CyclerDevice.objects.filter(is_active=True),
        "refused": unknown_layout_files(request.user)[:50],
        "import_error": request.GET.get("import_error", ""),
    })


@login_required
def format_profile_edit(request, pk=None):
    """The mapping form: columns, units, separators, header line, encoding; a preview of the first records and
    of the cycles they make (from the preselected file) before saving; saving re-reads that file."""
    _staff_only(request)
    profile = get_object_or_404(FormatProfile, pk=pk) if pk else None
    source = request.POST if request.method == "POST" else request.GET
    datafile = None
    if source.get("datafile"):
        datafile = get_object_or_404(DataFile.objects.restrict(request.user, "view"), pk=source.get("datafile"))
    data = None
    if datafile is not None:
        with default_storage.open(datafile.file.name, "rb") as fh:
            data = fh.read()
    form = _profile_form(request, profile, data)
    role_rows = [{"role": role, "required": role in profile_parsers.REQUIRED_ROLES,
                  "column": form["columns"].get(role) or "", "unit": form["units"].get(role) or "",
                  "unit_choices": profile_parsers.UNIT_CHOICES.get(role, ())} for role in profile_parsers.ROLES]
    context = {"profile": profile, "datafile": datafile, "form": form, "role_rows": role_rows,
               "delimiters": list(profile_parsers.DELIMITERS.values()), "decimals": profile_parsers.DECIMALS,
               "devices": CyclerDevice.objects.filter(is_active=True)}
    if data is not None:
        try:
            context["head_lines"] = profile_parsers.head_lines(data, form["encoding"], n=max(12, form["header_row"] + 5))
            context["header"] = profile_parsers.header_of(data, delimiter=form["delimiter"],
                                                          header_row=form["header_row"], encoding=form["encoding"])
        except ParseError as exc:
            context["error"] = str(exc)
    action = request.POST.get("action") if request.method == "POST" else None
    if action in ("preview", "save") and "error" not in context:
        try:
            mapping = profile_parsers.mapping_from_dict(form["mapping"])
            if data is not None:
                context["preview"] = _preview(data, mapping, datafile)
            if action == "save":
                device = CyclerDevice.objects.filter(pk=form["device"]).first() if form["device"] else None
                saved = services.format_profile_save(name=form["name"], mapping=mapping.to_dict(), device=device,
                                                     actor=request.user, profile=profile)
                if profile is not None and saved.version != profile.version:
                    services.format_profile_reread(profile=saved, actor=request.user)
                if datafile is not None:
                    services.datafile_read_with_profile(datafile=datafile, profile=saved, actor=request.user)
                    return redirect(reverse("cell-page", args=[datafile.cell_id]) + "#datafiles")
                return redirect("format-profiles")
        except ParseError as exc:
            context["error"] = str(exc)
    return render(request, "cycling/format_profile_form.html", context)


def _profile_form(request, profile, data) -> dict:
    """The form's values: posted, else the profile's, else a guess from the file."""
    if request.method == "POST":
        post = request.POST
        try:
            header_row = int(post.get("header_row") or 1)
        except ValueError:
            header_row = 1
        columns = {role: post.get(f"col_{role}", "") for role in profile_parsers.ROLES}
        units = {role: post.get(f"unit_{role}", "") for role in profile_parsers.UNIT_CHOICES}
        form = {"name": post.get("name", ""), "device": post.get("device", ""),
                "delimiter": {name: char for char, name in profile_parsers.DELIMITERS.items()}.get(
                    post.get("delimiter"), post.get("delimiter", ",")),
                "decimal": post.get("decimal", "."), "header_row": max(1, header_row),
                "encoding": post.get("encoding", "auto") or "auto",
                "charge_current": post.get("charge_current", "positive"), "columns": columns, "units": units}
    elif profile is not None:
        m = profile.mapping
        form = {"name": profile.name, "device": str(profile.device_id or ""), "delimiter": m["delimiter"],
                "decimal": m["decimal"], "header_row": m["header_row"], "encoding": m.get("encoding", "auto"),
                "charge_current": m.get("charge_current", "positive"), "columns": dict(m["columns"]),
                "units": dict(m["units"])}
    else:
        guess = {"delimiter": ",", "decimal": ".", "header_row": 1, "encoding": "auto"}
        if data is not None:
            try:
                guess = profile_parsers.guess_layout(data)
            except ParseError:
                pass
        form = {"name": "", "device": "", "charge_current": "positive", "columns": {}, "units": {},
                **{k: guess[k] for k in ("delimiter", "decimal", "header_row", "encoding")}}
    form["delimiter_name"] = profile_parsers.DELIMITERS.get(form["delimiter"], form["delimiter"])
    form["mapping"] = {k: form[k] for k in ("columns", "units", "delimiter", "decimal", "header_row", "encoding",
                                            "charge_current")}
    return form


def _preview(data: bytes, mapping, datafile) -> dict:
    """The first records as the mapping reads them and the per-cycle capacities the analysis makes of them."""
    from cycling.analysis import analyse

    rows = profile_parsers.preview_rows(data, mapping, n=10)
    export = profile_parsers.read_with_profile(data, mapping, name=datafile.original_name)
    cycles = analyse(export, services.cell_spec(datafile.cell)).cycles
    return {"rows": rows.to_dict("records"), "n_records": len(export.records),
            "cycles": cycles[["cycle", "charge_mah", "discharge_mah"]].head(200).to_dict("records"),
            "n_cycles": len(cycles)}


@login_required
def format_profile_export(request, pk):
    """A profile as JSON (to keep, share with another lab, or import back)."""
    _staff_only(request)
    profile = get_object_or_404(FormatProfile, pk=pk)
    response = JsonResponse(format_profile_document(profile), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="format-profile-{profile.pk}-v{profile.version}.json"'
    return response


@login_required
@require_POST
def format_profile_import(request):
    """A profile from its JSON export: new, or the next version of the profile of that name."""
    _staff_only(request)
    upload = request.FILES.get("document")
    if upload is None:
        return redirect(reverse("format-profiles") + "?import_error=Choose+a+profile+JSON+file.")
    device = CyclerDevice.objects.filter(pk=request.POST.get("device") or None).first()
    try:
        services.format_profile_import(document=upload.read(1 << 20), actor=request.user, device=device)
    except ParseError as exc:
        from urllib.parse import quote

        return redirect(reverse("format-profiles") + "?import_error=" + quote(str(exc)))
    return redirect("format-profiles")
