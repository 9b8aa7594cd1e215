"""Batch pages: create (and preview), list, live detail, cancel, retry, JSON snapshot."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from lipsync.engines import DEFAULT_ENGINE
from studio.models import AudioTrack, MediaStatus, Presenter, Project, Role, Tag
from studio.services import notifications
from studio.views.common import actor, can, get_scoped, team_view, wants_json

from ..client_strings import BATCH as BATCH_STRINGS
from ..models import Batch, Quality, RenderTask
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
    if project.isdigit():
        qs = qs.filter(project_id=int(project))
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
            "project": project if project.isdigit() else "",
            "can_create": can(request, Role.MEMBER),
        },
    )


def _engine_choices() -> list[EngineChoice]:
    """Every engine with whether this install can run it (unusable ones are shown disabled) and
    its licence note; read from the model folder without importing the engines (no torch)."""
    return engine_choices()


@team_view(Role.MEMBER)
def batch_create(request):
    team = request.membership.team
    projects = Project.objects.for_user(request.user, min_role=Role.MEMBER).filter(
        team=team, archived=False
    )
    project_id = request.POST.get("project") or request.GET.get("project")
    project = projects.filter(pk=project_id).first() if project_id else projects.first()
    audios = _audio_for(request, project) if project else AudioTrack.objects.none()
    presenters = (
        Presenter.objects.for_user(request.user)
        .filter(team=team, archived=False)
        .exclude(status=MediaStatus.FAILED)
        .prefetch_related("tags")
    )
    engines = _engine_choices()
    context: dict[str, Any] = {
        "projects": projects,
        "project": project,
        "audios": audios,
        "presenters": presenters,
        "tags": Tag.objects.for_user(request.user).filter(team=team),
        "engines": engines,
        "default_engine": DEFAULT_ENGINE,
        "qualities": Quality.choices,
        "size_caps": SIZE_CAPS,
        "selected_audios": set(),
        "selected_presenters": set(),
        "form": _form_values(request.POST if request.method == "POST" else request.GET),
    }
    if request.method != "POST":
        chosen = presenter_ids(request.GET)
        context["selected_presenters"] = set(chosen)
        context["selected_audios"] = set(_ids(request.GET.getlist("audio")))
        if chosen:
            offered = set(presenters.filter(pk__in=chosen).values_list("pk", flat=True))
            context["not_offered"] = len(set(chosen) - offered)
        return render(request, "batches/batch_create.html", context)

    if project is None:
        messages.error(request, _("Choose a project first."))
        return render(request, "batches/batch_create.html", context, status=400)
    spec, error = _spec_from_post(request, project, audios, presenters)
    batch, error = _submit(request, spec, error)
    if error is not None:
        if wants_json(request):
            return JsonResponse({"error": error}, status=400)
        messages.error(request, error)
        context.update(
            {
                "selected_audios": {a.pk for a in spec.audios} if spec else set(),
                "selected_presenters": {p.pk for p in spec.presenters} if spec else set(),
            }
        )
        return render(request, "batches/batch_create.html", context, status=400)
    if wants_json(request):
        return JsonResponse({"id": batch.pk, "url": batch.get_absolute_url()}, status=201)
    return redirect(batch)


def _ids(values) -> list[int]:
    """Distinct numeric ids in the order given."""
    return list(dict.fromkeys(int(v) for v in values if str(v).strip().isdigit()))


def presenter_ids(params) -> list[int]:
    """The presenters a form or link chose: ``presenter`` (one per checkbox) and
    ``presenters`` (comma separated: links from the library and the preview page, which may
    carry hundreds), in the order given."""
    return _ids([*params.getlist("presenter"), *params.get("presenters", "").split(",")])


def _form_values(params) -> dict[str, Any]:
    """The options of the form (engine, quality, size, name, burnt-in subtitles) as given,
    else the defaults."""
    return {
        "engine": params.get("engine") or DEFAULT_ENGINE,
        "quality": params.get("quality") or Quality.STANDARD,
        "max_height": params.get("max_height", ""),
        "name": params.get("name", ""),
        "burn_subtitles": params.get("burn_subtitles") == "1",
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
    audio_ids = _ids(request.POST.getlist("audio"))
    chosen_ids = presenter_ids(request.POST)
    wanted = request.POST.get("preview_presenter", "")
    if preview and wanted.isdigit():
        chosen_ids = [int(wanted)]
    chosen_audios = _in_order(audios.filter(pk__in=audio_ids), audio_ids)
    chosen_presenters = _in_order(presenters.filter(pk__in=chosen_ids), chosen_ids)
    max_height = request.POST.get("max_height") or None
    if max_height is not None:
        if not max_height.isdigit() or not 16 <= int(max_height) <= 4320:
            return None, _("Choose a valid output size.")
        max_height = int(max_height)
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
    )
    if len(chosen_audios) != len(audio_ids) or len(chosen_presenters) != len(chosen_ids):
        return spec, _("Some of the chosen files are not available any more; reload the page.")
    if preview:
        spec.audios, spec.presenters = spec.audios[:1], spec.presenters[:1]
    return spec, None


def _submit(request, spec, error: str | None):
    """Create the batch of a form that passed its checks; (batch, None) or (None, reason)."""
    if error is not None:
        return None, error
    try:
        return service.create_batch(actor(request), spec), None
    except service.BatchRefused as exc:
        return None, str(exc)


@team_view(Role.MEMBER)
@require_POST
def batch_preview(request):
    """A 3-second render of one presenter with one audio track."""
    team = request.membership.team
    project = get_object_or_404(
        Project.objects.for_user(request.user, min_role=Role.MEMBER).filter(team=team),
        pk=request.POST.get("project"),
    )
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
        return JsonResponse(
            {"id": batch.pk, "url": url, "status_url": _url("batch_status", batch.pk)},
            status=201,
        )
    return redirect(url)


#: Fields of the batch form that are not settings of the batch itself.
NOT_SETTINGS = {"csrfmiddlewaretoken", "preview", "preview_presenter", "presenter", "presenters"}


def settings_fields(params) -> list[tuple[str, str]]:
    """The batch form's choices as (name, value) pairs: every field as given (so options
    other forms add travel too), the presenters as one comma-separated ``presenters``."""
    pairs = [(k, v) for k, values in params.lists() if k not in NOT_SETTINGS for v in values]
    pairs.append(("presenters", ",".join(map(str, presenter_ids(params)))))
    return pairs


def form_query(params) -> str:
    """The batch form's choices as a query string: the preview page's address carries them
    and offers "Render all" with them."""
    return urlencode(settings_fields(params))


def render_all_offer(request, batch) -> dict[str, Any] | None:
    """After a preview: "Render all N" with the settings the preview page was given (see
    :func:`form_query`); None when they name nothing to render."""
    params = request.GET
    audio_ids = _ids(params.getlist("audio"))
    chosen = presenter_ids(params)
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
            "has_active": any(t.is_active for t in tasks),
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
    ids = [int(v) for v in request.GET.getlist("audio") if v.isdigit()]
    audios = AudioTrack.objects.for_user(request.user).filter(team=team, pk__in=ids)
    seconds = {a.pk: a.duration_s or 0.0 for a in audios}
    presenters = request.GET.get("presenters", "0")
    estimate = estimates.batch_estimate(
        team,
        request.GET.get("engine") or DEFAULT_ENGINE,
        [seconds[i] for i in ids if i in seconds],
        int(presenters) if presenters.isdigit() else 0,
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
