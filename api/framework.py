"""What every API view shares: bearer tokens, scopes, the team-scoped fetch, rate limits,
the audit of each call.

* :class:`TokenAuthentication`: ``Authorization: Bearer hgs_...`` (nothing else: the API takes
  no session cookie, so no page can be made to call it with a visitor's rights);
* :class:`ApiView`: reads need the token's ``read`` scope, writes the view's ``write_scope``;
  rows come from ``Model.objects.for_user(token.user).for_team(token.team)`` (another team's
  rows answer 404, as on the pages) and a write the user's role does not allow answers 403;
* :class:`TokenRateThrottle`: ``API_RATE_LIMIT`` requests per token (per address without
  one), 429 with ``Retry-After`` beyond.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Model
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from studio.actor import Actor, client_ip
from studio.models import Role
from studio.models.base import role_at_least

from . import tokens
from .auth import TokenAuthentication, TokenRateThrottle
from .exceptions import ApiError
from .models import ApiToken, Scope

__all__ = ["ApiView", "TokenAuthentication", "TokenRateThrottle", "paginate"]

M = TypeVar("M", bound=Model)
#: Largest id a path or field may carry (64-bit keys); larger ones are simply not found.
MAX_ID = 2**63 - 1


class ApiView(APIView):
    """Base of the API's views (see the module's docstring)."""

    #: No OPTIONS: DRF would describe a route for any id without looking the row up; the
    #: OpenAPI schema describes the API instead.
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]
    #: Scope a non-read method needs.
    write_scope: str = Scope.RENDER
    #: Team role a non-read method needs.
    write_role: str = Role.MEMBER

    # --- who --------------------------------------------------------------------------
    @property
    def token(self) -> ApiToken:
        token = self.request.auth
        if not isinstance(token, ApiToken):
            raise exceptions.NotAuthenticated()
        return token

    @property
    def team(self) -> Any:
        return self.token.team

    def actor(self) -> Actor:
        return tokens.actor_for(self.token, client_ip(self.request))

    def role(self) -> str | None:
        return self.team.role_of(self.token.user)

    # --- checks -----------------------------------------------------------------------
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        needed = Scope.READ if request.method in ("GET", "HEAD", "OPTIONS") else self.write_scope
        if not self.token.has_scope(needed):
            raise ApiError(
                403,
                "scope_required",
                _("This token lacks the “%(scope)s” scope.") % {"scope": needed},
            )
        if needed != Scope.READ:
            self.require_role(self.write_role)

    def require_role(self, min_role: str) -> None:
        if not role_at_least(self.role(), min_role):
            raise ApiError(403, "role_required", _("Your role in this team does not allow this."))

    def scoped(self, model: type[M], pk: Any, queryset: Any = None) -> M:
        """The row ``pk`` of the token's team visible to its user, else 404."""
        if isinstance(pk, int) and not 0 < pk <= MAX_ID:
            raise Http404
        qs: Any = queryset if queryset is not None else model._default_manager.all()
        obj = qs.for_user(self.token.user).for_team(self.team).filter(pk=pk).first()
        if obj is None:
            raise Http404
        return obj

    def visible(self, model: type[M]) -> Any:
        """Every row of ``model`` of the token's team visible to its user."""
        return model._default_manager.for_user(self.token.user).for_team(self.team)  # type: ignore[attr-defined]

    # --- audit ------------------------------------------------------------------------
    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        token = request.auth
        if isinstance(token, ApiToken) and request.method not in ("GET", "HEAD", "OPTIONS"):
            tokens.note_write(
                token, client_ip(request), request.method or "", request.path, response.status_code
            )
        return response


def paginate(view: ApiView, queryset: Any, serialize: Any) -> Response:
    """A page of ``queryset`` (``?page=``, ``API_PAGE_SIZE`` rows) as ``{count, next,
    previous, results}``."""
    from rest_framework.pagination import PageNumberPagination

    class Pages(PageNumberPagination):
        page_size = settings.API_PAGE_SIZE
        page_size_query_param = "page_size"
        max_page_size = 200

    pages = Pages()
    rows = pages.paginate_queryset(queryset, view.request, view=view) or []
    return pages.get_paginated_response([serialize(r) for r in rows])
