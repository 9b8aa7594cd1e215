"""Template context every page needs: the user's teams and the current one."""

from __future__ import annotations

from django.http import HttpRequest

from .services.notifications import unread_count
from .session import current_membership, user_teams


def teams(request: HttpRequest) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"user_teams": [], "current_team": None, "current_role": None}
    membership = current_membership(request)
    return {
        "user_teams": list(user_teams(request.user)),
        "current_team": membership.team if membership else None,
        "current_role": membership.role if membership else None,
        "unread_notifications": unread_count(request.user),
    }
