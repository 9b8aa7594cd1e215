"""Content-Security-Policy for every response (django-csp), with two per-request additions.

* ``connect-src`` names this very origin's websocket scheme (``ws://host`` or ``wss://host``):
  CSP 3 browsers count same-origin websockets as ``'self'``, older ones do not.
* RQ's dashboard (``/admin/rq/``, staff only, third-party templates with inline scripts and
  styles) gets ``'unsafe-inline'`` for scripts and styles; no page of the studio does.

The policy itself is ``CONTENT_SECURITY_POLICY`` in the settings.
"""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest
from django.http.response import HttpResponseBase

#: Third-party staff pages that cannot run without inline code.
INLINE_ALLOWED_PREFIXES = ("/admin/rq/",)


class StudioCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        update = dict(parts.update or {})
        scheme = "wss" if request.is_secure() else "ws"
        update["connect-src"] = [f"{scheme}://{request.get_host()}"]
        if request.path_info.startswith(INLINE_ALLOWED_PREFIXES):
            update["script-src"] = [UNSAFE_INLINE]
            update["style-src"] = [UNSAFE_INLINE]
        parts.update = update
        return parts
