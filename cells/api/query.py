"""A list endpoint refuses query parameters it does not understand (400 naming them and the accepted ones), so a
mistyped filter (`?name=LNTO-04` where the filter is `q=`) never answers with every row."""
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import SuffixedMultiWidget
from rest_framework import exceptions
from rest_framework.filters import BaseFilterBackend, OrderingFilter, SearchFilter
from rest_framework.settings import api_settings


class UnknownQueryParameters(exceptions.ParseError):
    default_code = "unknown_query_parameters"


def _filterset_names(backend, view, queryset) -> set[str]:
    filterset_class = backend.get_filterset_class(view, queryset)
    if filterset_class is None:
        return set()
    names = set()
    for name, flt in filterset_class.base_filters.items():
        widget = flt.extra.get("widget") or getattr(flt.field_class, "widget", None)
        widget = widget if isinstance(widget, type) or widget is None else type(widget)
        if widget is not None and issubclass(widget, SuffixedMultiWidget):
            names.update(f"{name}_{suffix}" for suffix in widget.suffixes)
        else:
            names.add(name)
    return names


def accepted_query_params(request, queryset, view) -> set[str]:
    """Every query parameter the list `view` reads: its filters, search, ordering, pagination, format, and the
    names it declares in `extra_query_params`."""
    accepted = {api_settings.URL_FORMAT_OVERRIDE, *getattr(view, "extra_query_params", ())}
    for backend_class in view.filter_backends:
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            accepted |= _filterset_names(backend, view, queryset)
        elif isinstance(backend, SearchFilter) and getattr(view, "search_fields", None):
            accepted.add(backend.search_param)
        elif isinstance(backend, OrderingFilter):
            accepted.add(backend.ordering_param)
    paginator = getattr(view, "paginator", None)
    for attr in ("limit_query_param", "offset_query_param", "page_query_param", "page_size_query_param",
                 "cursor_query_param"):
        name = getattr(paginator, attr, None)
        if name:
            accepted.add(name)
    accepted.discard(None)
    return accepted


def _is_list(request, view) -> bool:
    action = getattr(view, "action", None)
    if action is not None:
        return action == "list"
    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
    return request.method in ("GET", "HEAD") and lookup not in getattr(view, "kwargs", {})


def refuse_unknown_query_params(request, accepted) -> None:
    """Raise the 400 naming the parameters of `request` outside `accepted` (for a list view without filter
    backends, e.g. a plain APIView; the backend below does it for the others)."""
    accepted = {api_settings.URL_FORMAT_OVERRIDE, *accepted}
    accepted.discard(None)
    unknown = sorted(set(request.query_params) - accepted)
    if unknown:
        names = ", ".join(unknown)
        raise UnknownQueryParameters({
            "detail": f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {names}. "
                      f"This list accepts: {', '.join(sorted(accepted))}.",
            "unknown": unknown, "accepted": sorted(accepted),
        })


class StrictQueryParamsFilter(BaseFilterBackend):
    """First of the filter backends: a list request naming a parameter no backend reads is refused."""

    def filter_queryset(self, request, queryset, view):
        if not _is_list(request, view):
            return queryset
        refuse_unknown_query_params(request, accepted_query_params(request, queryset, view))
        return queryset
