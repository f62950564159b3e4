"""REST endpoints for uploads, their status, and a cell's cycles, curves and dQ/dV (thin over services/selectors)."""
import errno
import logging

from django.conf import settings
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import decorators, generics, mixins, parsers, response, status, viewsets

from assb_lab.params import query_number
from cells.models import Cell
from cells.selectors import cells_visible_to

from .. import cache, selectors, services
from ..filtersets import DataFileFilterSet
from ..models import CYCLE_FIELDS, CycleSummary
from ..sniff import HEAD_BYTES, refuse_reason
from ..uploads import HashingUploadHandler
from . import serializers

log = logging.getLogger(__name__)

# Multipart framing around the file itself is small; anything this far over the limit is refused unread.
_MULTIPART_SLACK_BYTES = 64 * 1024


class DataFileViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin,
                      mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Upload LAND/EIS exports (202 + status URL; parsing happens in a worker), follow and manage them."""

    serializer_class = serializers.DataFileSerializer
    filterset_class = DataFileFilterSet
    ordering_fields = ["created_at", "status"]
    device_actions = {"create", "retrieve"}
    parser_classes = [parsers.MultiPartParser, parsers.JSONParser]

    def get_queryset(self):
        return selectors.datafiles_visible_to(self.request.user)

    def initialize_request(self, request, *args, **kwargs):
        request.upload_handlers = [HashingUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": serializers.DataFileUploadSerializer},
        responses={202: serializers.DataFileSerializer, 200: serializers.DataFileSerializer},
        description="Store an export and queue its ingest. 202 for a new file, 200 when the same bytes were "
        "already uploaded for this cell, 413 above the size limit, 415 for what is clearly not an export.",
    )
    def create(self, request, *args, **kwargs):
        limit = settings.ASSB_UPLOAD_MAX_BYTES
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limit + _MULTIPART_SLACK_BYTES:
            return _too_large(limit)
        upload_form = serializers.DataFileUploadSerializer(data=request.data)
        if getattr(request._request, "upload_too_large", False):
            return _too_large(limit)
        parts = [(key, f.name) for key in request.FILES for f in request.FILES.getlist(key)]
        if len(parts) > 1:  # a QueryDict would keep only the last one: say so instead of dropping the others
            listed = ", ".join(f"{key}: {name}" for key, name in parts)
            return response.Response(
                {"file": [f"The upload holds {len(parts)} file parts ({listed}); send one file per request "
                          "(the folder uploader sends each file in its own request)."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        upload_form.is_valid(raise_exception=True)
        upload = upload_form.validated_data["file"]
        if upload.size > limit:
            return _too_large(limit)
        reason = refuse_reason(upload.read(HEAD_BYTES), kind=upload_form.validated_data["kind"])
        upload.seek(0)
        if reason:
            return response.Response({"file": [f"{upload.name}: {reason}."]},
                                     status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
        cell = _resolve_cell(request.user, upload_form.validated_data["cell"])
        if cell is None:
            return response.Response(
                {"cell": [f"No cell {upload_form.validated_data['cell']!r} that you may upload to."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            datafile, created = services.datafile_create(
                cell=cell, upload=upload, kind=upload_form.validated_data["kind"],
                notes=upload_form.validated_data["notes"], actor=request.user,
                channel=upload_form.validated_data["channel"],
            )
        except OSError as exc:  # storage full or unwritable: nothing was recorded, the client may retry later
            log.error("could not store an upload for cell %s: %s", cell.pk, exc)
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            return response.Response(
                {"file": ["The server has no space left to store the file; try again later." if full
                          else "The server cannot store files at the moment; try again later."]},
                status=status.HTTP_507_INSUFFICIENT_STORAGE if full else status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "300"},
            )
        body = self.get_serializer(datafile).data
        return response.Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    def perform_destroy(self, instance):
        services.datafile_delete(datafile=instance, actor=self.request.user)

    @extend_schema(request=None, responses={202: serializers.DataFileSerializer})
    @decorators.action(detail=True, methods=["post"])
    def reprocess(self, request, pk=None):
        """Run the ingest again with the cell's current build sheet; old results stay until the new ones land."""
        datafile = services.datafile_reprocess(datafile=self.get_object(), actor=request.user, reason="requested")
        return response.Response(self.get_serializer(datafile).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @decorators.action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The original bytes as uploaded (served through this permission check, never from a public path)."""
        datafile = self.get_object()
        return FileResponse(datafile.file.open("rb"), as_attachment=True, filename=datafile.original_name)


def _too_large(limit: int):
    return response.Response(
        {"file": [f"The file is larger than the upload limit of {limit // (1024 * 1024)} MB."]},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def _resolve_cell(user, ref: str):
    cells = cells_visible_to(user)
    ref = ref.strip()
    if ref.isdigit():
        found = cells.filter(pk=int(ref)).first()
        if found:
            return found
    return cells.filter(name=ref).first()


_CYCLES_PARAM = OpenApiParameter("cycles", str, description="Comma-separated cycle numbers or 'last', e.g. 1,2,10,100,last")


class _CellDataView(generics.GenericAPIView):
    """Base of the per-cell data endpoints: the cell must be visible to the user."""

    queryset = CycleSummary.objects.none()  # model permissions: cycling.view_cyclesummary

    def get_cell(self):
        return get_object_or_404(cells_visible_to(self.request.user), pk=self.kwargs["pk"])

    def cell_stamp(self) -> str:
        """The visible cell's cache stamp (cycling/cache.py) from one narrow query; 404 when hidden."""
        row = (Cell.objects.restrict(self.request.user).filter(pk=self.kwargs["pk"])
               .values_list(*cache.STAMP_FIELDS).first())
        if row is None:
            raise Http404("No cell matches the given query.")
        return cache.stamp(*row)

    def params_part(self) -> str:
        return self.request.query_params.urlencode()

    def cycle_tokens(self, default=selectors.DEFAULT_PROFILE_CYCLES):
        return selectors.cycle_tokens(self.request.query_params.get("cycles"), default)


class CellCyclesView(_CellDataView):
    """Per-cycle summary of a cell's active files; filter by cycle range, C-rate label or segment."""

    serializer_class = serializers.CycleSummarySerializer
    pagination_class = None
    filter_backends = []
    # The serializer's fields in its order (the model's columns, then the file): rows are read as tuples and
    # zipped with these names, not built as model instances and serialized one by one.
    fields = [*CYCLE_FIELDS, "datafile"]

    @extend_schema(parameters=[
        OpenApiParameter("cycle_min", int), OpenApiParameter("cycle_max", int),
        OpenApiParameter("c_rate", str, description="C-rate label, e.g. C/3 or 0.1C"),
        OpenApiParameter("segment", str, description="formation, long-term or rate-test"),
    ], responses=serializers.CycleSummarySerializer(many=True))
    def get(self, request, pk):
        self.cycle_bounds = tuple(query_number(request.query_params, name, kind=int, min_value=1)
                                  for name in ("cycle_min", "cycle_max"))  # checked before the cache is asked
        return cache.json_response("cycles", (self.cell_stamp(), self.params_part()), self.rows)

    def rows(self) -> list[dict]:
        names = self.fields
        return [dict(zip(names, row, strict=True)) for row in self.cycles().values_list(*CYCLE_FIELDS, "datafile_id")]

    def cycles(self):
        qs = selectors.cycles_of([self.kwargs["pk"]])
        params = self.request.query_params
        cycle_min, cycle_max = self.cycle_bounds
        if cycle_min is not None:
            qs = qs.filter(cycle__gte=cycle_min)
        if cycle_max is not None:
            qs = qs.filter(cycle__lte=cycle_max)
        if params.get("c_rate"):
            qs = qs.filter(c_rate_label=params["c_rate"])
        if params.get("segment"):
            qs = qs.filter(segment=params["segment"])
        return qs


class CellCurvesView(_CellDataView):
    """Voltage vs capacity of chosen cycles, downsampled (MinMax-LTTB) to at most `points` per half-cycle."""

    serializer_class = serializers.CurvesSerializer

    @extend_schema(parameters=[_CYCLES_PARAM, OpenApiParameter("points", int, description="Max points per half-cycle (50-5000)")])
    def get(self, request, pk):
        points = query_number(request.query_params, "points", kind=int, default=400, min_value=50, max_value=5000)
        tokens = self.cycle_tokens()
        return cache.json_response("curves", (self.cell_stamp(), ",".join(tokens), points),
                                   lambda: selectors.cell_curves(self.get_cell(), tokens, points))
