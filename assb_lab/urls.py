"""Top-level routes: web pages, admin, the REST API under /api/v1/, its schema and docs."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import views
from .api_root import LabAPIRootView

api_v1 = [
    path("", LabAPIRootView.as_view(), name="api-root"),
    path("", include("cycling.api.urls")),
    path("", include("cells.api.urls")),
    path("", include("lab.api.urls")),
    path("", include("impedance.api.urls")),
    path("", include("monitoring.api.urls")),
    path("", include("solidstate.api.urls")),
    path("", include("effects.api.urls")),
]

urlpatterns = [
    path("", include("lab.urls")),
    path("", include("cells.urls")),
    path("", include("cycling.urls")),
    path("", include("impedance.urls")),
    path("", include("monitoring.urls")),
    path("", include("solidstate.urls")),
    path("", include("effects.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Visible to whom: settings.ASSB_API_DOCS_PUBLIC (behind login in production by default).
    path("api/docs/", views.docs_page(SpectacularSwaggerView.as_view(url_name="schema")), name="api-docs"),
    path("api/redoc/", views.docs_page(SpectacularRedocView.as_view(url_name="schema")), name="api-redoc"),
]

admin.site.site_header = "assb-lab administration"
admin.site.site_title = "assb-lab"
