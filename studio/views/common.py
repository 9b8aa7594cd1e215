"""What every view of the platform area shares: the team-scoped fetch and role checks.

Rule: rows come only from ``Model.objects.for_user(request.user)``. A row of a team the user
is not in answers 404. A member whose role is too low for a write gets 403 (they can see the
row, so hiding it would be pointless).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from ..actor import Actor
from ..ids import parse_ids
from ..models import AudioTrack, Membership, Role
from ..models.base import role_at_least
from ..services.library import deletable
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


#: Names a bulk confirmation page lists before "and N more".
BULK_NAMES_SHOWN = 30


def chosen_ids(params: Mapping[str, Any], matching: Callable[[], Any]) -> list[int]:
    """The rows a bulk form chose: ``scope=matching`` takes every row of ``matching()`` (the
    list's filters, so the choice covers every page); otherwise the ``id`` checkboxes and the
    comma-separated ``ids`` (a confirmation page re-posts them in one field)."""
    if params.get("scope") == "matching":
        return sorted(matching().values_list("pk", flat=True))
    raw = list(params.getlist("id")) if hasattr(params, "getlist") else []
    raw += [v for v in str(params.get("ids", "")).split(",") if v]
    ids, bad = parse_ids(raw)
    if bad:
        # A value that is not an id names no row: the whole action is refused, as for a row
        # of another team.
        raise Http404(_("Some of the chosen items are not in this team."))
    return sorted(ids)


def safe_next(request: HttpRequest, default: str) -> str:
    """The ``next`` the form posted when it points into this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def bulk_refused(request: HttpRequest, exc: Any, back: str) -> HttpResponse:
    """A refused bulk action: rows of another team are not found (404) and a role that may not
    write is forbidden (403), as everywhere else; a choice that is only incomplete (nothing
    ticked, no tag typed) goes back to the list with the reason."""
    if exc.status == 404:
        raise Http404  # the 404 and 403 pages say it in the reader's language
    if exc.status == 403:
        raise PermissionDenied
    messages.error(request, str(exc))
    return redirect(back)


def confirm_bulk_delete(request: HttpRequest, rows: list[Any], back: str) -> HttpResponse:
    """The page that asks before a bulk delete: what goes, what stays, what is kept."""
    free, busy = deletable(sorted(rows, key=lambda r: (r.name.lower(), r.pk)))
    return render(
        request,
        "studio/bulk_delete_confirm.html",
        {
            "count": len(free),
            "names": [r.name for r in free[:BULK_NAMES_SHOWN]],
            "more": max(0, len(free) - BULK_NAMES_SHOWN),
            "kept": [r.name for r in busy],
            "ids": ",".join(str(r.pk) for r in free),
            "action_url": request.path,
            "next": back,
            "kind": "audio" if rows and isinstance(rows[0], AudioTrack) else "presenter",
        },
    )
