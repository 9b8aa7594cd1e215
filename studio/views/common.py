"""What every view of the platform area shares: the team-scoped fetch and role checks.

Rule: rows come only from ``Model.objects.for_user(request.user)``. A row of a team the user
is not in answers 404. A member whose role is too low for a write gets 403 (they can see the
row, so hiding it would be pointless).
"""

from __future__ import annotations

from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _

from ..actor import Actor
from ..models import Membership, Role
from ..models.base import role_at_least
from ..session import current_membership

M = TypeVar("M", bound=Model)


def get_scoped(
    request: HttpRequest,
    model: type[M],
    pk: object,
    min_role: str | None = None,
    queryset: Any = None,
) -> M:
    """The row ``pk`` visible to the user (404 otherwise); 403 if their role is below
    ``min_role`` in the row's team."""
    qs: Any = queryset if queryset is not None else model._default_manager.all()
    obj = get_object_or_404(qs.for_user(request.user), pk=pk)
    if min_role is not None:
        role = obj.owning_team.role_of(request.user)
        if not role_at_least(role, min_role):
            raise PermissionDenied(_("Your role in this team does not allow this."))
    return obj


def require_role(membership: Membership | None, min_role: str) -> Membership:
    """``membership`` when its role is at least ``min_role`` (404 without one, else 403)."""
    if membership is None:
        raise Http404(_("You are not a member of any team."))
    if not role_at_least(membership.role, min_role):
        raise PermissionDenied(_("Your role in this team does not allow this."))
    return membership


def team_view(min_role: str = Role.VIEWER):
    """Decorator: logged-in user with a current team and at least ``min_role`` in it.

    The view gets the current membership as ``request.membership``. Users without a team are
    sent to the page that creates one.
    """

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            membership = current_membership(request)
            if membership is None:
                return redirect("team_create")
            require_role(membership, min_role)
            request.membership = membership
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def can(request: HttpRequest, min_role: str) -> bool:
    membership = getattr(request, "membership", None) or current_membership(request)
    return membership is not None and role_at_least(membership.role, min_role)


def wants_json(request: HttpRequest) -> bool:
    """The client asked for JSON (the page's scripts do) rather than a page."""
    return "application/json" in request.headers.get("Accept", "")


def actor(request: HttpRequest) -> Actor:
    """Who is acting, for the service the view calls (see :mod:`studio.actor`)."""
    return Actor.from_request(request)
