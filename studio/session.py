"""The team a request works in: chosen in the session, the user's first team otherwise.

This is the one place that reads the request's session for the team; views pass the team (and
an :class:`studio.actor.Actor`) on to services.
"""

from __future__ import annotations

from django.http import HttpRequest

from .models import Membership, Team, TeamScopedQuerySet

SESSION_KEY = "current_team_id"


def user_teams(user: object) -> TeamScopedQuerySet:
    return Team.objects.for_user(user).order_by("name")


#: Where the membership found for a request is kept for the rest of that request.
_CACHE = "_current_membership"


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership of the team chosen in this session (first team if none was chosen)."""
    user = request.user
    if not user.is_authenticated:
        return None
    cached: Membership | bool | None = getattr(request, _CACHE, False)
    if cached is not False:
        return cached if isinstance(cached, Membership) else None
    memberships = Membership.objects.filter(user=user).select_related("team")
    chosen = request.session.get(SESSION_KEY)
    membership = None
    if chosen is not None:
        membership = memberships.filter(team_id=chosen).first()
    if membership is None:
        membership = memberships.order_by("team__name").first()
        if membership is not None:
            request.session[SESSION_KEY] = membership.team_id
    setattr(request, _CACHE, membership)
    return membership


def current_team(request: HttpRequest) -> Team | None:
    membership = current_membership(request)
    return membership.team if membership else None


def switch_team(request: HttpRequest, team_id: int) -> Team:
    """Make ``team_id`` the session's team; 404-like failure (Team.DoesNotExist) if not a member."""
    team = Team.objects.for_user(request.user).get(pk=team_id)
    request.session[SESSION_KEY] = team.pk
    setattr(request, _CACHE, False)
    return team
