"""Making, checking and revoking API tokens (audited).

A token reads ``hgs_<8 characters>_<43 characters>``: the first part (``prefix``) is shown in
lists and the audit log; the database keeps only the SHA-256 of the whole token, so a copy of
the database cannot be used to call the API. A token acts as its user, in its team only, with
no more than the user's role there allows, and only within its scopes.

Audit: every state-changing call is recorded on its own (``api_request``, with the token's
prefix, method, path and status, next to the row the service itself writes); reads are
aggregated: the first use of a token in each ``API_AUDIT_READ_INTERVAL_S`` writes one
``api_token_used`` row and updates ``last_used_at`` (so a client polling every second writes one
row a minute, not sixty).
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from studio.actor import Actor
from studio.audit import record
from studio.models import Role, Team
from studio.models.base import role_at_least

from .models import ApiToken, Scope

TOKEN_PREFIX = "hgs_"
_ALPHABET = string.ascii_lowercase + string.digits

#: Audit actions of the API (plain strings: ``studio.AuditEvent.action`` takes any).
TOKEN_CREATED = "api_token_created"
TOKEN_REVOKED = "api_token_revoked"
TOKEN_USED = "api_token_used"
API_REQUEST = "api_request"


class TokenRefused(Exception):
    """A token cannot be made as asked; the message is for the person."""


def digest_of(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def allowed_scopes(role: str | None) -> list[str]:
    """The scopes a user of ``role`` may give a token: viewers read, members render, admins
    and owners also manage webhooks."""
    if role is None:
        return []
    scopes = [Scope.READ]
    if role_at_least(role, Role.MEMBER):
        scopes.append(Scope.RENDER)
    if role_at_least(role, Role.ADMIN):
        scopes.append(Scope.ADMIN)
    return [str(s) for s in scopes]


def create_token(
    actor: Actor, team: Team, name: str, scopes: Iterable[str], days: int
) -> tuple[ApiToken, str]:
    """A new token of ``actor.user`` in ``team``; returns the row and the token (shown once)."""
    user = actor.user
    if user is None:
        raise TokenRefused(_("Sign in to make a token."))
    chosen = sorted(set(scopes))
    allowed = allowed_scopes(team.role_of(user))
    if not chosen:
        raise TokenRefused(_("Choose at least one scope."))
    refused = [s for s in chosen if s not in allowed]
    if refused:
        raise TokenRefused(
            _("Your role in this team does not allow the scope “%(scope)s”.")
            % {"scope": refused[0]}
        )
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise TokenRefused(
            _("A token lasts between 1 and %(n)d days.") % {"n": settings.API_TOKEN_MAX_DAYS}
        )
    prefix = TOKEN_PREFIX + "".join(secrets.choice(_ALPHABET) for _i in range(8))
    raw = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        team=team,
        user=user,
        name=(name.strip() or _("API token"))[:100],
        prefix=prefix,
        digest=digest_of(raw),
        scopes=chosen,
        expires_at=timezone.now() + timedelta(days=days),
    )
    record(actor, team, TOKEN_CREATED, token, prefix=prefix, scopes=chosen, days=days)
    return token, raw


def revoke_token(actor: Actor, token: ApiToken) -> bool:
    """Revoke ``token`` at once; False if it already was."""
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if changed:
        token.refresh_from_db()
        record(actor, token.team, TOKEN_REVOKED, token, prefix=token.prefix)
    return bool(changed)


class TokenProblem(Exception):
    """Why a presented token does not authenticate: ``code`` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check(raw: str) -> ApiToken:
    """The active token ``raw``, or :class:`TokenProblem` (unknown, revoked, expired, or its
    user is no longer in the team or inactive)."""
    token = (
        ApiToken.objects.select_related("team", "user").filter(digest=digest_of(raw)).first()
        if raw.startswith(TOKEN_PREFIX)
        else None
    )
    if token is None:
        raise TokenProblem("token_invalid", _("The API token is not valid."))
    if token.revoked_at is not None:
        raise TokenProblem("token_revoked", _("The API token was revoked."))
    if token.is_expired:
        raise TokenProblem("token_expired", _("The API token has expired; make a new one."))
    if not token.user.is_active or token.team.role_of(token.user) is None:
        raise TokenProblem(
            "token_invalid", _("The API token's user is no longer a member of its team.")
        )
    return token


def actor_for(token: ApiToken, ip: str | None) -> Actor:
    """Who acts when ``token`` calls a service: its user, via the API."""
    return Actor(user=token.user, ip=ip, via="api", label=token.prefix)


def note_use(token: ApiToken, ip: str | None, method: str, path: str) -> bool:
    """Record a use of ``token``: at most one audit row and ``last_used_at`` update per token
    per ``API_AUDIT_READ_INTERVAL_S``. True if this use wrote them."""
    now = timezone.now()
    since = now - timedelta(seconds=settings.API_AUDIT_READ_INTERVAL_S)
    changed = (
        ApiToken.objects.filter(pk=token.pk)
        .filter(Q(last_used_at=None) | Q(last_used_at__lt=since))
        .update(last_used_at=now, last_used_ip=ip)
    )
    if changed:
        record(
            actor_for(token, ip),
            token.team,
            TOKEN_USED,
            token,
            prefix=token.prefix,
            method=method,
            path=path[:200],
        )
    return bool(changed)


def note_write(token: ApiToken, ip: str | None, method: str, path: str, status: int) -> None:
    """Record one state-changing call of ``token``."""
    record(
        actor_for(token, ip),
        token.team,
        API_REQUEST,
        token,
        prefix=token.prefix,
        method=method,
        path=path[:200],
        status=status,
    )
