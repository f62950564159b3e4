"""Register a cycler PC and print its API token."""
from django.core.management.base import BaseCommand, CommandError

from cells.models import CyclerDevice, Project


class Command(BaseCommand):
    help = "Create (or show) a cycler device and print its upload token."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--project", action="append", default=[], help="Project name it may upload to (repeat).")
        parser.add_argument("--timezone", default="Europe/Berlin", help="Zone of the PC's clock.")

    def handle(self, name, project, timezone, **opts):
        device, created = CyclerDevice.objects.get_or_create(name=name, defaults={"timezone": timezone})
        for project_name in project:
            try:
                device.projects.add(Project.objects.get(name=project_name))
            except Project.DoesNotExist:
                raise CommandError(f"No project named {project_name!r}.") from None
        self.stdout.write(f"{'created' if created else 'existing'} device {device.name}: token {device.key}")
