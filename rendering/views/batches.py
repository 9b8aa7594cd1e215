"""Batch pages: create (and preview), list, live detail, cancel, retry, JSON snapshot."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from lipsync.engines import DEFAULT_ENGINE
from studio import queues
from studio.ids import parse_id, parse_ids, parse_int
from studio.models import AudioTrack, MediaStatus, Presenter, Project, Role, Tag
from studio.services import notifications
from studio.views.common import actor, can, get_scoped, team_view, wants_json

from ..client_strings import BATCH as BATCH_STRINGS
from ..models import Batch, DurationMode, NoFacePolicy, Quality, RenderTask
from ..payloads import snapshot
from ..services import batches as service
from ..services import estimates
from ..services.engines import EngineChoice, engine_choices

SIZE_CAPS = [(None, gettext_lazy("Original size")), (1080, "1080p"), (720, "720p"), (480, "480p")]


@team_view()
def batch_list(request):
    team = request.membership.team
    qs = (
        Batch.objects.for_user(request.user)
        .filter(team=team)
        .select_related("project", "created_by")
    )
    status = request.GET.get("status", "")
    if status:
        qs = qs.filter(status=status)
    project = request.GET.get("project", "")
    if project:
        # A filter that is not an id matches nothing (as an id of no row would).
        qs = qs.filter(project_id=parse_id(project) or 0)
    if request.GET.get("previews") != "1":
        qs = qs.filter(is_preview=False)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    for batch in page.object_list:
        batch.counts_cache = batch.counts()
        batch.percent_cache = round(batch.progress_percent())
    return render(
        request,
        "batches/batch_list.html",
        {
            "page": page,
            "batches": page.object_list,
            "status": status,
            "project": project if parse_id(project) else "",
            "can_create": can(request, Role.MEMBER),
        },
    )


def _engine_choices() -> list[EngineChoice]:
    """Every engine with whether this install can run it (unusable ones are shown disabled) and
    its licence note; read from the model folder without importing the engines (no torch)."""
    return engine_choices()


def _project_choice(request, projects):
    """The project the form names (``project`` posted or in the query), else the first one.

    Returns (project or None, error message or None): a value that is not the id of one of
    ``projects`` is an error, whatever it looks like (issue 9, item 10: ``project=abc``).
    """
    raw = request.POST.get("project") or request.GET.get("project")
    if not raw:
        return projects.first(), None
    project_id = parse_id(raw)
    project = projects.filter(pk=project_id).first() if project_id else None
    if project is None:
        return None, _(
            "This project does not exist or is not yours to use. Choose a project from the list."
        )
    return project, None


def _form_context(request, project) -> dict[str, Any]:
    team = request.membership.team
    audios = _audio_for(request, project) if project else AudioTrack.objects.none()
    presenters = (
        Presenter.objects.for_user(request.user)
        .filter(team=team, archived=False)
        .exclude(status=MediaStatus.FAILED)
        .prefetch_related("tags")
    )
    return {
        "projects": _form_projects(request),
        "project": project,
        "audios": audios,
        "presenters": presenters,
        "tags": Tag.objects.for_user(request.user).filter(team=team),
        "engines": _engine_choices(),
        "default_engine": DEFAULT_ENGINE,
        "qualities": Quality.choices,
        "duration_modes": DurationMode.choices,
        "no_face_policies": NoFacePolicy.choices,
        "size_caps": SIZE_CAPS,
        "selected_audios": set(),
        "selected_presenters": set(),
        "form": _form_values(request.POST if request.method == "POST" else request.GET),
    }


def _form_projects(request):
    return Project.objects.for_user(request.user, min_role=Role.MEMBER).filter(
        team=request.membership.team, archived=False
    )


def _refused(request, context: dict[str, Any], error: str):
    """The form again with ``error`` (400), or ``{"error"}`` for the page's scripts."""
    if wants_json(request):
        return JsonResponse({"error": error}, status=400)
    messages.error(request, error)
    return render(request, "batches/batch_create.html", context, status=400)


@team_view(Role.MEMBER)
def batch_create(request):
    project, error = _project_choice(request, _form_projects(request))
    context = _form_context(request, project)
    if error is not None:
        return _refused(request, context, error)
    if request.method != "POST":
        chosen, _bad = presenter_ids(request.GET)
        context["selected_presenters"] = set(chosen)
        context["selected_audios"] = set(parse_ids(request.GET.getlist("audio"))[0])
        if chosen:
            offered = context["presenters"].filter(pk__in=chosen).values_list("pk", flat=True)
            context["not_offered"] = len(set(chosen) - set(offered))
        return render(request, "batches/batch_create.html", context)

    if project is None:
        return _refused(request, context, _("Choose a project first."))
    spec, error = _spec_from_post(request, project, context["audios"], context["presenters"])
    batch, error = _submit(request, spec, error)
    if error is not None:
        context.update(
            {
                "selected_audios": {a.pk for a in spec.audios} if spec else set(),
                "selected_presenters": {p.pk for p in spec.presenters} if spec else set(),
            }
        )
        return _refused(request, context, error)
    if wants_json(request):
        return _created_json(batch)
    return redirect(batch)


def presenter_ids(params) -> tuple[list[int], bool]:
    """The presenters a form or link chose: ``presenter`` (one per checkbox) and
    ``presenters`` (comma separated: links from the library and the preview page, which may
    carry hundreds), in the order given; and whether any value was not an id
    (:func:`studio.ids.parse_ids`)."""
    listed = [v for v in params.get("presenters", "").split(",") if v]
    return parse_ids([*params.getlist("presenter"), *listed])


def _form_values(params) -> dict[str, Any]:
    """The options of the form (engine, quality, size, name, burnt-in subtitles, duration
    mode, no-face policy, match source) as given, else the defaults."""
    return {
        "engine": params.get("engine") or DEFAULT_ENGINE,
        "quality": params.get("quality") or Quality.STANDARD,
        "max_height": params.get("max_height", ""),
        "name": params.get("name", ""),
        "burn_subtitles": params.get("burn_subtitles") == "1",
        "duration_mode": params.get("duration_mode") or DurationMode.BOUNCE,
        "no_face": params.get("no_face") or NoFacePolicy.PASS,
        "match_source": params.get("match_source") == "1",
    }


def _in_order(rows, ids: list[int]) -> list:
    by_id = {row.pk: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _audio_for(request, project: Project):
    """The tracks a batch of ``project`` may use: its own and the team's audio library's
    (tracks without a project), the project's first."""
    return (
        AudioTrack.objects.for_user(request.user)
        .filter(team=project.team_id)
        .filter(Q(project=project) | Q(project__isnull=True))
        .order_by(F("project_id").asc(nulls_last=True), "-created_at")
    )


def _spec_from_post(request, project, audios, presenters, preview: bool = False):
    """The BatchSpec of a create/preview form; (spec, error message or None).

    A preview renders the presenter named by ``preview_presenter`` (the one the person picked
    for it), else the first chosen one, with the first chosen audio track."""
    audio_ids, bad_audio = parse_ids(request.POST.getlist("audio"))
    chosen_ids, bad_presenter = presenter_ids(request.POST)
    wanted = request.POST.get("preview_presenter", "")
    if preview and wanted:
        picked = parse_id(wanted)
        bad_presenter = bad_presenter or picked is None
        chosen_ids = [picked] if picked is not None else []
    chosen_audios = _in_order(audios.filter(pk__in=audio_ids), audio_ids)
    chosen_presenters = _in_order(presenters.filter(pk__in=chosen_ids), chosen_ids)
    max_height = request.POST.get("max_height") or None
    if max_height is not None:
        max_height = parse_int(max_height, minimum=16, maximum=4320)
        if max_height is None:
            return None, _("Choose a valid output size.")
    spec = service.BatchSpec(
        project=project,
        audios=chosen_audios,
        presenters=chosen_presenters,
        engine=request.POST.get("engine") or DEFAULT_ENGINE,
        max_height=max_height,
        quality=request.POST.get("quality") or Quality.STANDARD,
        name=request.POST.get("name", ""),
        preview=preview,
        burn_subtitles=request.POST.get("burn_subtitles") == "1",
        duration_mode=request.POST.get("duration_mode") or DurationMode.BOUNCE,
        no_face=request.POST.get("no_face") or NoFacePolicy.PASS,
        match_source=request.POST.get("match_source") == "1",
    )
    if (
        bad_audio
        or bad_presenter
        or len(chosen_audios) != len(audio_ids)
        or len(chosen_presenters) != len(chosen_ids)
    ):
        return spec, _("Some of the chosen files are not available any more; reload the page.")
    if preview:
        spec.audios, spec.presenters = spec.audios[:1], spec.presenters[:1]
    return spec, None


def queue_away_text() -> str:
    return _(
        "The render queue is not reachable right now. Your renders are saved and start by "
        "themselves when it is back: there is no need to submit them again."
    )


def _submit(request, spec, error: str | None):
    """Create the batch of a form that passed its checks; (batch, None) or (None, reason).

    With Redis away the batch is still created (its tasks wait in their team's backlog and the
    scheduler hands them over once Redis is back) and the person is told so: on the batch page
    (``queue_away``), or in the JSON answer."""
    if error is not None:
        return None, error
    try:
        return service.create_batch(actor(request), spec), None
    except service.BatchRefused as exc:
        return None, str(exc)


def _created_json(batch, **extra: Any) -> JsonResponse:
    body: dict[str, Any] = {"id": batch.pk, "url": batch.get_absolute_url(), **extra}
    if not queues.reachable():
        body.update(queue_unavailable=True, message=queue_away_text())
    return JsonResponse(body, status=201)


@team_view(Role.MEMBER)
@require_POST
def batch_preview(request):
    """A 3-second render of one presenter with one audio track."""
    team = request.membership.team
    projects = Project.objects.for_user(request.user, min_role=Role.MEMBER).filter(team=team)
    project, error = _project_choice(request, projects)
    if project is None:
        error = error or _("Choose a project first.")
        return _refused(request, _form_context(request, None), error)
    audios = _audio_for(request, project)
    presenters = Presenter.objects.for_user(request.user).filter(team=team)
    spec, error = _spec_from_post(request, project, audios, presenters, preview=True)
    batch, error = _submit(request, spec, error)
    if error is not None:
        if wants_json(request):
            return JsonResponse({"error": error}, status=400)
        messages.error(request, error)
        return redirect(f"{_url('batch_create')}?project={project.pk}")
    url = f"{batch.get_absolute_url()}?{form_query(request.POST)}"
    if wants_json(request):
        return _created_json(batch, url=url, status_url=_url("batch_status", batch.pk))
    return redirect(url)


#: Fields of the batch form that are not settings of the batch itself.
NOT_SETTINGS = {"csrfmiddlewaretoken", "preview", "preview_presenter", "presenter", "presenters"}


def settings_fields(params) -> list[tuple[str, str]]:
    """The batch form's choices as (name, value) pairs: every field as given (so options
    other forms add travel too), the presenters as one comma-separated ``presenters``."""
    pairs = [(k, v) for k, values in params.lists() if k not in NOT_SETTINGS for v in values]
    pairs.append(("presenters", ",".join(map(str, presenter_ids(params)[0]))))
    return pairs


def form_query(params) -> str:
    """The batch form's choices as a query string: the preview page's address carries them
    and offers "Render all" with them."""
    return urlencode(settings_fields(params))


def render_all_offer(request, batch) -> dict[str, Any] | None:
    """After a preview: "Render all N" with the settings the preview page was given (see
    :func:`form_query`); None when they name nothing to render."""
    params = request.GET
    audio_ids = parse_ids(params.getlist("audio"))[0]
    chosen = presenter_ids(params)[0]
    if not batch.is_preview or not audio_ids or not chosen:
        return None
    audios = _audio_for(request, batch.project).filter(pk__in=audio_ids)
    presenters = Presenter.objects.for_user(request.user).filter(team=batch.team, pk__in=chosen)
    count = audios.count() * presenters.count()
    if not count:
        return None
    fields = settings_fields(params)
    return {
        "count": count,
        "fields": fields,
        "change_url": f"{_url('batch_create')}?{urlencode(fields)}",
    }


def _url(name: str, *args) -> str:
    from django.urls import reverse

    return reverse(name, args=args)


@team_view()
def batch_detail(request, pk):
    batch = get_scoped(request, Batch, pk)
    # Seeing the batch is reading what the notification about it said.
    notifications.mark_read(request.user, url=batch.get_absolute_url())
    tasks = list(batch.tasks.select_related("output"))
    role = batch.team.role_of(request.user)
    can_edit = role in (Role.OWNER, Role.ADMIN, Role.MEMBER)
    has_active = any(t.is_active for t in tasks)
    render_all = render_all_offer(request, batch) if can_edit else None
    return render(
        request,
        "batches/batch_detail.html",
        {
            "batch": batch,
            "tasks": tasks,
            "snapshot": snapshot(batch, tasks),
            "client_strings": BATCH_STRINGS,
            "can_edit": can_edit,
            "ws_path": f"/ws/batches/{batch.pk}/",
            "has_outputs": any(t.output_id for t in tasks),
            "has_failed": any(t.retryable for t in tasks),
            "has_active": has_active,
            "queue_away": queue_away_text() if has_active and not queues.reachable() else "",
            "render_all": render_all,
        },
    )


@team_view()
def batch_edit(request, pk):
    """Rename a batch."""
    batch = get_scoped(request, Batch, pk, min_role=Role.MEMBER)
    error = None
    if request.method == "POST":
        try:
            service.rename_batch(actor(request), batch, request.POST.get("name", ""))
        except service.BatchRefused as exc:
            error = str(exc)
        else:
            messages.success(request, _("Batch renamed."))
            return redirect(batch)
    return render(
        request,
        "batches/batch_edit.html",
        {"batch": batch, "name": request.POST.get("name", batch.name), "error": error},
        status=400 if error else 200,
    )


@team_view()
def batch_delete(request, pk):
    """Ask (what goes, what stays, whether its videos go too), then delete the batch."""
    batch = get_scoped(request, Batch, pk, min_role=Role.MEMBER)
    project = batch.project
    if request.method == "POST":
        try:
            outcome = service.delete_batch(
                actor(request), batch, delete_videos=request.POST.get("delete_videos") == "1"
            )
        except service.BatchRefused as exc:
            messages.error(request, str(exc))
            return redirect(batch)
        if outcome.videos_deleted:
            text = ngettext(
                "Batch %(name)s and its finished video deleted.",
                "Batch %(name)s and its %(n)d finished videos deleted.",
                outcome.videos_deleted,
            )
        elif outcome.videos_kept:
            text = ngettext(
                "Batch %(name)s deleted; its finished video stays in the media library.",
                "Batch %(name)s deleted; its %(n)d finished videos stay in the media library.",
                outcome.videos_kept,
            )
        else:
            text = _("Batch %(name)s deleted.")
        n = outcome.videos_deleted or outcome.videos_kept
        messages.success(request, text % {"name": batch.display_name, "n": n})
        return redirect(project)
    counts = batch.counts()
    return render(
        request,
        "batches/batch_delete.html",
        {
            "batch": batch,
            "renders": counts["total"],
            "active": counts["queued"] + counts["running"],
            "videos": batch.assets.count(),
        },
    )


@team_view()
def batch_status(request, pk):
    """The same snapshot the websocket sends on connect (fallback for clients without it)."""
    batch = get_scoped(request, Batch, pk)
    return JsonResponse(snapshot(batch))


@team_view()
def batch_estimate(request):
    """How long the batch the form describes would take: ``?engine=&audio=<id>&presenters=<n>``
    (the new-batch page asks this instead of computing the rule itself)."""
    team = request.membership.team
    ids, _bad = parse_ids(request.GET.getlist("audio"))
    audios = AudioTrack.objects.for_user(request.user).filter(team=team, pk__in=ids)
    seconds = {a.pk: a.duration_s or 0.0 for a in audios}
    presenters = parse_int(request.GET.get("presenters", "0"))
    estimate = estimates.batch_estimate(
        team,
        request.GET.get("engine") or DEFAULT_ENGINE,
        [seconds[i] for i in ids if i in seconds],
        presenters or 0,
    )
    return JsonResponse(estimate.to_json())


@team_view()
@require_POST
def batch_cancel(request, pk):
    batch = get_scoped(request, Batch, pk, min_role=Role.MEMBER)
    n = service.cancel_batch(actor(request), batch)
    return _done(request, batch, _("%(n)d render(s) cancelled.") % {"n": n}, {"cancelled": n})


@team_view()
@require_POST
def task_cancel(request, pk):
    task = get_scoped(request, RenderTask, pk, min_role=Role.MEMBER)
    if not service.cancel_task(actor(request), task):
        return _done(
            request, task.batch, _("This render has already ended."), {"cancelled": 0}, status=409
        )
    return _done(request, task.batch, _("Render cancelled."), {"cancelled": 1})


@team_view()
@require_POST
def batch_retry(request, pk):
    batch = get_scoped(request, Batch, pk, min_role=Role.MEMBER)
    try:
        n = service.retry_failed(actor(request), batch)
    except service.BatchRefused as exc:
        return _done(request, batch, str(exc), {"error": str(exc)}, status=400, level="error")
    return _done(request, batch, _("%(n)d render(s) queued again.") % {"n": n}, {"retried": n})


@team_view()
@require_POST
def task_retry(request, pk):
    task = get_scoped(request, RenderTask, pk, min_role=Role.MEMBER)
    try:
        ok = service.retry_task(actor(request), task)
    except service.BatchRefused as exc:
        return _done(request, task.batch, str(exc), {"error": str(exc)}, status=400, level="error")
    if not ok:
        return _done(
            request,
            task.batch,
            _("Only failed or cancelled renders can be retried."),
            {"retried": 0},
            status=409,
        )
    return _done(request, task.batch, _("Render queued again."), {"retried": 1})


def _done(request, batch, message, payload, status=200, level="info"):
    if wants_json(request):
        return JsonResponse(payload, status=status)
    getattr(messages, level)(request, message)
    return redirect(batch)
