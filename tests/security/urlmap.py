"""Every URL of the project, walked from the resolver, and what each one is.

A pattern that is in none of the tables below fails ``test_every_url_is_classified``: adding a
URL means deciding here who may reach it, and the sweep then exercises it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern


@dataclass(frozen=True)
class Pattern:
    route: str  # full route text, e.g. "projects/<int:pk>/edit/"
    name: str | None  # namespaced name ("admin:index") or None
    regex: bool  # some part is a regular expression


@dataclass(frozen=True)
class TeamUrl:
    """A team-scoped page of the studio app.

    ``obj``: the world object whose id fills ``<pk>`` (None: no id in the path).
    ``write``: changes team data, so a viewer must be refused (403/404/405).
    ``methods``: the methods the sweep sends.
    """

    obj: str | None = None
    write: bool = False
    methods: tuple[str, ...] = ("GET", "POST")


WRITE = True

#: Every page of the studio app (login required).
TEAM_URLS: dict[str, TeamUrl] = {
    "dashboard": TeamUrl(),
    "profile": TeamUrl(),  # the user's own name and e-mail
    "password_change": TeamUrl(),  # the user's own password
    "password_change_done": TeamUrl(),
    "team_settings": TeamUrl(),
    "switch_team": TeamUrl(),  # POSTs team=<id>: only teams one is in
    "team_create": TeamUrl(),  # any user may found a team of their own
    "team_invite": TeamUrl(write=WRITE),
    "team_add_member": TeamUrl(write=WRITE),
    "member_role": TeamUrl("membership", WRITE),
    "member_remove": TeamUrl("membership", WRITE),
    "invitation_revoke": TeamUrl("invitation", WRITE),
    "project_list": TeamUrl(),
    "project_create": TeamUrl(write=WRITE),
    "project_detail": TeamUrl("project"),
    "project_edit": TeamUrl("project", WRITE),
    "project_archive": TeamUrl("project", WRITE),
    "audio_upload": TeamUrl("project", WRITE),
    "audio_bulk": TeamUrl("project", WRITE),  # delete or add chosen tracks to a batch
    "presenter_list": TeamUrl(),
    "presenter_upload": TeamUrl(write=WRITE),
    "presenter_bulk": TeamUrl(write=WRITE),  # tag, archive, delete, add to batch (chosen ids)
    "presenter_detail": TeamUrl("presenter"),
    "presenter_edit": TeamUrl("presenter", WRITE),
    "presenter_archive": TeamUrl("presenter", WRITE),
    "presenter_delete": TeamUrl("presenter", WRITE),
    "presenter_recheck": TeamUrl("presenter", WRITE),
    "presenter_file": TeamUrl("presenter"),
    "presenter_thumbnail": TeamUrl("presenter"),
    "presenter_pick_face": TeamUrl("presenter", WRITE),
    "presenter_faces_image": TeamUrl("presenter"),
    "audio_list": TeamUrl(),  # the team's audio library
    "audio_library_upload": TeamUrl(write=WRITE),  # into the library (no project)
    "audio_library_bulk": TeamUrl(write=WRITE),  # delete or add chosen library tracks to a batch
    "audio_detail": TeamUrl("audio"),
    "audio_edit": TeamUrl("audio", WRITE),
    "audio_delete": TeamUrl("audio", WRITE),
    "audio_recheck": TeamUrl("audio", WRITE),
    "audio_file": TeamUrl("audio"),
    "audio_subtitles": TeamUrl("audio", WRITE),
    "audio_subtitles_remove": TeamUrl("audio", WRITE),
    "audio_subtitles_file": TeamUrl("audio"),
    "audio_waveform": TeamUrl("audio"),
    # A person's own notifications (never another user's: 404).
    "notification_list": TeamUrl(),
    "notifications_read": TeamUrl(),  # marks the requesting user's own notifications read
    "notification_read": TeamUrl("notification", WRITE),
    "notifications_unread": TeamUrl(),
    "upload_create": TeamUrl(write=WRITE),
    "upload_detail": TeamUrl("upload", WRITE, ("GET", "POST", "PUT", "PATCH", "DELETE")),
    "upload_complete": TeamUrl("upload", WRITE),
    "batch_list": TeamUrl(),
    "batch_create": TeamUrl(write=WRITE),
    "batch_preview": TeamUrl(write=WRITE),
    "batch_estimate": TeamUrl(),  # the time a batch of the team's audio would take
    "batch_detail": TeamUrl("batch"),
    "batch_status": TeamUrl("batch"),
    "batch_edit": TeamUrl("batch", WRITE),
    "batch_delete": TeamUrl("batch", WRITE),
    "batch_cancel": TeamUrl("batch", WRITE),
    "batch_retry": TeamUrl("batch", WRITE),
    "batch_zip": TeamUrl("batch"),
    "task_cancel": TeamUrl("task", WRITE),
    "task_retry": TeamUrl("task", WRITE),
    "media_library": TeamUrl(),
    "media_zip": TeamUrl(),  # a download of chosen videos (GET or POST)
    "media_bulk": TeamUrl(),  # a zip of chosen videos for anyone; deleting them needs a member
    "media_detail": TeamUrl("asset"),
    "media_file": TeamUrl("asset"),
    "media_download": TeamUrl("asset"),
    "media_thumbnail": TeamUrl("asset"),
    "media_delete": TeamUrl("asset", WRITE),
    # The API's pages (api/web.py): tokens from the profile, webhooks for admins.
    "api_token_create": TeamUrl(),  # one's own token; a viewer may make a read-only one
    "api_token_revoke": TeamUrl("token", WRITE),  # one's own tokens only
    "webhook_list": TeamUrl(write=WRITE),  # admins only, also to read (URLs are secrets)
    "webhook_detail": TeamUrl("webhook", WRITE),
    "webhook_rotate": TeamUrl("webhook", WRITE),
    "webhook_test": TeamUrl("webhook", WRITE),
    "webhook_delete": TeamUrl("webhook", WRITE),
    "delivery_replay": TeamUrl("delivery", WRITE),
}


@dataclass(frozen=True)
class ApiUrl:
    """A route of the public API (``/api/v1/``, bearer tokens only; see test_api_sweep.py).

    ``obj``: the world object whose id fills ``<pk>``; ``write``: the non-GET methods change
    data (scope ``render``/``admin`` and at least the member role); ``methods``: what the
    sweep sends; ``own``: rows of the token's own user only (uploads: another member's upload
    is not found either); ``admin``: reading needs the admin scope and role too.
    """

    obj: str | None = None
    methods: tuple[str, ...] = ("GET",)
    own: bool = False
    admin: bool = False


#: Every route of the public API (namespace ``api``).
API_URLS: dict[str, ApiUrl] = {
    "api:me": ApiUrl(),
    "api:projects": ApiUrl(methods=("GET", "POST")),
    "api:project": ApiUrl("project"),
    "api:presenters": ApiUrl(methods=("GET", "POST")),
    "api:presenter": ApiUrl("presenter", ("GET", "PATCH")),
    "api:presenter_recheck": ApiUrl("presenter", ("POST",)),
    "api:presenter_archive": ApiUrl("presenter", ("POST",)),
    "api:presenter_face": ApiUrl("presenter", ("POST",)),
    "api:audio_list": ApiUrl(methods=("GET", "POST")),
    "api:audio": ApiUrl("audio"),
    "api:uploads": ApiUrl(methods=("POST",)),
    "api:upload": ApiUrl("upload", ("GET", "PUT", "DELETE"), own=True),
    "api:upload_complete": ApiUrl("upload", ("POST",), own=True),
    "api:batches": ApiUrl(methods=("GET", "POST")),
    "api:batch_manifest": ApiUrl(methods=("POST",)),
    "api:batch": ApiUrl("batch"),
    "api:batch_cancel": ApiUrl("batch", ("POST",)),
    "api:batch_retry": ApiUrl("batch", ("POST",)),
    "api:batch_zip": ApiUrl("batch"),
    "api:results": ApiUrl(),
    "api:result": ApiUrl("asset"),
    "api:result_download": ApiUrl("asset"),
    "api:webhooks": ApiUrl(methods=("GET", "POST"), admin=True),
    "api:webhook_deliveries": ApiUrl("webhook", admin=True),
}

#: Reachable without a login, each for a stated reason.
PUBLIC: dict[str, str] = {
    "login": "the login form",
    "logout": "logging out needs no rights",
    "set_language": "language choice: a cookie, and on a logged-in person's own account",
    "invitation_accept": "the link's random token is the permission (joining needs a login)",
    "admin:login": "the admin's login form",
    "admin:logout": "logging out needs no rights",
    "api:schema": "the API's OpenAPI description: routes and shapes, no rows",
    "api:docs": "Swagger UI reading that description (calls need a token)",
}

#: Studio pages of server-wide facts, for staff accounts only (any user may own a team, so a
#: team role is no gate): anonymous visitors go to the login page, every other account gets 403
#: whatever its team role, and no method changes anything.
STAFF_PAGES: dict[str, str] = {
    "engines": "Engines and models: the server's model folder, workers and licences",
}

#: Everything under these prefixes is Django's admin or the RQ dashboard: staff only.
STAFF_PREFIXES = ("admin/",)


def iter_patterns(
    resolver: URLResolver | None = None,
    prefix: str = "",
    namespace: tuple[str, ...] = (),
    regex: bool = False,
) -> Iterator[Pattern]:
    """Every leaf pattern of the project's URLconf, includes followed recursively."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        part = str(entry.pattern)
        is_regex = regex or isinstance(entry.pattern, RegexPattern)
        if isinstance(entry, URLResolver):
            ns = namespace + ((entry.namespace,) if entry.namespace else ())
            yield from iter_patterns(entry, prefix + part, ns, is_regex)
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespace, entry.name)) if entry.name else None
            yield Pattern(prefix + part, name, is_regex)


def is_api(p: Pattern) -> bool:
    """A route of the public API (swept with tokens by test_api_sweep.py, not with sessions)."""
    return p.name in API_URLS


def is_staff_only(p: Pattern) -> bool:
    return p.route.startswith(STAFF_PREFIXES) and p.name not in PUBLIC


_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_GROUP = re.compile(r"\(\?P<\w+>((?:[^()]|\([^()]*\))*)\)\??")


def sample_path(p: Pattern) -> str:
    """A concrete path that this pattern matches (for patterns without team objects)."""
    samples = {"int": "1", "path": "1/x", "str": "x", "slug": "x", "uuid": str(uuid.UUID(int=1))}

    def convert(m: re.Match) -> str:
        return samples.get(m.group(1) or "str", "x")

    def group(m: re.Match) -> str:
        body = m.group(1)
        if "|" in body and re.fullmatch(r"[\w|]+", body):
            return body.split("|")[0]
        return "x"

    text = p.route
    if p.regex:
        text = _GROUP.sub(group, text).replace("^", "").replace("$", "").replace("/?", "/")
    return "/" + _CONVERTER.sub(convert, text)
