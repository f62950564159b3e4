"""Full-resolution records over the API: one data file or a whole cell, streamed as CSV, Parquet or BDF."""
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, renderers, response, status

from assb_lab.lib import ChunkSink
from cells.selectors import cells_visible_to
from cells.services import audit

from .. import selectors
from ..analysis.record import ANALYSED_COLUMNS
from ..models import CycleSummary, DataFile
from ..parsers import RECORD_COLUMNS as _RAW_COLUMNS
from ..parsers.bdf import BdfWriter

# The stored analysed record (cycling.analysis.record) and the cell's cycle added on read.
RECORD_COLUMNS = [*_RAW_COLUMNS[:_RAW_COLUMNS.index("cycle") + 1], selectors.CELL_CYCLE,
                  *_RAW_COLUMNS[_RAW_COLUMNS.index("cycle") + 1:], *ANALYSED_COLUMNS]

OUTPUTS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "bdf-csv": ("text/csv; charset=utf-8", "bdf.csv"),
    "bdf-parquet": ("application/vnd.apache.parquet", "bdf.parquet"),
}
# Exported names carry their unit; the stored sys_time is UTC, and says so.
EXPORT_NAMES = {"sys_time": "sys_time_utc"}

_PARAMETERS = [
    OpenApiParameter("output", str, enum=list(OUTPUTS), description=(
        "csv or parquet: our columns, units in the names (test_time_s, current_ma, voltage_v, capacity_mah, "
        "energy_mwh, sys_time_utc ...); bdf-csv or bdf-parquet: the Battery Data Format (test_time_second, "
        "current_ampere, voltage_volt, charging_capacity_ah ...). Default csv.")),
    OpenApiParameter("cycles", str, description="Cycle numbers and ranges, e.g. 1,2,10-20 (default: all): the "
                     "file's cycles (`cycle`) for one data file, the cell's (`cell_cycle`) for a cell"),
    OpenApiParameter("columns", str, description=f"Comma-separated subset of {', '.join(RECORD_COLUMNS)} "
                     "(csv/parquet only; default: all)"),
    OpenApiParameter("labels", bool, description="BDF only: human labels ('Current / A') instead of "
                     "machine names"),
]
_RESPONSES = {
    (200, "text/csv"): OpenApiTypes.BINARY,
    (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
    400: OpenApiResponse(description="A bad output, cycle or column filter (the message says which)"),
    404: OpenApiResponse(description="No such data file or cell that you may see"),
    409: OpenApiResponse(description="The data file has no records yet (not imported)"),
}


class _DownloadRenderer(renderers.BaseRenderer):
    """Lets `Accept: <media type>` choose the download (content negotiation would answer 406 otherwise); the
    download itself is streamed by the view, so only an error body (a dict) is ever rendered here, as JSON."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else renderers.JSONRenderer().render(data)


class ParquetDownloadRenderer(_DownloadRenderer):
    media_type, format = "application/vnd.apache.parquet", "parquet"


class CsvDownloadRenderer(_DownloadRenderer):
    media_type, format = "text/csv", "csv"


# The media type an Accept header chose -> the output it means (?output= wins; BDF only through ?output=).
ACCEPTED_OUTPUT = {ParquetDownloadRenderer.media_type: "parquet", CsvDownloadRenderer.media_type: "csv"}


class _Options:
    """The query's output, cycle and column choices, checked; `error` is the message of a bad one."""

    def __init__(self, params, accepted_media_type: str | None = None):
        self.error = None
        self.output = params.get("output") or ACCEPTED_OUTPUT.get(accepted_media_type or "", "csv")
        self.labels = params.get("labels", "").lower() in ("1", "true", "yes")
        self.cycles = self.columns = None
        if self.output not in OUTPUTS:
            self.error = f"output must be one of {', '.join(OUTPUTS)}, not {self.output!r}"
            return
        try:
            self.cycles = selectors.parse_cycle_filter(params.get("cycles"))
        except ValueError as exc:
            self.error = f"cycles: {exc}"
            return
        if params.get("columns"):
            if self.output.startswith("bdf"):
                self.error = "columns cannot be chosen for a BDF output (its columns are fixed)"
                return
            names = [c.strip() for c in params["columns"].split(",") if c.strip()]
            unknown = [c for c in names if c not in RECORD_COLUMNS and c not in EXPORT_NAMES.values()]
            if unknown:
                self.error = f"unknown column(s) {', '.join(unknown)}; choose from {', '.join(RECORD_COLUMNS)}"
                return
            back = {v: k for k, v in EXPORT_NAMES.items()}
            self.columns = [back.get(c, c) for c in names]

    @property
    def bdf(self) -> bool:
        return self.output.startswith("bdf")


def stream_response(batches: Iterable, options: _Options, stem: str) -> StreamingHttpResponse:
    """A download of Arrow record batches in the chosen output, written as the batches are read."""
    content_type, ext = OUTPUTS[options.output]
    if options.bdf:
        writer = BdfWriter(labels=options.labels)
        tables = (pa.Table.from_pandas(writer.frame(b.to_pandas()), preserve_index=False) for b in batches)
    else:
        tables = (pa.Table.from_batches([b.rename_columns([EXPORT_NAMES.get(n, n) for n in b.schema.names])])
                  for b in batches)
    chunks = _parquet_chunks(tables) if options.output.endswith("parquet") else _csv_chunks(tables)
    resp = StreamingHttpResponse(chunks, content_type=content_type)
    resp["Content-Disposition"] = f'attachment; filename="{stem}.{ext}"'
    return resp


def _csv_chunks(tables: Iterator[pa.Table]) -> Iterator[bytes]:
    """CSV written by Arrow's C++ writer (5x faster than pandas'), one chunk per batch."""
    sink, writer, schema = ChunkSink(), None, None
    for table in tables:
        if writer is None:
            schema = table.schema
            # Arrow quotes every header name; ours and BDF's are plain words, written as they are.
            sink.write(",".join(schema.names).encode() + b"\n")
            writer = pacsv.CSVWriter(sink, schema, write_options=pacsv.WriteOptions(
                include_header=False, quoting_style="needed"))
        writer.write_table(table.cast(schema))
        yield sink.take()
    if writer is not None:
        writer.close()
    if tail := sink.take():
        yield tail


def _parquet_chunks(tables: Iterator[pa.Table]) -> Iterator[bytes]:
    """Parquet written one row group per batch; each group's bytes leave before the next batch is read."""
    sink, writer = ChunkSink(), None
    for table in tables:
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
        writer.write_table(table.cast(writer.schema))
        yield sink.take()
    if writer is None:  # nothing matched the filter: a valid, empty file
        writer = pq.ParquetWriter(sink, pa.schema([]), compression="zstd")
    writer.close()
    yield sink.take()


class _RecordsView(generics.GenericAPIView):
    queryset = CycleSummary.objects.none()  # model permissions: cycling.view_cyclesummary (devices: none)
    filter_backends = []
    pagination_class = None
    renderer_classes = [renderers.JSONRenderer, ParquetDownloadRenderer, CsvDownloadRenderer]

    def options_of(self, request) -> "_Options":
        renderer = getattr(request, "accepted_renderer", None)
        return _Options(request.query_params, getattr(renderer, "media_type", None))

    def bad(self, message: str, code=status.HTTP_400_BAD_REQUEST):
        return response.Response({"detail": message}, status=code, content_type="application/json")


class DataFileRecordsView(_RecordsView):
    """Every record of one imported data file, from its stored Parquet (never re-parsed)."""

    @extend_schema(parameters=_PARAMETERS, responses=_RESPONSES, operation_id="datafile_records")
    def get(self, request, pk):
        datafile = get_object_or_404(selectors.datafiles_visible_to(request.user).filter(kind=DataFile.Kind.CYCLING),
                                     pk=pk)
        options = self.options_of(request)
        if options.error:
            return self.bad(options.error)
        if not datafile.records_file:
            return self.bad(f"{datafile.original_name} has no records yet (status: {datafile.get_status_display()})",
                            status.HTTP_409_CONFLICT)
        audit(actor=request.user, action="export.records", obj=datafile, output=options.output,
              cycles=request.query_params.get("cycles", ""), columns=request.query_params.get("columns", ""))
        batches = selectors.iter_records(datafile, cycles=options.cycles, columns=options.columns)
        stem = f"{slugify(datafile.cell.name)}-file{datafile.pk}-records"
        return stream_response(batches, options, stem)


class CellRecordsView(_RecordsView):
    """Every record of a cell: its active files in the order they ran, with the data file's id on each row."""

    @extend_schema(parameters=_PARAMETERS, responses=_RESPONSES, operation_id="cell_records")
    def get(self, request, pk):
        cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
        options = self.options_of(request)
        if options.error:
            return self.bad(options.error)
        files = selectors.cell_timeline_files(cell)
        audit(actor=request.user, action="export.records", obj=cell, output=options.output,
              cycles=request.query_params.get("cycles", ""), columns=request.query_params.get("columns", ""),
              datafiles=[f.pk for f in files])
        return stream_response(cell_record_batches(files, options), options, f"{slugify(cell.name)}-records")


def cell_record_batches(files: list[DataFile], options: _Options) -> Iterator[pa.RecordBatch]:
    """The files' records in timeline order; a cycle filter names the cell's cycles (the cycles API's)."""
    for datafile in files:
        offset = datafile.cycle_offset or 0
        cycles = None if options.cycles is None else [(lo - offset, hi - offset) for lo, hi in options.cycles]
        for batch in selectors.iter_records(datafile, cycles=cycles, columns=options.columns):
            if options.bdf:  # BDF's cycle_count is the cell's cycle here, as in the cycles API
                batch = batch.set_column(batch.schema.names.index("cycle"), "cycle", batch.column("cell_cycle"))
            if not options.bdf:
                ids = pa.array([datafile.pk] * batch.num_rows, type=pa.int64())
                batch = pa.RecordBatch.from_arrays([ids, *batch.columns], names=["datafile_id", *batch.schema.names])
            yield batch


