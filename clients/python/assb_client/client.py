"""The HTTP client: one requests session, paging followed, server errors raised as Python exceptions."""

from __future__ import annotations

import io
import os
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import requests

DEFAULT_TIMEOUT_S = 60.0


class ApiError(Exception):
    """The server refused a request; `status` is the HTTP status, `message` the server's own words."""

    def __init__(self, status: int, message: str, url: str = ""):
        self.status, self.message, self.url = status, message, url
        super().__init__(f"{status}: {message}" + (f" ({url})" if url else ""))


class AuthenticationError(ApiError):
    """401: no token, or a token the server does not know (set ASSB_TOKEN or pass token=)."""


class PermissionDenied(ApiError):
    """403: the token is valid but its user (or device) may not do this."""


class NotFound(ApiError):
    """404: no such object among those this user may see."""


class ValidationError(ApiError):
    """400 (or 409/413/415): the request was understood but its values were refused; see `errors`."""

    def __init__(self, status: int, message: str, url: str = "", errors=None):
        super().__init__(status, message, url)
        self.errors = errors


class ImportFailed(Exception):
    """An uploaded file ended 'failed'; the message is the server's reason (file, sheet, row, column)."""

    def __init__(self, datafile: dict):
        self.datafile = datafile
        super().__init__(f"{datafile.get('original_name', 'the file')}: {datafile.get('error') or 'import failed'}")


_ERRORS = {401: AuthenticationError, 403: PermissionDenied, 404: NotFound}


def _message(body) -> str:
    """The server's message in one line, whatever shape DRF gave it ({'detail': ...} or {'field': [...]})."""
    if isinstance(body, dict):
        if "detail" in body:
            return str(body["detail"])
        return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in body.items())
    if isinstance(body, list):
        return "; ".join(map(str, body))
    return str(body)


class Client:
    """A session on one assb-lab server.

    url and token default to the environment variables ASSB_URL and ASSB_TOKEN (a user's API token from
    the admin's Tokens page; cycler device tokens can only upload).
    """

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S):
        url = url or os.environ.get("ASSB_URL")
        token = token or os.environ.get("ASSB_TOKEN")
        if not url:
            raise ValueError("no server: pass url= or set ASSB_URL (e.g. http://lab-server:8000)")
        if not token:
            raise ValueError("no API token: pass token= or set ASSB_TOKEN")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json, */*"})

    # --- plumbing ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kw) -> requests.Response:
        url = path if path.startswith("http") else f"{self.url}/api/v1/{path.lstrip('/')}"
        resp = self.session.request(method, url, timeout=self.timeout_s, **kw)
        if resp.status_code < 400:
            return resp
        try:
            body = resp.json()
        except ValueError:
            body = resp.text[:500] or resp.reason
        kind = _ERRORS.get(resp.status_code)
        if kind is not None:
            raise kind(resp.status_code, _message(body), url)
        if resp.status_code in (400, 409, 413, 415):
            raise ValidationError(resp.status_code, _message(body), url, errors=body)
        raise ApiError(resp.status_code, _message(body), url)

    def get(self, path: str, **params) -> dict | list:
        return self._request("GET", path, params=_clean(params)).json()

    def _all(self, path: str, **params) -> list[dict]:
        """Every item of a paged list (follows 'next' until the end)."""
        body = self.get(path, **params)
        if isinstance(body, list):
            return body
        items = list(body["results"])
        while body.get("next"):
            body = self._request("GET", body["next"]).json()
            items.extend(body["results"])
        return items

    def _id(self, kind: str, ref, **scope) -> int:
        """An object's id from its id or its exact name."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return int(ref)
        if isinstance(ref, dict):
            return int(ref["id"])
        found = [o for o in self._all(kind, search=ref, **scope) if o.get("name") == ref]
        if not found:
            raise NotFound(404, f"no {kind.rstrip('/')[:-1]} named {ref!r} that you may see")
        return int(found[0]["id"])

    # --- reads ---------------------------------------------------------------------------------

    def projects(self) -> pd.DataFrame:
        return pd.DataFrame(self._all("projects/"))

    def cells(self, project=None, group=None) -> pd.DataFrame:
        """The cells you may see (all pages), optionally of one project and/or group (id or name)."""
        params = {}
        if project is not None:
            params["project"] = self._project_id(project)
        if group is not None:
            params["group"] = group if isinstance(group, int) else str(group)
        return pd.DataFrame(self._all("cells/", **params))

    def _project_id(self, ref) -> int:
        if isinstance(ref, int) or str(ref).isdigit():
            return int(ref)
        for p in self._all("projects/"):
            if p["name"] == ref:
                return int(p["id"])
        raise NotFound(404, f"no project named {ref!r} that you may see")

    def cycles(self, cell) -> pd.DataFrame:
        """One row per cycle of a cell (capacities in mAh, mAh/g, mAh/cm2; CE %; energies; voltages; C-rate)."""
        return pd.DataFrame(self.get(f"cells/{self._id('cells/', cell)}/cycles/"))

    def records(self, cell=None, *, datafile: int | None = None, cycles: Iterable[int] | str | None = None,
                columns: Iterable[str] | None = None) -> pd.DataFrame:
        """Full-resolution records (units in the column names) of a cell, or of one data file, via Parquet."""
        if (cell is None) == (datafile is None):
            raise ValueError("give a cell or a datafile (one of them)")
        path = f"datafiles/{int(datafile)}/records/" if datafile is not None else (
            f"cells/{self._id('cells/', cell)}/records/")
        return pd.read_parquet(io.BytesIO(self._download(path, output="parquet", cycles=cycles, columns=columns)))

    def bdf(self, cell, path: str | os.PathLike, *, parquet: bool = False, labels: bool = False) -> Path:
        """Save a cell's records as a Battery Data Format file (csv, or parquet) at `path`."""
        data = self._download(f"cells/{self._id('cells/', cell)}/records/",
                              output="bdf-parquet" if parquet else "bdf-csv", labels=labels or None)
        target = Path(path)
        target.write_bytes(data)
        return target

    def _download(self, path: str, **params) -> bytes:
        resp = self._request("GET", path, params=_clean(params), stream=True)
        return b"".join(resp.iter_content(chunk_size=1 << 20))

    def eis_spectra(self, cell) -> pd.DataFrame:
        """A cell's EIS sweeps (one row each: after_cycle, points, lin-KK, current fit's R_int), by cycle."""
        return pd.DataFrame(self._all("eis/spectra/", cell=self._id("cells/", cell)))

    def drt(self, spectrum: int, *, lambda_: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The distribution of relaxation times of one EIS sweep (id from :meth:`eis_spectra`): gamma vs tau
        (``tau_s``, ``gamma_ohm``; its integral over ln tau is R_pol) and the peaks (``tau_s``, ``f_hz``,
        ``resistance_ohm``). ``lambda_`` fixes the regularisation (default: generalised cross-validation). Both
        frames carry the method's provenance in ``attrs`` (lambda, basis, version, r_inf_ohm, r_pol_ohm)."""
        body = self.get(f"eis/spectra/{int(spectrum)}/drt/", **{"lambda": lambda_})
        gamma = pd.DataFrame({"tau_s": body["tau_s"], "gamma_ohm": body["gamma_ohm"]})
        peaks = pd.DataFrame(body["peaks"], columns=["tau_s", "f_hz", "resistance_ohm"])
        attrs = {"spectrum": body["spectrum"], "lambda": body["lambda"], "r_inf_ohm": body["r_inf_ohm"],
                 "r_pol_ohm": body["r_pol_ohm"], "residual_rel": body["residual_rel"],
                 "inductance_h": body["inductance_h"], "capacitance_f": body["capacitance_f"],
                 **body["provenance"]}
        gamma.attrs, peaks.attrs = dict(attrs), dict(attrs)
        return gamma, peaks

    def compare(self, groups=None, cells=None, *, reference_cycle: int | None = None,
                per: str = "cell") -> pd.DataFrame:
        """The comparison's summary: per cell (default) or per group ('group') ICE, first charge/discharge,
        retention, decay %/cycle with its reference, cycles to 80 %, R_int after formation."""
        group_ids = [self._id("groups/", g) for g in _listed(groups)]
        cell_ids = [self._id("cells/", c) for c in _listed(cells)]
        body = self.get("compare/summary/", groups=",".join(map(str, group_ids)) or None,
                        cells=",".join(map(str, cell_ids)) or None, reference_cycle=reference_cycle)
        if per not in ("cell", "group"):
            raise ValueError("per must be 'cell' or 'group'")
        frame = pd.DataFrame(body["cells" if per == "cell" else "groups"])
        frame.attrs["columns"] = {c["key"]: c["label"] for c in body["columns"]}
        return frame

    def electrolyte_batches(self) -> pd.DataFrame:
        """The electrolyte batches (id, name, material, supplier, made_on)."""
        return pd.DataFrame(self._all("electrolyte-batches/"))

    def _batch_id(self, ref) -> int:
        if isinstance(ref, int) or str(ref).isdigit():
            return int(ref)
        for b in self._all("electrolyte-batches/"):
            if b["name"] == ref:
                return int(b["id"])
        raise NotFound(404, f"no electrolyte batch named {ref!r}")

    def conductivity(self, batch) -> pd.DataFrame:
        """A batch's pellet spectra: temperature_c, r_total_ohm, sigma_total_s_cm, r_bulk_ohm / sigma_bulk_s_cm
        (None where the bulk arc is out of the band), what was measured; ``attrs["arrhenius"]`` holds the fit
        (ea_ev, ea_ev_se, sigma_25c_s_cm, form "sigma_T", n_points) or None below 3 temperatures."""
        body = self.get(f"electrolyte-batches/{self._batch_id(batch)}/results/")
        frame = pd.DataFrame(body["conductivity"]["points"])
        frame.attrs["arrhenius"] = body["conductivity"]["arrhenius"]
        return frame

    def ccd(self, batch) -> list[dict]:
        """A batch's symmetric cells' CCD results (steps, ccd_ma_cm2 or None when not reached, short_time_s,
        definition, stack pressure and temperature)."""
        return self.get(f"electrolyte-batches/{self._batch_id(batch)}/results/")["ccd"]

    def effects(self, outcome: str, factor: str | None = None, *, project=None, groups=None, cells=None,
                scale: str | None = None, cycle: int | None = None, detect: float | None = None,
                per: str = "level") -> pd.DataFrame:
        """The effect of a build fact on a per-cell outcome (GET effects/): one row per level (n, mean, sd,
        ci95_low/high, cells) or, with per='cell', per cell; without a factor, the factor screen (one row per
        varying build fact, ranked). The whole answer (test, regression, warnings, ...) is in .attrs["report"]."""
        selection = {"project": self._project_id(project) if project is not None else None,
                     "groups": ",".join(str(self._id("groups/", g)) for g in _listed(groups)) or None,
                     "cells": ",".join(str(self._id("cells/", c)) for c in _listed(cells)) or None, "cycle": cycle}
        if factor is None:
            body = self.get("effects/screen/", outcome=outcome, **selection)
            frame = pd.DataFrame([{**{k: v for k, v in r.items() if k != "effect"}, "effect": r["effect"]["name"],
                                   "estimate": r["effect"]["estimate"], "ci95_low": r["effect"]["ci95"][0],
                                   "ci95_high": r["effect"]["ci95"][1]} for r in body["rows"]])
        else:
            if per not in ("level", "cell"):
                raise ValueError("per must be 'level' or 'cell'")
            body = self.get("effects/", outcome=outcome, factor=factor, scale=scale, detect=detect, **selection)
            if per == "cell":
                frame = pd.DataFrame(body.get("points", []))
            else:
                frame = pd.DataFrame([{**{k: v for k, v in lv.items() if k != "ci95"}, "ci95_low": lv["ci95"][0],
                                       "ci95_high": lv["ci95"][1]} for lv in body["levels"]])
        frame.attrs["report"] = body
        for warning in body.get("warnings", []):
            warnings.warn(f"{outcome}: {warning['message']}", stacklevel=2)
        return frame

    # --- writes --------------------------------------------------------------------------------

    def upload(self, cell, path: str | os.PathLike, *, kind: str = "cycling", notes: str = "", wait: bool = True,
               timeout_s: float = 900.0, poll_s: float = 1.0) -> dict:
        """Upload an export (LAND, BDF or EIS) to a cell; with wait, return once imported or raise ImportFailed."""
        path = Path(path)
        with path.open("rb") as fh:
            resp = self._request("POST", "datafiles/", data={"cell": str(self._id("cells/", cell)), "kind": kind,
                                                             "notes": notes},
                                 files={"file": (path.name, fh, "application/octet-stream")})
        datafile = resp.json()
        deadline = time.monotonic() + timeout_s
        while wait and datafile["status"] not in ("imported", "failed"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path.name} is still {datafile['status']} after {timeout_s:.0f} s "
                                   f"(data file {datafile['id']}); the import goes on on the server")
            time.sleep(poll_s)
            datafile = self.get(f"datafiles/{datafile['id']}/")
        if datafile["status"] == "failed":
            raise ImportFailed(datafile)
        return datafile


def _listed(value) -> list:
    if value is None:
        return []
    if isinstance(value, str | int | dict):
        return [value]
    return list(value)


def _clean(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | range):
            value = ",".join(map(str, value))
        out[key] = value
    return out
