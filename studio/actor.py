"""Who does something, and from where: what services write into the audit log.

Views build an :class:`Actor` from the request (:meth:`Actor.from_request`) and hand it to
the service they call; background jobs and commands use :meth:`Actor.system`. Services never
see an ``HttpRequest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    #: The signed-in user; None for the system (a job, a command) or an anonymous visitor.
    user: User | None
    #: The client's address, for requests.
    ip: str | None = None
    #: Where the action came from: "web", "admin", "api", "system".
    via: str = "web"
    #: Who the system actor is ("cleanup_media", "reconciler"), or the user name a failed
    #: login gave.
    label: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, via: str = "web") -> Actor:
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        return cls(user=cast("User", user) if signed_in else None, ip=client_ip(request), via=via)

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(user=None, via="system", label=label)

    @classmethod
    def of(cls, user: Any) -> Actor:
        """A user acting outside a request (a management command, a test)."""
        signed_in = user is not None and getattr(user, "is_authenticated", False)
        return cls(user=cast("User", user) if signed_in else None)

    @property
    def username(self) -> str:
        return self.user.get_username() if self.user is not None else self.label


def client_ip(request: HttpRequest) -> str | None:
    """The peer address. X-Forwarded-For is ignored: it is trivially forged without a proxy
    (daphne's ``--proxy-headers``, see start_app.sh, sets the peer from it behind one)."""
    return request.META.get("REMOTE_ADDR") or None
