"""Dataset API: one zip for publication of a selection's cycling and impedance data (lab.dataset builds it)."""
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from assb_lab.lib import ranged_file_response
from cells.services import audit
from cycling.api.records import _RecordsView

from .. import compare, dataset


class DatasetView(_RecordsView):
    """One zip for publication: build sheets, per-cycle tables, records (Parquet and BDF), EIS spectra and fits,
    provenance, figures, README and datacite.json, for chosen cells, groups and/or projects.

    Built once per ETag into storage and served from there in chunks; a broken download resumes with
    `Range: bytes=N-` (and `If-Range: <ETag>`, so a part of a since-changed dataset is never spliced in)."""

    @extend_schema(parameters=[
        OpenApiParameter("cells", str, description="Comma-separated cell ids"),
        OpenApiParameter("groups", str, description="Comma-separated cell-group ids (all their cells)"),
        OpenApiParameter("projects", str, description="Comma-separated project ids (all their cells)"),
        OpenApiParameter("records", str, description="parquet, bdf, both (default) or none"),
        OpenApiParameter("Range", str, OpenApiParameter.HEADER, description="bytes=N- to resume a download"),
        OpenApiParameter("If-Range", str, OpenApiParameter.HEADER,
                         description="The ETag of the first part: another ETag gives the whole new zip"),
    ], responses={(200, "application/zip"): OpenApiTypes.BINARY,
                  (206, "application/zip"): OpenApiTypes.BINARY,
                  400: OpenApiResponse(description="An empty selection or a bad records choice"),
                  416: OpenApiResponse(description="The range starts past the end of the zip")},
        operation_id="dataset_export")
    def get(self, request):
        params = request.query_params
        ids = {key: compare.parse_ids(params.get(key, "")) for key in ("cells", "groups", "projects")}
        choice = params.get("records", "both")
        records = {"both": ("parquet", "bdf"), "parquet": ("parquet",), "bdf": ("bdf",), "none": ()}.get(choice)
        if records is None:
            return self.bad("records must be parquet, bdf, both or none")
        cells = dataset.dataset_cells(request.user, cell_ids=ids["cells"], group_ids=ids["groups"],
                                      project_ids=ids["projects"])
        if not cells:
            return self.bad("the selection holds no cell you may see: give cells=, groups= or projects= ids")
        first = cells[0]
        name, etag = dataset.dataset_file(request.user, cells, records=records)
        stem = slugify(first.project.name if len({c.project_id for c in cells}) == 1 else "assb-lab")
        resp = ranged_file_response(request, name, etag=etag, content_type="application/zip",
                                    filename=f"{stem}-dataset.zip")
        # One audit line per download, not per resumed part: a whole file or the first part of one.
        if resp.status_code == 200 or resp.get("Content-Range", "").startswith("bytes 0-"):
            audit(actor=request.user, action="export.dataset", obj=first.project, cells=[c.pk for c in cells],
                  records=choice, etag=etag)
        return resp
