"""API of the solid-state results: the electrolyte batches and one batch's results (token or session)."""
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import response, views

from cells.api.query import refuse_unknown_query_params
from cells.models import ElectrolyteBatch

from .. import selectors, services


class BatchListView(views.APIView):
    """The electrolyte batches (lab-wide registry objects)."""

    queryset = ElectrolyteBatch.objects.none()  # model permissions: cells.view_electrolytebatch

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        refuse_unknown_query_params(request, ())  # a list: an unknown filter is a 400, never ignored
        rows = selectors.batches_visible_to(request.user).values("id", "name", "material__name", "supplier", "made_on")
        return response.Response([{**r, "material": r.pop("material__name")} for r in rows])


class BatchResultsView(views.APIView):
    """One batch's conductivity points, Arrhenius fit (sigma_T form) and CCD results, as the CLI prints them."""

    queryset = ElectrolyteBatch.objects.none()

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        batch = get_object_or_404(selectors.batches_visible_to(request.user), pk=pk)
        services.batch_results_refresh(batch=batch, user=request.user)
        return response.Response(selectors.batch_results(selectors.batch_overview(batch, request.user)))
