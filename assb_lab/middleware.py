"""Security response headers: a strict Content-Security-Policy and a Permissions-Policy on every response."""
import base64
import hashlib
import re

from django.conf import settings

# The API docs pages (drf-spectacular's sidecar Swagger UI and ReDoc) start themselves with an inline
# <script> rendered from settings only (no user data). Rather than 'unsafe-inline', those pages get the
# SHA-256 of exactly their own inline scripts, computed from the response body.
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


def _script_hashes(body: bytes) -> list[str]:
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body)
    ]


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy (settings.ASSB_CSP) and Permissions-Policy unless a view already set them."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.directives = dict(settings.ASSB_CSP)
        self.policy = _policy(self.directives)
        self.hashed_paths = tuple(getattr(settings, "ASSB_CSP_HASH_INLINE_PATHS", ()))

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self._policy_for(request, response)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response

    def _policy_for(self, request, response) -> str:
        if not request.path.startswith(self.hashed_paths) or getattr(response, "streaming", False):
            return self.policy
        if "html" not in response.get("Content-Type", ""):
            return self.policy
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
        hashes = _script_hashes(response.content)
        if not hashes:
            return self.policy
        directives = dict(self.directives)
        directives["script-src"] = " ".join([directives.get("script-src", "'self'"), *hashes])
        directives["worker-src"] = "'self' blob:"  # ReDoc runs its search index in a blob: worker
        return _policy(directives)


class BadQueryParameterMiddleware:
    """A page (not an API view: DRF answers those itself) that met a bad numeric query parameter answers a
    plain-text 400 with assb_lab.params' message instead of a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.http import HttpResponseBadRequest

        from .params import BadQueryParameter

        if isinstance(exception, BadQueryParameter):
            return HttpResponseBadRequest(exception.message, content_type="text/plain; charset=utf-8")
        return None
