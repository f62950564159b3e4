"""Dataset export for publication: one streamed zip of a selection's build sheets, cycles, records, EIS, provenance and figures.

Layout of the zip (README.md inside says the same to the reader):
    README.md, datacite.json, provenance.json, summary-cells.csv, summary-groups.csv, figures/*.svg,
    cells/<cell>/build_sheet.json, cycles.csv, records/<file>.parquet and .bdf.parquet,
    eis/spectrum-<id>.csv, eis/drt-<id>.csv, eis/fits.json, figures/capacity.svg, figures/profiles.svg
The zip is written member by member (data descriptors, no seeking), so memory stays at one record batch
whatever the selection's size. It is reproducible: the same selection of the same data gives the same bytes
(fixed member order, every member stamped with the data's own time, no "exported now" inside), so
`dataset_file` builds it once into storage as `datasets/<etag>.zip` and a broken download resumes with an
HTTP Range request against that file. `manage.py prune_datasets --days N` removes old builds.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils.text import slugify

from assb_lab.escaping import markdown_text, spreadsheet_text
from assb_lab.lib import ChunkSink
from cells.models import Cell
from cells.selectors import cells_visible_to
from cycling import figures, selectors
from cycling.analysis.columns import DATASET, names_for, rounded_row
from cycling.parsers.bdf import READER_VERSION as BDF_VERSION
from cycling.parsers.bdf import BdfWriter

from . import compare
from .services import STORAGE_DIR, prune_built  # noqa: F401  (prune_built: the module's public verb too)

RECORD_FORMATS = ("parquet", "bdf")
# Bumped whenever the zip's layout or any member's writer changes, so an ETag never names an older build.
DATASET_LAYOUT_VERSION = "3"  # 3: records as analysed, with the cell's cycle
# Unit of a build-sheet field from its name's suffix (names carry units; the JSON says them in words too).
_UNIT_SUFFIXES = [
    ("_mg_cm2", "mg/cm²"), ("_mah_cm2", "mAh/cm²"), ("_mah_g", "mAh/g"), ("_cm2", "cm²"), ("_mm", "mm"),
    ("_mpa", "MPa"), ("_mg", "mg"), ("_nm", "nm"), ("_ma", "mA"), ("_v", "V"), ("_c", "°C"), ("_h", "h"),
    ("_s", "s"), ("_t", "t"), ("_percent", "%"), ("_fraction", "1 (mass fraction)"),
]
# cycles.csv: the column contract's DATASET face, then the data file of each cycle.
CYCLE_COLUMNS = [*names_for(DATASET), "datafile_id"]


def dataset_cells(user, *, cell_ids=(), group_ids=(), project_ids=()) -> list[Cell]:
    """The selection's cells among those `user` may see (a group or project brings all its cells)."""
    cond = Q(pk__in=list(cell_ids)) | Q(group_id__in=list(group_ids)) | Q(project_id__in=list(project_ids))
    if not (cell_ids or group_ids or project_ids):
        return []
    return list(cells_visible_to(user).filter(cond).select_related("group", "project").order_by(
        "project__name", "group__name", "replicate_number", "name"))


def dataset_inputs(user, cells: list[Cell], records: tuple[str, ...]) -> tuple[str, datetime]:
    """(ETag, data time) of a selection: the ETag hashes everything the zip is made from (cells and their
    build, groups, data files with their SHA-256 and import time, EIS spectra and fits, the records choice,
    the user, whose visibility decides the group rows); the data time is the newest of those changes."""
    from impedance.models import EisFit, EisSpectrum

    cell_ids = [c.pk for c in cells]
    files = {c.pk: selectors.cell_timeline_files(c) for c in cells}
    spectra = list(EisSpectrum.objects.filter(cell_id__in=cell_ids).order_by("pk").values_list(
        "pk", "cell_id", "datafile_id", "datafile__sha256", "after_cycle", "created_at", "datafile__finished_at"))
    fits = list(EisFit.objects.filter(spectrum__cell_id__in=cell_ids).order_by("pk").values_list(
        "pk", "spectrum_id", "is_current", "r_int_ohm", "created_at"))
    facts = {
        "layout": DATASET_LAYOUT_VERSION, "records": list(records), "user": getattr(user, "pk", None),
        "whole_groups": list(_whole_groups(user, cells)),
        "cells": [[c.pk, c.name, c.updated_at, c.group_id, c.group.name if c.group_id else None,
                   c.group.color if c.group_id else None, c.project.name] for c in cells],
        "datafiles": [[cell_pk, f.pk, f.sha256, f.records_file, f.finished_at, f.timeline_position, f.cycle_offset,
                       (f.provenance or {}).get("analysis_version")] for cell_pk, fs in files.items() for f in fs],
        "spectra": spectra, "fits": fits,
    }
    etag = hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:32]
    times = [c.updated_at for c in cells] + [f.finished_at for fs in files.values() for f in fs if f.finished_at]
    times += [t for row in spectra for t in row[-2:] if t] + [row[-1] for row in fits]
    # zip stamps start in 1980; a selection without any time (never the case for saved rows) gets that.
    return etag, max(times, default=datetime(1980, 1, 1, tzinfo=UTC)).astimezone(UTC)


def dataset_file(user, cells: list[Cell], *, records: tuple[str, ...] = RECORD_FORMATS) -> tuple[str, str]:
    """(storage name, ETag) of the selection's zip, built once and reused while its inputs are unchanged.

    The zip is written under a temporary name and moved into place (an object store's upload is atomic),
    so a reader never gets a half-written file; two requests building at once write the same bytes."""
    etag, at = dataset_inputs(user, cells, records)
    name = f"{STORAGE_DIR}/{etag}.zip"
    if default_storage.exists(name):
        return name, etag
    try:
        final = default_storage.path(name)
    except NotImplementedError:
        final = None
    if final:
        os.makedirs(os.path.dirname(final), exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=os.path.dirname(final), suffix=".part", delete=False) as tmp:
            try:
                for chunk in dataset_zip(user, cells, records=records, at=at):
                    tmp.write(chunk)
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, final)
    else:
        with tempfile.TemporaryFile() as tmp:
            for chunk in dataset_zip(user, cells, records=records, at=at):
                tmp.write(chunk)
            tmp.seek(0)
            saved = default_storage.save(name, File(tmp, name=name))
        if saved != name:  # a concurrent build saved the same bytes first
            default_storage.delete(saved)
    return name, etag


def dataset_zip(user, cells: list[Cell], *, records: tuple[str, ...] = RECORD_FORMATS,
                at: datetime | None = None) -> Iterator[bytes]:
    """The zip as chunks of bytes; each member leaves as soon as it is written. `at` is the data's time
    (dataset_inputs): it stamps every member and the metadata, so the same data gives the same bytes."""
    if at is None:
        at = dataset_inputs(user, cells, records)[1]
    sink = ChunkSink()
    zf = _ReproducibleZip(sink, at)
    now = at
    provenance = {"data_as_of": now.isoformat(), "exported_by": getattr(user, "username", str(user)),
                  "bdf_writer_version": BDF_VERSION, "cells": {}}
    payload = compare.compare(user, compare.Selection(_whole_groups(user, cells), tuple(c.pk for c in cells), None))
    for which in ("cells", "groups"):
        columns, rows = compare.summary_table(payload, which)
        zf.writestr(f"summary-{which}.csv", _csv_text([k for k, _ in columns], rows, [label for _, label in columns]))
    if payload["groups"]:
        for metric in figures.COMPARE_METRICS:
            zf.writestr(f"figures/compare-{metric}.svg", figures.compare_figure(payload, metric=metric))
            yield sink.take()
    for cell in cells:
        base = f"cells/{_safe(cell.name)}"
        zf.writestr(f"{base}/build_sheet.json", _json(build_sheet(cell)))
        rows = cell_cycle_rows(cell)
        zf.writestr(f"{base}/cycles.csv", _csv_text(CYCLE_COLUMNS, rows))
        files = selectors.cell_timeline_files(cell)
        cell_prov = {"datafiles": [datafile_provenance(f) for f in files], "eis": []}
        for datafile in files:
            if "parquet" in records:
                yield from _records_member(zf, sink, datafile, f"{base}/records/{datafile.pk}.parquet")
            if "bdf" in records:
                yield from _records_member(zf, sink, datafile, f"{base}/records/{datafile.pk}.bdf.parquet",
                                           bdf=True)
        cell_prov["eis"] = list(_eis_members(zf, cell, base))
        solid = _solid_state_member(cell)
        if solid is not None:
            zf.writestr(f"{base}/solid_state.json", _json(solid))
            cell_prov["solid_state"] = {"analysis_version": solid["analysis_version"],
                                        "definitions": solid["definitions"]}
        if rows:
            zf.writestr(f"{base}/figures/capacity.svg", figures.cell_capacity_figure(
                rows, color=cell.group.color or "#1f77b4", title=cell.name))
            curves = selectors.cell_curves(cell, selectors.cycle_tokens(None), 2000)
            zf.writestr(f"{base}/figures/profiles.svg", figures.cell_profiles_figure(curves, title=cell.name))
        provenance["cells"][cell.name] = cell_prov
        yield sink.take()
    zf.writestr("provenance.json", _json(provenance))
    zf.writestr("datacite.json", _json(datacite(cells, user, now)))
    zf.writestr("README.md", readme(cells, records, now))
    zf.close()
    yield sink.take()


def _whole_groups(user, cells: list[Cell]) -> tuple[int, ...]:
    """The groups all of whose visible cells are in the selection: only those get group rows and group
    plots (a group half chosen would bring its other cells into the summary)."""
    chosen = {c.pk for c in cells}
    ids = sorted({c.group_id for c in cells if c.group_id})
    members: dict[int, set[int]] = {g: set() for g in ids}
    for pk, group_id in cells_visible_to(user).filter(group_id__in=ids).values_list("pk", "group_id"):
        members[group_id].add(pk)
    return tuple(g for g in ids if members[g] <= chosen)


# --- members ---------------------------------------------------------------------------------------

def build_sheet(cell: Cell) -> dict:
    """The cell's build sheet as the API gives it, plus the unit of every field that has one."""
    from cells.api.serializers import CellSerializer

    data = CellSerializer(cell).data
    data = json.loads(json.dumps(data, default=str))
    data["project_name"], data["group_name"] = cell.project.name, cell.group.name if cell.group_id else None
    units = {}
    for key in [*data, *(f"derived.{k}" for k in data.get("derived") or {})]:
        unit = _unit_of(key.split(".")[-1])
        if unit:
            units[key] = unit
    data["units"] = units
    return data


def _unit_of(name: str) -> str | None:
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return None


def cell_cycle_rows(cell: Cell) -> list[dict]:
    """One row per cycle of the cell (newest file first within a cycle), as the cell page's table."""
    rows, seen = [], set()
    for row in selectors.cycles_of([cell.pk]).values(*CYCLE_COLUMNS):
        if row["cycle"] not in seen:
            seen.add(row["cycle"])
            rows.append(rounded_row(row))
    return rows


def datafile_provenance(datafile) -> dict:
    """Where a file's numbers came from: its bytes, the reader and analysis versions, the parameters used."""
    prov = dict(datafile.provenance or {})
    prov.pop("land_cycle_table", None)  # the instrument's own table is in the original file
    meta = datafile.metadata or {}
    return {
        "datafile_id": datafile.pk, "original_name": datafile.original_name, "sha256": datafile.sha256,
        "size_bytes": datafile.size_bytes, "uploaded_at": datafile.created_at.isoformat(),
        "imported_at": datafile.finished_at.isoformat() if datafile.finished_at else None,
        "reader": meta.get("reader", "land"), "reader_version": meta.get("reader_version") or prov.get("parser_version"),
        "file_format": meta.get("format"), "n_records": datafile.n_records, "n_cycles": datafile.n_cycles,
        "warnings": datafile.warnings, **prov,
    }


def _records_member(zf, sink, datafile, member: str, *, bdf: bool = False) -> Iterator[bytes]:
    """A file's analysed records (with the cell's cycle, as cycles.csv numbers them), as Parquet or BDF Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = BdfWriter()
    info = zf.info(member, zipfile.ZIP_STORED)
    with zf.open(info, "w", force_zip64=True) as dst:
        out = _Tell(dst)
        parquet = None
        for batch in selectors.iter_records(datafile):
            if bdf:  # BDF's cycle_count: the cell's cycle
                frame = batch.to_pandas()
                table = pa.Table.from_pandas(writer.frame(frame.assign(cycle=frame["cell_cycle"])),
                                             preserve_index=False)
            else:
                table = pa.Table.from_batches([batch])
            if parquet is None:
                parquet = pq.ParquetWriter(out, table.schema, compression="zstd")
            parquet.write_table(table.cast(parquet.schema))
            yield sink.take()
        if parquet is not None:
            parquet.close()
    yield sink.take()


def _eis_members(zf, cell: Cell, base: str) -> Iterator[dict]:
    """Each EIS spectrum as CSV and the fits of all spectra in one JSON; yields the provenance per spectrum."""
    from impedance.drt_selectors import spectra_drts
    from impedance.models import EisSpectrum
    from impedance.selectors import fit_summary

    fits = []
    spectra = list(EisSpectrum.objects.filter(cell=cell).select_related("datafile").order_by("after_cycle", "pk"))
    drts = spectra_drts(spectra)
    for spectrum, drt in zip(spectra, drts, strict=True):
        rows = [{"freq_hz": f, "z_real_ohm": re_, "z_imag_ohm": im}
                for f, re_, im in zip(spectrum.freq_hz, spectrum.z_real_ohm, spectrum.z_imag_ohm, strict=True)]
        zf.writestr(f"{base}/eis/spectrum-{spectrum.pk}.csv", _csv_text(["freq_hz", "z_real_ohm", "z_imag_ohm"], rows))
        if "error" not in drt:
            zf.writestr(f"{base}/eis/drt-{spectrum.pk}.csv", _csv_text(
                ["tau_s", "gamma_ohm"], [{"tau_s": t, "gamma_ohm": g} for t, g in zip(drt["tau_s"], drt["gamma_ohm"],
                                                                                     strict=True)]))
        spectrum_fits = [fit_summary(f) for f in spectrum.fits.order_by("-is_current", "-created_at")]
        drt_entry = {"error": drt["error"]} if "error" in drt else {
            "r_inf_ohm": drt["r_inf_ohm"], "r_pol_ohm": drt["r_pol_ohm"], "lambda": drt["lambda"],
            "residual_rel": drt["residual_rel"], "inductance_h": drt["inductance_h"],
            "capacitance_f": drt["capacitance_f"], "peaks": drt["peaks"], "provenance": drt["provenance"]}
        fits.append({"spectrum_id": spectrum.pk, "after_cycle": spectrum.after_cycle,
                     "temperature_c": spectrum.temperature_c, "kk_max_residual_pct": spectrum.kk_max_residual_pct,
                     "kk_passes": spectrum.kk_passes, "fits": spectrum_fits, "drt": drt_entry})
        yield {"spectrum_id": spectrum.pk, "datafile_id": spectrum.datafile_id,
               "original_name": spectrum.datafile.original_name, "sha256": spectrum.datafile.sha256,
               "fits": [{"id": f["id"], "circuit": f["circuit"], "weighting": f["weighting"],
                         "library_versions": f["library_versions"], "r_int_elements": f["r_int_elements"]}
                        for f in spectrum_fits]}
    if fits:
        zf.writestr(f"{base}/eis/fits.json", _json(fits))


def _solid_state_member(cell: Cell) -> dict | None:
    """The cell's solid-state results (pellet conductivity and Arrhenius, sigma_e, CCD, pressure channel, its
    electrolyte batch's conductivity), computed where missing."""
    from solidstate import selectors as solid_selectors
    from solidstate import services as solid_services

    solid_services.cell_results_refresh(cell=cell)
    return solid_selectors.cell_solid_state(cell)


# --- metadata --------------------------------------------------------------------------------------

def datacite(cells: list[Cell], user, now: datetime) -> dict:
    """DataCite-style metadata (the fields a repository such as Zenodo asks for); authors fill the gaps."""
    projects = sorted({c.project.name for c in cells})
    groups = sorted({c.group.name for c in cells if c.group_id})
    builders = sorted({c.builder for c in cells if getattr(c, "builder", "")})
    creator = (user.get_full_name() or user.get_username()) if hasattr(user, "get_username") else str(user)
    return {
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Battery cycling and impedance data"},
        "titles": [{"title": f"{', '.join(projects)}: cycling and EIS data of {len(cells)} cell(s)"}],
        "creators": [{"name": name, "nameType": "Personal"} for name in (builders or [creator])],
        "contributors": [{"name": creator, "contributorType": "DataCurator"}],
        "publisher": "assb-lab",
        "publicationYear": str(now.year),
        "dates": [{"date": now.date().isoformat(), "dateType": "Created"}],
        "subjects": [{"subject": s} for s in ("solid-state battery", "galvanostatic cycling",
                                              "electrochemical impedance spectroscopy", *groups)],
        "descriptions": [{"descriptionType": "Abstract", "description": (
            f"Build sheets, per-cycle results, full-resolution records (Parquet and Battery Data Format), EIS "
            f"spectra and fits of the cells {', '.join(c.name for c in cells)} (groups: {', '.join(groups)}).")}],
        "formats": ["application/json", "text/csv", "application/vnd.apache.parquet", "image/svg+xml"],
        "version": "1",
        "rightsList": [{"rights": "to be chosen by the authors before publication (e.g. CC-BY-4.0)"}],
        "identifiers": [],
    }


def readme(cells: list[Cell], records: tuple[str, ...], now: datetime) -> str:
    lines = [
        "# Dataset exported from assb-lab", "",
        f"Data as of {now:%Y-%m-%d %H:%M} UTC (the latest import, fit or build-sheet change); {len(cells)} cell(s).",
        "Metadata for a repository: `datacite.json`",
        "(fill in the licence and the authors' ORCIDs before publishing).", "",
        "## Contents", "",
        "| path | what |", "|---|---|",
        "| `summary-cells.csv`, `summary-groups.csv` | per cell / group: ICE, first charge and discharge, retention, "
        "decay per cycle with its reference cycle, cycles to 80 %, R_int after formation |",
        "| `figures/compare-*.svg` | the compare page's plots (group mean with ± sd band) |",
        "| `cells/<cell>/build_sheet.json` | the build sheet; `units` names the unit of every field, `derived` the "
        "values computed from it (active mass, area, 1C current) |",
        "| `cells/<cell>/cycles.csv` | one row per cycle; units in the column names (mAh, mAh/g, mAh/cm², %, mWh, "
        "Wh/kg, V, s); CE = discharge/charge for cells that charge first |",
    ]
    if "parquet" in records:
        lines.append("| `cells/<cell>/records/<file>.parquet` | every record of each data file: test_time_s, "
                     "step_time_s, current_ma (charge > 0), voltage_v, capacity_mah (running total per direction), "
                     "energy_mwh, cycle (the file's, as analysed), cell_cycle (the cell's: cycles.csv), step, "
                     "step_kind, step_mode, sys_time (UTC), instrument_cycle (the cycler's own index), half "
                     "(charge/discharge/rest), segment and c_rate_label of the record's cycle |")
    if "bdf" in records:
        lines.append("| `cells/<cell>/records/<file>.bdf.parquet` | the same records in the Battery Data Format "
                     "(test_time_second, voltage_volt, current_ampere, charging/discharging_capacity_ah ...; "
                     "cycle_count is the cell's cycle) |")
    lines += [
        "| `cells/<cell>/eis/` | EIS spectra (freq_hz, z_real_ohm, z_imag_ohm; Z'' signed, capacitive < 0) and "
        "every fit with its circuit, parameters and standard errors; the distribution of relaxation times of each "
        "spectrum (drt-<id>.csv: tau_s, gamma_ohm, whose integral over ln tau is r_pol_ohm) with its peaks, lambda, "
        "basis and method version in fits.json |",
        "| `cells/<cell>/figures/` | capacity and CE against cycle; voltage profiles of cycles 1, 2, 10, 100, last |",
        "| `provenance.json` | per data file: the original file's name and SHA-256, reader and analysis versions, "
        "the build values and parameters used (active mass, area, dQ/dV smoothing), findings and warnings |",
        "", "## Cells", "",
    ]
    # Names are the users' text: escaped so a Markdown viewer shows them as written (no HTML, links, emphasis).
    lines += [f"- {markdown_text(c.name)}: {markdown_text(c.group.name) if c.group_id else 'no group'}, "
              f"replicate {c.replicate_number}, project {markdown_text(c.project.name)}" for c in cells]
    return "\n".join(lines) + "\n"


# --- helpers ---------------------------------------------------------------------------------------

def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or slugify(name) or "cell"


class _ReproducibleZip(zipfile.ZipFile):
    """A deflating ZipFile whose members all carry one fixed time (zipfile would stamp writestr'd names
    with the clock), so the same data gives a byte-identical zip."""

    def __init__(self, sink, at: datetime):
        super().__init__(sink, mode="w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self._stamp = max(at.astimezone(UTC), datetime(1980, 1, 1, tzinfo=UTC)).timetuple()[:6]

    def info(self, member: str, compress_type: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(member, self._stamp)
        info.compress_type = compress_type
        info.external_attr = 0o600 << 16  # what writestr gives a plain name
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self.info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json(data) -> str:
    return json.dumps(_finite(data), indent=2, ensure_ascii=False, default=str) + "\n"


def _csv_text(keys: list[str], rows: list[dict], header: list[str] | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header or keys)
    for row in rows:
        writer.writerow(["" if row.get(k) is None else spreadsheet_text(row.get(k)) for k in keys])
    return buf.getvalue()


class _Tell:
    """A zip member opened for writing, with the tell()/closed that pyarrow's writer asks of a file."""

    def __init__(self, raw):
        self.raw, self.pos, self.closed = raw, 0, False

    def write(self, data) -> int:
        self.raw.write(data)
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def flush(self):
        pass

    def close(self):
        self.closed = True
