"""A person's own notifications: the list, marking them read, the unread count (JSON, for
pages whose websocket is down). Only ever the requesting user's rows."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..client_strings import NOTIFICATIONS
from ..models import Membership, Notification
from ..services import notifications
from .common import wants_json


def _own(request: HttpRequest):
    return Notification.objects.filter(user_id=request.user.pk or 0).select_related("team")


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(_own(request), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "studio/notifications.html",
        {
            "page": page,
            "notifications": page.object_list,
            "unread": notifications.unread_count(request.user),
            "several_teams": Membership.objects.filter(user_id=request.user.pk or 0).count() > 1,
            "client_strings": NOTIFICATIONS,
        },
    )


def _back(request: HttpRequest, count: int) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"marked": count, "unread": notifications.unread_count(request.user)})
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    return redirect(target or "notification_list")


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Mark every unread notification read."""
    count = notifications.mark_read(request.user)
    if count and not wants_json(request):
        messages.success(request, _("All notifications are marked as read."))
    return _back(request, count)


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(_own(request), pk=pk)
    return _back(request, notifications.mark_read(request.user, ids=[notification.pk]))


@login_required
def notifications_unread(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"unread": notifications.unread_count(request.user)})
