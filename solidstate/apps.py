"""App config of solidstate: electrolyte conductivity (pellet EIS, Arrhenius), CCD of symmetric cells."""
from django.apps import AppConfig


class SolidstateConfig(AppConfig):
    name = "solidstate"
    verbose_name = "Solid-state specimens"
    default_auto_field = "django.db.models.BigAutoField"

    # setup_demo calls these (found on the app config, so cells does not import this app)
    def demo_registry(self, *, stdout=None):
        from .demo import load_solid_registry

        specimens = load_solid_registry(stdout=stdout)
        if stdout:
            stdout.write(f"Solid-state demo: {', '.join(c.name for c in specimens)} (batch LGPS-2021-A).")

    def demo_upload(self, *, base_url: str, stdout=None):
        from .demo import upload_solid_demo

        upload_solid_demo(base_url=base_url, stdout=stdout)

    # monitoring's cell_facts calls this (found on the app config): the newest stack-pressure channel of a cell
    def monitoring_pressure(self, cell):
        import pandas as pd

        from .services import pressure_refresh

        traces = pressure_refresh(cell=cell)
        if not traces:
            return None
        newest = max(traces, key=lambda t: t.datafile_id)
        return pd.DataFrame({"time_s": newest.time_s, "pressure_mpa": newest.pressure_mpa})
