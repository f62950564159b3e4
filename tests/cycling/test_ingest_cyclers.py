"""Every cycler's public sample through the upload API and the one ingest: cycle rows and their values
against the file's own numbers (or an independent reader of it), and the provenance naming the reader."""
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import python_calamine
from django.core.files.uploadedfile import SimpleUploadedFile

from cycling import services
from cycling.analysis import CellSpec, analyse
from cycling.models import CycleSummary, DataFile
from cycling.parsers import arbin, biologic, maccor, neware, read_export
from tests.helpers import posted_id

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data" / "cyclers"


def upload(device_api, cell, path: str) -> DataFile:
    """POST the sample as a cycler PC would, run the ingest here; it must import."""
    datafile_id = posted_id(device_api, cell, (DATA / path).read_bytes(), Path(path).name)
    status = services.datafile_ingest(datafile_id=datafile_id)
    datafile = DataFile.objects.get(pk=datafile_id)
    assert status == "imported", datafile.error
    return datafile


def rows(datafile) -> pd.DataFrame:
    return pd.DataFrame(CycleSummary.objects.filter(datafile=datafile).order_by("file_cycle").values(
        "file_cycle", "charge_mah", "discharge_mah")).set_index("file_cycle").astype(float)


def sheet(path: str, name: str) -> pd.DataFrame:
    table = python_calamine.CalamineWorkbook.from_path(str(DATA / path)).get_sheet_by_name(name).to_python()
    return pd.DataFrame(table[1:], columns=table[0])


def provenance(datafile) -> tuple:
    prov = datafile.provenance
    return prov["instrument"], prov["reader"], prov["reader_version"]


def test_a_neware_workbook_imports_with_the_capacities_of_its_own_cycle_sheet(device_api, cell):
    path = "neware/cellpy__custom_data_003.xls"
    datafile = upload(device_api, cell, path)
    assert provenance(datafile) == ("Neware", "assb-lab neware-bts", neware.VERSION)
    assert datafile.n_records == len(sheet(path, "Detail_14_1_3")) == 2943
    ours, theirs = rows(datafile), sheet(path, "Cycle_14_1_3").set_index("ToTal of Cycle")
    assert len(ours) == len(theirs) == datafile.n_cycles == 14
    assert np.allclose(ours["discharge_mah"], theirs["Capacity of discharge(mAh)"], rtol=1e-9)
    # Cycle 1 starts with the discharge: no charge half (Neware writes 0 there).
    assert np.isnan(ours["charge_mah"].iat[0]) and theirs["Capacity of charge(mAh)"].iat[0] == 0
    assert np.allclose(ours["charge_mah"].iloc[1:], theirs["Capacity of charge(mAh)"].iloc[1:], rtol=1e-9)
    assert ours["discharge_mah"].iat[0] == pytest.approx(3.5241456666666666)
    # The records agree with the instrument's summary: no cross-check warning.
    assert not any("cycle summary" in w for w in datafile.warnings)


@pytest.mark.parametrize(("path", "n_records", "n_cycles"), [
    ("neware/navani__test.nda", 439, 2), ("neware/navani__test.ndax", 1464, 1)])
def test_neware_nda_and_ndax_import_with_the_capacities_newarenda_reads(device_api, cell, path, n_records, n_cycles):
    import NewareNDA

    datafile = upload(device_api, cell, path)
    assert provenance(datafile)[:2] == ("Neware", "fastnda")
    reference = NewareNDA.read(str(DATA / path), cycle_mode="auto", log_level="ERROR")
    assert datafile.n_records == len(reference) == n_records
    ours = rows(datafile)
    assert len(ours) == datafile.n_cycles == n_cycles
    theirs = reference.groupby("Cycle")["Discharge_Capacity(mAh)"].max()
    assert np.allclose(ours["discharge_mah"], theirs.loc[ours.index], rtol=1e-4)


def test_a_neware_csv_in_amperes_imports_its_discharge_in_mah(device_api, cell):
    path = "neware/cellpy__neware_uio_first2000.csv"
    datafile = upload(device_api, cell, path)
    assert provenance(datafile) == ("Neware", "assb-lab neware-csv", neware.VERSION)
    raw = pd.read_csv(DATA / path)
    assert datafile.n_records == len(raw) == 2000
    assert rows(datafile)["discharge_mah"].tolist() == pytest.approx([raw["DChg. Cap.(Ah)"].max() * 1000])


def test_an_arbin_workbook_imports_its_records_and_first_discharge(device_api, cell):
    path = "arbin/navani__bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx"
    datafile = upload(device_api, cell, path)
    assert provenance(datafile) == ("Arbin", "assb-lab arbin-xlsx", arbin.VERSION)
    raw = sheet(path, "Channel_11_1")
    assert datafile.n_records == len(raw) == 4526
    ours = rows(datafile)
    # Arbin's Cycle_Index stays 1 over two discharge/charge pairs, so the lab's cycle rule splits it; Arbin's
    # Discharge_Capacity runs over its whole cycle, so it is the sum of our two discharges.
    assert len(ours) == 2
    assert ours["discharge_mah"].sum() == pytest.approx(raw["Discharge_Capacity(Ah)"].max() * 1000, rel=1e-6)
    first_discharge_end = raw.index[raw["Current(A)"] < 0][-1]
    assert ours["discharge_mah"].sum() == pytest.approx(raw["Discharge_Capacity(Ah)"][first_discharge_end] * 1000,
                                                        rel=1e-6)
    assert ours["discharge_mah"].iat[0] == pytest.approx(5.798039, rel=1e-5)  # the first discharge (lithiation)


def test_an_arbin_csv_dump_imports(device_api, cell):
    path = "arbin/PyProBE__sample_data_arbin.csv"
    datafile = upload(device_api, cell, path)
    assert provenance(datafile) == ("Arbin", "assb-lab arbin-csv", arbin.VERSION)
    raw = pd.read_csv(DATA / path, encoding="utf-8-sig")
    assert datafile.n_records == len(raw) == 13
    ours = rows(datafile)
    assert len(ours) == datafile.n_cycles == 1 and np.isnan(ours["discharge_mah"].iat[0])
    # Only a start of a charge here: its capacity is Arbin's own Charge Capacity (0.400839 mAh). Arbin's
    # discharge counter ticks by 0.020 mAh at the charge's first record; that is not charge.
    assert raw["Discharge Capacity (Ah)"].max() * 1000 == pytest.approx(0.0204379)
    assert ours["charge_mah"].iat[0] == pytest.approx(raw["Charge Capacity (Ah)"].iat[-1] * 1000, rel=1e-9)
    assert ours["charge_mah"].iat[0] == pytest.approx(0.400839, rel=1e-9)


def test_a_biologic_mpt_imports_the_charge_of_its_discharge(device_api, cell):
    path = "biologic/PyProBE__Sample_data_biologic_01_MB_CA1.txt"
    datafile = upload(device_api, cell, path)
    assert provenance(datafile) == ("BioLogic", "assb-lab biologic-mpt", biologic.VERSION)
    assert datafile.n_records == 1397
    last = (DATA / path).read_text(encoding="latin-1").splitlines()[-1].split("\t")
    assert rows(datafile)["discharge_mah"].tolist() == pytest.approx([abs(float(last[5]))], rel=1e-6)  # (Q-Qo)


def test_a_maccor_text_export_imports(device_api, cell):
    path = "maccor/cellpy__maccor_001_first1500.txt"
    datafile = upload(device_api, cell, path)
    assert provenance(datafile) == ("Maccor", "assb-lab maccor-text", maccor.VERSION)
    assert datafile.n_records == 1500
    export = read_export(DATA / path)
    ours = rows(datafile)
    assert len(ours) == datafile.n_cycles == 2
    # The first discharge: Maccor's Amp-hr at the end of the first State D step (mAh).
    discharge = export.records[export.records["step_kind"] == "discharge"]
    first = discharge[discharge["step"] == discharge["step"].iat[0]]
    assert ours["discharge_mah"].iat[0] == pytest.approx(first["capacity_mah"].max())
    assert ours["discharge_mah"].iat[0] == pytest.approx(637.81, rel=1e-4)


def test_a_bdf_table_imports(device_api, cell):
    datafile = upload(device_api, cell, "bdf/cellpy__batmo_bdf.csv")
    assert provenance(datafile)[:2] == ("BDF", "bdf")
    assert datafile.n_records == 2831 and datafile.n_cycles == len(rows(datafile)) == 11


def test_the_pipeline_warns_when_the_records_disagree_with_the_instruments_cycle_summary():
    export = read_export(DATA / "neware/cellpy__custom_data_003.xls")
    assert not [w for w in analyse(export, CellSpec()).warnings if "Neware cycle summary" in w]
    table = export.cycle_table.copy()
    table.loc[table["cycle"] == 5, "discharge_mah"] *= 1.05
    export.cycle_table = table
    warned = [w for w in analyse(export, CellSpec()).warnings if "Neware cycle summary" in w]
    assert len(warned) == 1 and "discharge" in warned[0] and "cycle(s) 5" in warned[0]


def test_an_unsupported_file_is_refused_at_upload_naming_the_file_and_what_it_looked_like(device_api, cell):
    data = b"timestamp,temperature_C\n2024-01-01T00:00:00,21.5\n"
    resp = device_api.post("/api/v1/datafiles/", {"cell": cell.name, "kind": "cycling",
                                                  "file": SimpleUploadedFile("logger.csv", data)}, format="multipart")
    assert resp.status_code == 415, resp.content
    error = resp.json()["file"][0]
    assert "logger.csv" in error and "no record table" in error, error
    assert "Looked for: LAND (" in error and "Arbin (" in error and "Record-Tab" not in error, error
    assert not DataFile.objects.exists() and not CycleSummary.objects.exists()
    with pytest.raises(Exception, match="x.bin.*binary data of an unknown format, not an export of a cycler this system reads"):
        read_export(io.BytesIO(b"\x00\x01garbage" * 10), name="x.bin")
