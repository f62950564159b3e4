"""The API's pagination (limit/offset) with its two numbers checked by assb_lab.params like every other one."""
from rest_framework.pagination import LimitOffsetPagination

from .params import query_number


class CheckedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's LimitOffsetPagination, but `?limit=abc` or `?offset=-1` is a 400 naming the parameter, not a silent
    default page."""

    def get_limit(self, request):
        limit = query_number(request.query_params, self.limit_query_param, kind=int, default=self.default_limit,
                             min_value=1)
        return min(limit, self.max_limit) if self.max_limit and limit else limit

    def get_offset(self, request):
        return query_number(request.query_params, self.offset_query_param, kind=int, default=0, min_value=0)
