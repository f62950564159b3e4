"""REST endpoints of the registry (thin: querysets come from selectors, writes from serializers/services)."""
from rest_framework import decorators, response, status, viewsets

from .. import services
from ..filtersets import CellFilterSet, CellGroupFilterSet, MaterialFilterSet
from ..models import Coating, Material, Project
from ..permissions import CatalogueModelPermissions
from ..selectors import cells_visible_to, groups_visible_to
from . import serializers


class AuditedModelViewSet(viewsets.ModelViewSet):
    """Writes go through the registry's services: audited with old -> new values, like the admin's."""

    def perform_create(self, serializer):
        services.object_save(actor=self.request.user, save=serializer.save)

    def perform_update(self, serializer):
        services.object_save(actor=self.request.user, save=serializer.save, instance=serializer.instance)

    def perform_destroy(self, instance):
        services.object_delete(obj=instance, actor=self.request.user)


class ProjectViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.ProjectSerializer
    search_fields = ["name"]

    def get_queryset(self):
        return Project.objects.restrict(self.request.user)


class CatalogueViewSet(AuditedModelViewSet):
    """The lab-wide catalogue: read by all, changed by lab admins and catalogue curators through the service
    that audits old -> new values and recomputes the cells using a changed number."""

    permission_classes = [CatalogueModelPermissions]

    def perform_update(self, serializer):
        serializer.instance = services.catalogue_update(obj=serializer.instance, data=serializer.validated_data,
                                                        actor=self.request.user)


class MaterialViewSet(CatalogueViewSet):
    queryset = Material.objects.all()
    serializer_class = serializers.MaterialSerializer
    filterset_class = MaterialFilterSet
    search_fields = ["name", "formula"]


class CoatingViewSet(CatalogueViewSet):
    queryset = Coating.objects.select_related("material")
    serializer_class = serializers.CoatingSerializer
    filterset_fields = ["material"]


class CellGroupViewSet(AuditedModelViewSet):
    serializer_class = serializers.CellGroupSerializer
    filterset_class = CellGroupFilterSet
    search_fields = ["name"]

    def get_queryset(self):
        return groups_visible_to(self.request.user)


class CellViewSet(AuditedModelViewSet):
    serializer_class = serializers.CellSerializer
    filterset_class = CellFilterSet
    ordering_fields = ["name", "build_date", "group__name", "replicate_number", "created_at"]
    search_fields = ["name", "notes", "group__name"]

    def get_queryset(self):
        return cells_visible_to(self.request.user).prefetch_related("pressing_steps")

    @decorators.action(detail=True, methods=["post"])
    def duplicate(self, request, pk=None):
        """Copy this build as the next replicate of its group (optional body: {"name": ...})."""
        copy = services.cell_duplicate(cell=self.get_object(), name=request.data.get("name"), actor=request.user)
        return response.Response(self.get_serializer(copy).data, status=status.HTTP_201_CREATED)
