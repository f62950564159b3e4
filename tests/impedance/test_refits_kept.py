"""A researcher's refit survives a reprocess of its file: fitted again on the new points, shown as kept."""
import pytest

from cycling import services as cycling_services
from impedance import services
from impedance.models import EisFit, EisSpectrum
from impedance.simulate import study_spectrum, write_mpt
from tests.helpers import upload_and_ingest

pytestmark = pytest.mark.django_db
OTHER = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"


def test_it_keeps_a_users_refit_across_a_reprocess(api, cell, researcher):
    datafile = upload_and_ingest(api, cell, write_mpt([study_spectrum("bare", seed=4)]), "BARE_c0.mpt")
    spectrum = EisSpectrum.objects.get(datafile=datafile)
    refit = services.spectrum_refit(spectrum=spectrum, circuit=OTHER, r_int_elements=["R2"], actor=researcher)
    assert refit.r_int_ohm == pytest.approx(1400, rel=0.05)

    cycling_services.datafile_reprocess(datafile=datafile, reason="new parser")
    assert cycling_services.datafile_ingest(datafile_id=datafile.pk) == "imported"

    new = EisSpectrum.objects.get(datafile=datafile)
    assert new.pk != spectrum.pk  # the rows were replaced
    fits = list(EisFit.objects.filter(spectrum=new).order_by("created_at"))
    assert len(fits) == 2
    current = [f for f in fits if f.is_current]
    assert len(current) == 1 and current[0].circuit == OTHER and current[0].created_by == researcher
    kept = current[0].provenance["kept_across_reprocess"]
    assert kept["previous_fit"] == refit.pk and kept["was_current"] is True and kept["by"] == researcher.username
    assert current[0].r_int_ohm == pytest.approx(refit.r_int_ohm, rel=1e-6)  # same points, same fit
    datafile.refresh_from_db()
    assert any(w.startswith("Kept 1 refit(s) by a user across the reprocess") for w in datafile.warnings)
    # the ingest's own fit is there too, not current
    assert [f.circuit for f in fits if not f.is_current] != []
