"""Library lists that scale: filters, sort and pages, all kept in the query string.

A list page (presenters, a project's audio, the team's audio library, the media library) reads
its filters with a ``*Query`` dataclass (``from_params(request.GET)``), applies them to the rows
the user may see, and hands the result to :func:`paginate`, which sorts (name, date, length,
both directions, the primary key breaking ties so pages never overlap) and cuts one page. The
resulting :class:`Listing` builds every link of the page (other pages, sort) with the same
filters, so a search or a tag stays applied from page to page. Bulk actions read the same query
from the POSTed form to act on "all N matching" (:mod:`studio.services.library`).

Page sizes are fixed per list (:data:`PRESENTER_PAGE_SIZE` and friends): big enough that most
teams see their whole library at once, small enough that a page of cards with lazy thumbnails
renders in a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import F, Q, QuerySet
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .ids import parse_id
from .models import MediaStatus

#: Cards per page of the presenter library (divides into rows of 2, 3, 4 and 6).
PRESENTER_PAGE_SIZE = 48
#: Rows per page of audio tracks (a project's, the team's audio library).
AUDIO_PAGE_SIZE = 50
#: Videos per page of the media library (each card holds a player).
MEDIA_PAGE_SIZE = 24


@dataclass(frozen=True)
class Sort:
    """One way to order a list: ``value`` in the query string (``name``, ``-name`` ...)."""

    value: str
    label: str | Promise
    field: str

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")

    def order_by(self) -> list[Any]:
        expr = F(self.field)
        ordered = expr.desc(nulls_last=True) if self.descending else expr.asc(nulls_last=True)
        return [ordered, "-pk" if self.descending else "pk"]


def sorts(
    name: str = "name", date: str = "created_at", length: str | None = "duration_s"
) -> list[Sort]:
    """The sorts of a library list: newest first (the default), oldest, name A-Z and Z-A,
    and by length when the rows have one (rows without a length come last either way)."""
    options = [
        Sort("-date", _("Newest first"), date),
        Sort("date", _("Oldest first"), date),
        Sort("name", _("Name A–Z"), name),
        Sort("-name", _("Name Z–A"), name),
    ]
    if length:
        options += [
            Sort("length", _("Shortest first"), length),
            Sort("-length", _("Longest first"), length),
        ]
    return options


@dataclass
class Listing:
    """One page of a filtered, sorted list and the links that keep its filters."""

    page: Page
    #: The list's filters and sort as they appear in the query string (no page number).
    params: dict[str, str]
    sort: str
    sorts: list[Sort]
    #: Whether any filter (not the sort) narrows the list: an empty page then says "no match"
    #: rather than "nothing here yet".
    filtered: bool = False

    @property
    def total(self) -> int:
        return int(self.page.paginator.count)

    def url(self, **changes: object) -> str:
        """``?...`` with this list's filters and sort, changed by ``changes`` (None drops)."""
        params = dict(self.params)
        for key, value in changes.items():
            if value is None or value == "":
                params.pop(key, None)
            else:
                params[key] = str(value)
        return "?" + urlencode(params) if params else "?"

    def page_url(self, number: int) -> str:
        return self.url(page=number if number > 1 else None)

    @property
    def first_url(self) -> str:
        return self.page_url(1)

    @property
    def last_url(self) -> str:
        return self.page_url(self.page.paginator.num_pages)

    @property
    def previous_url(self) -> str:
        return self.page_url(self.page.previous_page_number()) if self.page.has_previous() else ""

    @property
    def next_url(self) -> str:
        return self.page_url(self.page.next_page_number()) if self.page.has_next() else ""

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The filters and sort as (name, value) pairs, for forms that must keep them."""
        return sorted(self.params.items())


def paginate(
    qs: QuerySet[Any],
    params: Mapping[str, Any],
    *,
    sort_options: list[Sort],
    page_size: int,
    filters: Mapping[str, str],
    default_sort: str = "-date",
) -> Listing:
    """Sort ``qs`` as ``params["sort"]`` says (else ``default_sort``) and cut the page
    ``params["page"]`` (out of range: the nearest page) of ``page_size`` rows.

    ``filters`` are the query-string values the caller applied (empty ones are left out of
    the links)."""
    by_value = {s.value: s for s in sort_options}
    sort = str(params.get("sort") or default_sort)
    if sort not in by_value:
        sort = default_sort
    ordered = qs.order_by(*by_value[sort].order_by())
    page = Paginator(ordered, page_size).get_page(params.get("page"))
    kept = {k: v for k, v in filters.items() if v}
    if sort != default_sort:
        kept["sort"] = sort
    return Listing(
        page=page,
        params=kept,
        sort=sort,
        sorts=sort_options,
        filtered=bool({k: v for k, v in filters.items() if v}),
    )


def _text(params: Mapping[str, Any], key: str, limit: int = 200) -> str:
    value = params.get(key, "")
    return str(value).strip()[:limit] if value is not None else ""


@dataclass(frozen=True)
class PresenterQuery:
    """The presenter library's filters: search text, tag, status, archived or not."""

    q: str = ""
    tag: str = ""
    status: str = ""
    archived: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PresenterQuery:
        status = _text(params, "status")
        return cls(
            q=_text(params, "q"),
            tag=_text(params, "tag", 40).lower(),
            status=status if status in MediaStatus.values else "",
            archived=params.get("archived") == "1",
        )

    def apply(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        if self.q:
            qs = qs.filter(Q(name__icontains=self.q) | Q(original_filename__icontains=self.q))
        if self.tag:
            # A presenter holds a tag name once (tags are unique per team), so the join
            # repeats no row and needs no DISTINCT.
            qs = qs.filter(tags__name=self.tag)
        if self.status:
            qs = qs.filter(status=self.status)
        return qs.filter(archived=self.archived)

    def as_params(self) -> dict[str, str]:
        return {
            "q": self.q,
            "tag": self.tag,
            "status": self.status,
            "archived": "1" if self.archived else "",
        }


#: ``?project=`` value that means "no project": the audio library's own tracks.
NO_PROJECT = "none"


@dataclass(frozen=True)
class AudioQuery:
    """Audio tracks: search text, status and (on the team's audio library) the project, a
    project's id or :data:`NO_PROJECT`."""

    q: str = ""
    status: str = ""
    project: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AudioQuery:
        status = _text(params, "status")
        project = _text(params, "project", 20)
        return cls(
            q=_text(params, "q"),
            status=status if status in MediaStatus.values else "",
            project=project,
        )

    def apply(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        if self.q:
            qs = qs.filter(Q(name__icontains=self.q) | Q(original_filename__icontains=self.q))
        if self.status:
            qs = qs.filter(status=self.status)
        if self.project == NO_PROJECT:
            qs = qs.filter(project__isnull=True)
        elif self.project:
            # A value that is not an id matches nothing (as an id of no row would).
            qs = qs.filter(project_id=parse_id(self.project) or 0)
        return qs

    def as_params(self) -> dict[str, str]:
        return {"q": self.q, "status": self.status, "project": self.project}
