"""The "Engines and models" page: what this server and each live worker can run, and how to
install the rest (staff only: the model folder is the server's, installing is an operator's
job on the server; see README "Engines and models page")."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from ..services import engines as service


@login_required
def engines_page(request: HttpRequest) -> HttpResponse:
    # Any user may found a team and own it, so a team role is no gate for server-wide facts:
    # staff accounts (those who may open the Django admin) only.
    if not request.user.is_staff:
        return render(request, "engines/staff_only.html", status=403)
    return _page(request)


@require_safe
def _page(request: HttpRequest) -> HttpResponse:
    return render(request, "engines/engines.html", {"overview": service.overview()})
