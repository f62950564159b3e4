"""Web pages (and the batch JSON) of the solid-state results."""
from django.urls import path

from . import views

urlpatterns = [
    path("electrolytes/", views.batch_list, name="electrolyte-batches"),
    path("electrolytes/<int:pk>/", views.batch_page, name="electrolyte-batch"),
    path("electrolytes/<int:pk>/results.json", views.batch_json, name="electrolyte-batch-json"),
    path("stack-pressure/", views.stack_pressure, name="stack-pressure"),
]
