"""factory_boy factories for the registry (the study's nominal build by default)."""
import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cells.models import Cell, CellGroup, Coating, CyclerDevice, Material, PressingStep, Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-123")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get(name=name))
        if create:
            self.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Project {n}")


class MaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Material
        django_get_or_create = ("name",)

    name = "SC-NMC532"
    kind = Material.Kind.CATHODE_ACTIVE
    theoretical_capacity_mah_g = 160.0


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CellGroup
        django_get_or_create = ("project", "name")

    project = factory.SubFactory(ProjectFactory)
    name = "bare"


class CoatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coating

    material = factory.SubFactory(MaterialFactory, name="LNTO", kind=Material.Kind.COATING, theoretical_capacity_mah_g=None)
    thickness_nm = 10.0
    wt_percent = 1.0


class CellFactory(factory.django.DjangoModelFactory):
    """The study's nominal build: 12 mg/cm2 composite at 70 % active, 10 mm die, 160 mAh/g."""

    class Meta:
        model = Cell

    name = factory.Sequence(lambda n: f"CELL-{n:03d}")
    project = factory.SubFactory(ProjectFactory)
    group = factory.SubFactory(GroupFactory, project=factory.SelfAttribute("..project"))
    cathode_material = factory.SubFactory(MaterialFactory)
    electrolyte = factory.SubFactory(MaterialFactory, name="LGPS", kind=Material.Kind.SOLID_ELECTROLYTE,
                                     theoretical_capacity_mah_g=None)
    anode = factory.SubFactory(MaterialFactory, name="In-Li", kind=Material.Kind.ANODE,
                               theoretical_capacity_mah_g=None, potential_vs_li_v=0.62)
    cathode_active_fraction = 0.70
    composite_loading_mg_cm2 = 12.0
    die_diameter_mm = 10.0
    theoretical_capacity_mah_g = 160.0
    voltage_min_v = 2.5
    voltage_max_v = 4.4
    stack_pressure_mpa = 50.0


class PressingStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PressingStep

    cell = factory.SubFactory(CellFactory)
    layer = PressingStep.Layer.CATHODE
    force_t = 3.5
    die_diameter_mm = 10.0


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CyclerDevice

    name = factory.Sequence(lambda n: f"cycler-pc-{n}")
