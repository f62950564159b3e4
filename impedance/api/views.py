"""REST endpoints of EIS results: spectra (list, plot data, refit) and R_int vs cycle (thin over selectors)."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import decorators, generics, response, status, viewsets

from cells.permissions import LabModelPermissions
from cells.selectors import cells_visible_to
from cycling.compare import parse_ids

from .. import selectors, services
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
