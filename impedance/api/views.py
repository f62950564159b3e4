"""REST endpoints of EIS results: spectra (list, plot data, refit) and R_int vs cycle (thin over selectors)."""
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import decorators, generics, response, status, viewsets

from assb_lab.lib import parse_ids
from cells.permissions import LabModelPermissions
from cells.selectors import cells_visible_to

from .. import drt_selectors, selectors, services
from ..filtersets import EisSpectrumFilterSet
from ..models import EisFit, EisSpectrum
from . import serializers


class ChangePermissions(LabModelPermissions):
    """POST needs the model's change permission (a refit changes a spectrum's current result)."""

    perms_map = {**LabModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class EisSpectrumViewSet(viewsets.ReadOnlyModelViewSet):
    """EIS sweeps of the cells you may see, with the current fit's R_int; plot data; refits."""

    queryset = EisSpectrum.objects.none()  # model permissions: impedance.view_eisspectrum
    serializer_class = serializers.SpectrumSerializer
    filterset_class = EisSpectrumFilterSet
    ordering_fields = ["after_cycle", "created_at"]
    search_fields = []

    def get_queryset(self):
        qs = selectors.spectra_visible_to(self.request.user)
        if self.action == "list":
            return selectors.list_rows(qs)
        return qs

    def list(self, request, *args, **kwargs):
        qs = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(qs)
        rows = [selectors.spectrum_summary(s) for s in (page if page is not None else qs)]
        data = serializers.SpectrumSerializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else response.Response(data)

    @extend_schema(responses=serializers.SpectrumDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        detail = selectors.spectrum_detail(self.get_object())
        return response.Response(serializers.SpectrumDetailSerializer(detail).data)

    @extend_schema(
        request=serializers.RefitSerializer,
        responses={201: serializers.SpectrumDetailSerializer,
                   400: OpenApiResponse(description="Bad circuit (names the offending token) or R_int elements.")},
        description="Fit another circuit to this sweep; the new fit becomes the current one. The circuit must "
        "pass the strict grammar (elements R, C, L, CPE, W, Wo, Ws, La, G, Gs, Zarc, TLMQ with a number; '-', "
        "'p(', ',', ')').",
    )
    @decorators.action(detail=True, methods=["post"], permission_classes=[ChangePermissions],
                       serializer_class=serializers.RefitSerializer, filter_backends=[])
    def fit(self, request, pk=None):
        spectrum = self.get_object()
        form = serializers.RefitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            services.spectrum_refit(spectrum=spectrum, circuit=form.validated_data["circuit"],
                                    r_int_elements=form.validated_data.get("r_int_elements"), actor=request.user)
        except services.RefitError as exc:
            return response.Response({exc.field: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        detail = selectors.spectrum_detail(spectrum)
        return response.Response(serializers.SpectrumDetailSerializer(detail).data, status=status.HTTP_201_CREATED)


    def _drt(self, request):
        raw = request.query_params.get("lambda")
        lam = None
        if raw not in (None, ""):
            try:
                lam = float(raw)
            except ValueError:
                lam = -1.0
            if not (lam > 0 and lam < 1e6):
                return None, response.Response({"lambda": [f"must be a positive number, not {raw!r}"]},
                                                status=status.HTTP_400_BAD_REQUEST)
        drt = drt_selectors.spectrum_drt(self.get_object(), lambda_=lam)
        if "error" in drt:
            return None, response.Response({"detail": f"no DRT: {drt['error']}"},
                                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return drt, None

    @extend_schema(
        parameters=[OpenApiParameter("lambda", float, description="regularisation strength; default: GCV")],
        responses={200: serializers.DrtSerializer,
                   422: OpenApiResponse(description="The sweep cannot give a DRT (the reason is given).")},
    )
    @decorators.action(detail=True, methods=["get"], filter_backends=[], pagination_class=None,
                       serializer_class=serializers.DrtSerializer)
    def drt(self, request, pk=None):
        """Distribution of relaxation times of this sweep (see `impedance.drt`), with the method's provenance."""
        drt, error = self._drt(request)
        return error or response.Response(serializers.DrtSerializer(drt).data)

    @extend_schema(
        parameters=[OpenApiParameter("lambda", float, description="regularisation strength; default: GCV")],
        responses={(200, "text/csv"): OpenApiResponse(description="tau_s, gamma_ohm; '#' lines: provenance, peaks")},
    )
    @decorators.action(detail=True, methods=["get"], url_path="drt/csv", filter_backends=[], pagination_class=None,
                       serializer_class=serializers.DrtSerializer)
    def drt_csv(self, request, pk=None):
        """gamma vs tau as CSV; the '#' header lines carry the provenance (method, lambda, basis, version) and
        the peaks."""
        drt, error = self._drt(request)
        if error:
            return error
        prov = drt["provenance"]
        lines = [f"# spectrum {drt['spectrum']}", f"# method: {prov['method']}", f"# basis: {prov['basis']}",
                 f"# lambda: {drt['lambda']:.6g} ({prov['lambda_method']})", f"# tail: {prov['tail']}",
                 f"# drt_version: {prov['version']}", f"# r_inf_ohm: {drt['r_inf_ohm']:.6g}",
                 f"# r_pol_ohm: {drt['r_pol_ohm']:.6g}", f"# residual_rel: {drt['residual_rel']:.6g}"]
        lines += [f"# peak: tau_s={p['tau_s']:.6g} f_hz={p['f_hz']:.6g} resistance_ohm={p['resistance_ohm']:.6g}"
                  for p in drt["peaks"]]
        lines.append("tau_s,gamma_ohm")
        lines += [f"{t:.6g},{g:.6g}" for t, g in zip(drt["tau_s"], drt["gamma_ohm"], strict=True)]
        resp = HttpResponse("\n".join(lines) + "\n", content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="spectrum-{drt["spectrum"]}-drt.csv"'
        return resp


class CellRintView(generics.GenericAPIView):
    """R_int vs cycle of one cell: the current fit of each of its spectra."""

    queryset = EisFit.objects.none()  # model permissions: impedance.view_eisfit
    serializer_class = serializers.CellRintSerializer
    pagination_class = None
    filter_backends = []

    def get(self, request, pk):
        cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
        series = selectors.cell_series(cell, selectors.rint_frame([cell]))
        return response.Response(serializers.CellRintSerializer(series).data)


class RintCompareView(generics.GenericAPIView):
    """R_int vs cycle per cell and per group (mean, sample sd, n over the cells), for the Compare page."""

    queryset = EisFit.objects.none()
    serializer_class = serializers.RintCompareSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(parameters=[
        OpenApiParameter("groups", str, description="Comma-separated cell-group ids, e.g. 1,2"),
        OpenApiParameter("cells", str, description="Comma-separated cell ids, e.g. 5,7"),
    ])
    def get(self, request):
        payload = selectors.rint_compare(request.user, parse_ids(request.query_params.get("groups")),
                                         parse_ids(request.query_params.get("cells")))
        return response.Response(serializers.RintCompareSerializer(payload).data)


class DrtCompareView(generics.GenericAPIView):
    """Groups' DRTs at chosen cycles and their processes' resistance vs cycle over the replicate cells."""

    queryset = EisFit.objects.none()
    serializer_class = serializers.DrtCompareSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(parameters=[
        OpenApiParameter("groups", str, description="Comma-separated cell-group ids, e.g. 1,2"),
        OpenApiParameter("cycles", str, description="Comma-separated cycles whose DRTs to overlay, e.g. 0,500; "
                         "default: the first and the last measured"),
    ])
    def get(self, request):
        payload = drt_selectors.drt_compare(request.user, parse_ids(request.query_params.get("groups")),
                                            parse_ids(request.query_params.get("cycles")))
        return response.Response(serializers.DrtCompareSerializer(payload).data)
