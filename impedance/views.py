"""Web page of a cell's impedance: Nyquist and Bode plots with fits, R_int vs cycle, and a refit form."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from cells.access import missing_permissions, permission_needed
from cells.selectors import cells_visible_to

from . import drt_selectors, selectors, services
from .analysis import DEFAULT_CIRCUIT, R_INT_ELEMENTS
from .filtersets import EisSpectrumFilterSet
from .models import EisFit


@login_required
def cell_impedance(request, pk):
    cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
    can_fit = request.user.has_perm("impedance.change_eisspectrum")
    spectra_qs = selectors.spectra_visible_to(request.user).filter(cell=cell)
    # The same filters as GET /api/v1/eis/spectra/ (after_cycle, after_cycle_min/max, datafile).
    filterset = EisSpectrumFilterSet(request.GET, queryset=spectra_qs)
    shown_qs = filterset.qs if filterset.is_valid() else spectra_qs.none()
    form = {"spectrum": request.GET.get("spectrum", ""), "circuit": DEFAULT_CIRCUIT,
            "r_int_elements": ",".join(R_INT_ELEMENTS), "error": ""}
    status = 200
    if request.method == "POST":
        if not can_fit:
            return permission_needed(request, "impedance.change_eisspectrum", "refitting a spectrum")
        spectrum = get_object_or_404(spectra_qs, pk=request.POST.get("spectrum") or 0)
        form.update(spectrum=str(spectrum.pk), circuit=request.POST.get("circuit", ""),
                    r_int_elements=request.POST.get("r_int_elements", ""))
        elements = [e.strip() for e in form["r_int_elements"].split(",") if e.strip()]
        try:
            fit = services.spectrum_refit(spectrum=spectrum, circuit=form["circuit"], r_int_elements=elements,
                                          actor=request.user)
        except services.RefitError as exc:
            form["error"], status = str(exc), 400
        else:
            if fit.r_int_ohm is None:
                messages.warning(request, f"Refitted with {fit.circuit}: no R_int. {' '.join(fit.warnings)}")
            else:
                messages.success(request, f"Refitted with {fit.circuit}: R_int = {fit.r_int_ohm:.4g} ohm.")
            return redirect(f"{reverse('cell-impedance', args=[cell.pk])}?spectrum={spectrum.pk}")

    fits = EisFit.objects.select_related("created_by").order_by("-is_current", "-created_at")
    spectra = list(shown_qs.prefetch_related(Prefetch("fits", queryset=fits))
                   .order_by("after_cycle", "datafile_id", "sweep"))
    details = [selectors.spectrum_detail(s, fits=list(s.fits.all())) for s in spectra]
    if request.method != "POST":
        # offer the circuit the cell's series uses (it may have been chosen with an inductor, or by a refit)
        series_circuits = [d["circuit"] for d in details if d["circuit"] and d["r_int_ohm"] is not None]
        if series_circuits:
            form["circuit"] = series_circuits[-1]
    rint = selectors.cell_series(cell, selectors.rint_frame([cell]))
    current = {s.pk: next((f for f in s.fits.all() if f.is_current), None) for s in spectra}
    drt = drt_selectors.cell_drt(spectra, current)
    return render(request, "impedance/cell_impedance.html", {
        "needs": missing_permissions(request.user, {
            "impedance.view_eisspectrum": "the Nyquist and Bode plots and the spectra",
            "impedance.view_eisfit": "the fits and R_int vs cycle",
        }),
        "cell": cell, "spectra": details, "rint": rint, "can_fit": can_fit, "form": form, "filterset": filterset,
        "drt": drt,
        "is_filtered": any(request.GET.get(k) for k in ("after_cycle", "after_cycle_min", "after_cycle_max", "datafile")),
    }, status=status)
