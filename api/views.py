"""The API's endpoints (``/api/v1/``). Thin: fetch through :class:`api.framework.ApiView`
(token's team only), call the same services the pages call with an ``Actor`` whose
``via="api"``, answer with :mod:`api.serializers`."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from lipsync.engines import DEFAULT_ENGINE
from lipsync.errors import InputError
from rendering.models import Batch, MediaAsset, needs_review_q
from rendering.services import batches as batch_service
from rendering.services import media as media_service
from rendering.zipstream import safe_name
from studio.ids import parse_id, parse_int
from studio.models import AudioTrack, MediaStatus, Presenter, Project, Role, Upload
from studio.notices import from_input_error
from studio.services import library, projects
from studio.services import uploads as upload_service
from studio.views.files import serve_file, streaming_body

from . import manifest as manifest_service
from . import serializers as s
from . import webhooks
from .exceptions import ApiError
from .framework import ApiView, paginate
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import idempotent
from .models import Scope, Webhook

IDEMPOTENCY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a create safely: the same key and body within 24 h return the first "
    "result; the same key with another body answers 422.",
)
ERRORS = {
    400: s.ErrorSerializer,
    401: s.ErrorSerializer,
    403: s.ErrorSerializer,
    404: s.ErrorSerializer,
    409: s.ErrorSerializer,
    413: s.ErrorSerializer,
    422: s.ErrorSerializer,
    429: s.ErrorSerializer,
    507: s.ErrorSerializer,
}


def _errors(*codes: int) -> dict[int, Any]:
    return {c: ERRORS[c] for c in codes}


def _page(name: str = "page") -> OpenApiParameter:
    return OpenApiParameter(name, int, description="Page number (1 ...).")


def _bad_file(exc: InputError, filename: str) -> ApiError:
    return ApiError(422, "bad_file", from_input_error(exc, filename).text(), field="file")


# --- who am I -----------------------------------------------------------------------------------


class MeView(ApiView):
    @extend_schema(summary="The token, its user, team, role and scopes", responses=s.MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.MeSerializer().to_representation(self.token))


# --- projects -----------------------------------------------------------------------------------


class ProjectListView(ApiView):
    @extend_schema(
        summary="The team's projects",
        parameters=[_page(), OpenApiParameter("archived", bool)],
        responses=s.ProjectSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        archived = request.query_params.get("archived") in ("1", "true")
        qs = self.visible(Project).filter(archived=archived).order_by("-created_at", "-id")
        return paginate(self, qs, lambda p: s.ProjectSerializer(p).data)

    @extend_schema(
        summary="Create a project",
        request=s.ProjectInSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: s.ProjectSerializer, **_errors(400, 403, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.ProjectInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = projects.create_project(
            self.actor(), self.team, data.validated_data["name"], data.validated_data["description"]
        )
        return Response(s.ProjectSerializer(project).data, status=201)


class ProjectDetailView(ApiView):
    @extend_schema(summary="One project", responses={200: s.ProjectSerializer, **_errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.ProjectSerializer(self.scoped(Project, pk)).data)


# --- presenters ---------------------------------------------------------------------------------


class PresenterListView(ApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="The team's presenters",
        parameters=[
            _page(),
            OpenApiParameter("tag", str, description="Only presenters with this tag."),
            OpenApiParameter("status", str, enum=MediaStatus.values),
            OpenApiParameter("archived", bool),
            OpenApiParameter("q", str, description="Name or file name contains."),
        ],
        responses=s.PresenterSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = self.visible(Presenter).prefetch_related("tags")
        params = request.query_params
        tag = params.get("tag", "").strip().lower()
        if tag:
            qs = qs.filter(tags__name=tag)
        if params.get("status") in MediaStatus.values:
            qs = qs.filter(status=params["status"])
        qs = qs.filter(archived=params.get("archived") in ("1", "true"))
        if params.get("q"):
            qs = qs.filter(name__icontains=params["q"].strip())
        qs = qs.distinct().order_by("-created_at", "-id")
        return paginate(self, qs, lambda p: s.PresenterSerializer(p).data)

    @extend_schema(
        summary="Upload a presenter (multipart; large files: the chunked /uploads/ protocol)",
        request={"multipart/form-data": s.PresenterUploadSerializer},
        parameters=[IDEMPOTENCY],
        responses={201: s.PresenterSerializer, **_errors(400, 403, 413, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.PresenterUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        actor, team = self.actor(), self.team
        created, refused = library.take_form_files(
            actor,
            team,
            [upload],
            lambda path, name: library.create_presenter(actor, team, path, name),
        )
        if refused:
            raise ApiError(422, "bad_file", refused[0].text(), field="file")
        presenter = created[0]
        if data.validated_data.get("tags"):
            library.update_presenter(actor, presenter, presenter.name, data.validated_data["tags"])
        return Response(s.PresenterSerializer(presenter).data, status=201)


class PresenterDetailView(ApiView):
    @extend_schema(summary="One presenter", responses={200: s.PresenterSerializer, **_errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.PresenterSerializer(self.scoped(Presenter, pk)).data)

    @extend_schema(
        summary="Rename a presenter or replace its tags",
        request=s.PresenterPatchSerializer,
        responses={200: s.PresenterSerializer, **_errors(400, 403, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        presenter = self.scoped(Presenter, pk)
        data = s.PresenterPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data.get("name", presenter.name).strip() or presenter.name
        tags = data.validated_data.get("tags")
        tags_text = (
            ",".join(tags) if tags is not None else ",".join(t.name for t in presenter.tags.all())
        )
        library.update_presenter(self.actor(), presenter, name, tags_text)
        return Response(s.PresenterSerializer(self.scoped(Presenter, pk)).data)


class PresenterRecheckView(ApiView):
    @extend_schema(
        summary="Run the face check again",
        request=None,
        responses={202: s.PresenterSerializer, **_errors(403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        presenter = self.scoped(Presenter, pk)
        library.recheck_presenter(presenter)
        return Response(s.PresenterSerializer(self.scoped(Presenter, pk)).data, status=202)


class PresenterFaceView(ApiView):
    @extend_schema(
        summary="Choose the face to animate (the presenter is prepared again)",
        request=s.FacePickSerializer,
        responses={202: s.PresenterSerializer, **_errors(400, 403, 404, 422)},
    )
    def post(self, request: Request, pk: int) -> Response:
        presenter = self.scoped(Presenter, pk)
        data = s.FacePickSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            library.pick_face(self.actor(), presenter, data.validated_data["face"])
        except library.FacePickRefused as exc:
            raise ApiError(422, "face_refused", exc.notice.text(), field="face") from exc
        return Response(s.PresenterSerializer(self.scoped(Presenter, pk)).data, status=202)


class PresenterArchiveView(ApiView):
    @extend_schema(
        summary="Archive (or restore) a presenter",
        request=s.ArchiveSerializer,
        responses={200: s.PresenterSerializer, **_errors(400, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        presenter = self.scoped(Presenter, pk)
        data = s.ArchiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        library.set_archived(self.actor(), presenter, data.validated_data["archived"])
        return Response(s.PresenterSerializer(self.scoped(Presenter, pk)).data)


# --- audio --------------------------------------------------------------------------------------


class AudioListView(ApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="The team's audio tracks",
        parameters=[_page(), OpenApiParameter("project", int)],
        responses=s.AudioSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = self.visible(AudioTrack)
        project = request.query_params.get("project", "")
        if project:
            qs = qs.filter(project_id=parse_id(project) or 0)
        return paginate(
            self, qs.order_by("-created_at", "-id"), lambda a: s.AudioSerializer(a).data
        )

    @extend_schema(
        summary="Upload an audio track into a project (multipart)",
        request={"multipart/form-data": s.AudioUploadSerializer},
        parameters=[IDEMPOTENCY],
        responses={201: s.AudioSerializer, **_errors(400, 403, 404, 413, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.AudioUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = self._project(data.validated_data["project"])
        actor = self.actor()
        created, refused = library.take_form_files(
            actor,
            self.team,
            [data.validated_data["file"]],
            lambda path, name: library.create_audio(
                actor, project.team, path, name, project=project
            ),
        )
        if refused:
            raise ApiError(422, "bad_file", refused[0].text(), field="file")
        return Response(s.AudioSerializer(created[0]).data, status=201)

    def _project(self, pk: int) -> Project:
        project = self.visible(Project).filter(pk=pk).first()
        if project is None:
            raise ApiError(400, "does_not_exist", _("No such project."), field="project")
        return project


class AudioDetailView(ApiView):
    @extend_schema(summary="One audio track", responses={200: s.AudioSerializer, **_errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.AudioSerializer(self.scoped(AudioTrack, pk)).data)


# --- resumable uploads --------------------------------------------------------------------------


class UploadCreateView(ApiView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Start a resumable upload (then PUT chunks, then POST complete)",
        request=s.UploadCreateSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: s.UploadSerializer, **_errors(400, 403, 404, 413, 507)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.UploadCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        project = None
        if v["kind"] == Upload.Kind.AUDIO:
            if not v.get("project"):
                raise ApiError(400, "required", _("Audio uploads need a project."), field="project")
            project = self.visible(Project).filter(pk=v["project"]).first()
            if project is None:
                raise ApiError(400, "does_not_exist", _("No such project."), field="project")
        try:
            upload = upload_service.create_upload(
                self.token.user, self.team, v["kind"], v["filename"], v["size"], project
            )
        except upload_service.UploadError as exc:
            raise ApiError(exc.status, exc.code or "upload_refused", str(exc)) from exc
        except InputError as exc:
            raise ApiError(
                413, "file_too_large", from_input_error(exc, v["filename"]).text(), field="size"
            ) from exc
        return Response(s.UploadSerializer(upload).data, status=201)


class _OwnUpload(ApiView):
    def upload(self, pk: Any) -> Upload:
        """An upload of the token's user in its team (others' uploads are not found)."""
        qs = Upload.objects.filter(user=self.token.user)
        return self.scoped(Upload, pk, queryset=qs)


class UploadDetailView(_OwnUpload):
    parser_classes: list[Any] = []

    @extend_schema(
        summary="An upload's state and offset", responses={200: s.UploadSerializer, **_errors(404)}
    )
    def get(self, request: Request, pk: Any) -> Response:
        return Response(s.UploadSerializer(self.upload(pk)).data)

    @extend_schema(
        summary="Send the next chunk (raw bytes at Upload-Offset)",
        request={"application/octet-stream": OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter(
                "Upload-Offset",
                int,
                OpenApiParameter.HEADER,
                required=True,
                description="The server's offset (GET the upload after a network error).",
            )
        ],
        responses={200: s.UploadSerializer, **_errors(400, 403, 404, 409, 413, 507)},
    )
    def put(self, request: Request, pk: Any) -> Response:
        upload = self.upload(pk)
        offset = parse_int(request.headers.get("Upload-Offset", ""))
        if offset is None:
            raise ApiError(
                400, "offset_required", _("Send the Upload-Offset header."), field="Upload-Offset"
            )
        length = parse_int(request.headers.get("Content-Length", ""))
        try:
            upload = upload_service.write_chunk(upload.pk, offset, request._request, length)
        except upload_service.UploadError as exc:
            code = exc.code or ("offset_mismatch" if exc.status == 409 else "upload_refused")
            raise ApiError(
                exc.status, code, str(exc), headers={"Upload-Offset": str(exc.offset or 0)}
            ) from exc
        return Response(s.UploadSerializer(upload).data)

    @extend_schema(summary="Abandon an upload", responses={204: None, **_errors(403, 404)})
    def delete(self, request: Request, pk: Any) -> Response:
        upload_service.abort(self.upload(pk))
        return Response(status=204)


class UploadCompleteView(_OwnUpload):
    @extend_schema(
        summary="Finish an upload: the file is checked and becomes a presenter or audio track",
        request=None,
        responses={201: s.UploadSerializer, **_errors(403, 404, 409, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        upload = self.upload(pk)
        try:
            upload_service.finish(self.actor(), upload)
        except upload_service.UploadError as exc:
            raise ApiError(exc.status, "upload_incomplete", str(exc)) from exc
        except InputError as exc:
            raise _bad_file(exc, upload.filename) from exc
        upload.refresh_from_db()
        return Response(s.UploadSerializer(upload).data, status=201)


# --- batches ------------------------------------------------------------------------------------


class _BatchCreate(ApiView):
    def spec(
        self,
        v: dict[str, Any],
        pairs: list[tuple[AudioTrack, Presenter]] | None,
        audios: list[AudioTrack],
        presenters: list[Presenter],
        project: Project,
    ) -> batch_service.BatchSpec:
        return batch_service.BatchSpec(
            project=project,
            audios=audios,
            presenters=presenters,
            engine=v.get("engine") or DEFAULT_ENGINE,
            max_height=v.get("max_height"),
            quality=v.get("quality") or batch_service.Quality.STANDARD,
            name=v.get("name", ""),
            pairs=pairs,
            output_template=v.get("output_template", ""),
            burn_subtitles=bool(v.get("burn_subtitles")),
            duration_mode=v.get("duration_mode") or batch_service.DurationMode.BOUNCE,
            no_face=v.get("no_face") or batch_service.NoFacePolicy.PASS,
            match_source=bool(v.get("match_source")),
        )

    def project(self, pk: int) -> Project:
        project = self.visible(Project).filter(pk=pk).first()
        if project is None:
            raise ApiError(400, "does_not_exist", _("No such project."), field="project")
        return project

    def _resolve(
        self, rows: list[tuple[int, str, str]], audios: Any, presenters: Any, field: str
    ) -> list[tuple[AudioTrack, Presenter]]:
        try:
            return manifest_service.resolve(rows, audios, presenters)
        except manifest_service.ManifestError as exc:
            raise ApiError(400, "invalid_manifest", str(exc), field=field) from exc

    def submit(self, spec: batch_service.BatchSpec) -> Response:
        try:
            batch = batch_service.create_batch(self.actor(), spec)
        except batch_service.BatchRefused as exc:
            raise ApiError(422, "batch_refused", str(exc)) from exc
        return Response(s.BatchSerializer(batch, context={"with_tasks": True}).data, status=201)


def _unique(items: list[Any]) -> list[Any]:
    return list({o.pk: o for o in items}.values())


class BatchListView(_BatchCreate):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="The team's batches",
        parameters=[_page(), OpenApiParameter("status", str), OpenApiParameter("project", int)],
        responses=s.BatchSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = self.visible(Batch)
        status = request.query_params.get("status", "")
        if status:
            qs = qs.filter(status=status)
        project = request.query_params.get("project", "")
        if project:
            qs = qs.filter(project_id=parse_id(project) or 0)
        return paginate(
            self, qs.order_by("-created_at", "-id"), lambda b: s.BatchSerializer(b).data
        )

    @extend_schema(
        summary="Render: audio × presenters (or a presenter tag), or explicit pairs",
        request=s.BatchCreateSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: s.BatchSerializer, **_errors(400, 403, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.BatchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        project = self.project(v["project"])
        # The project's audio and the team's audio library (tracks without a project).
        audios_qs = self.visible(AudioTrack).filter(Q(project=project) | Q(project__isnull=True))
        presenters_qs = self.visible(Presenter)
        if v.get("pairs"):
            if v.get("audio") or v.get("presenters") or v.get("presenter_tag"):
                raise ApiError(
                    400, "invalid", _("Send either pairs, or audio with presenters."), field="pairs"
                )
            rows = [(n, str(p["audio"]), str(p["presenter"])) for n, p in enumerate(v["pairs"], 1)]
            pairs = self._resolve(rows, audios_qs, presenters_qs, "pairs")
            return self.submit(
                self.spec(
                    v,
                    pairs,
                    _unique([a for a, _p in pairs]),
                    _unique([p for _a, p in pairs]),
                    project,
                )
            )
        audio_ids = v.get("audio") or []
        if not audio_ids:
            raise ApiError(400, "required", _("Choose at least one audio track."), field="audio")
        audios = list(audios_qs.filter(pk__in=audio_ids))
        if len(audios) != len(set(audio_ids)):
            raise ApiError(
                400,
                "does_not_exist",
                _("Some audio tracks are not in this project."),
                field="audio",
            )
        presenters: list[Presenter] = []
        if v.get("presenters"):
            ids = v["presenters"]
            place = {pk: i for i, pk in enumerate(ids)}
            presenters = sorted(presenters_qs.filter(pk__in=ids), key=lambda p: place[p.pk])
            if len(presenters) != len(set(ids)):
                raise ApiError(
                    400, "does_not_exist", _("Some presenters do not exist."), field="presenters"
                )
        if v.get("presenter_tag"):
            tag = " ".join(v["presenter_tag"].split()).lower()
            tagged = list(
                presenters_qs.filter(tags__name=tag, archived=False)
                .exclude(status=MediaStatus.FAILED)
                .order_by("name", "pk")
                .distinct()
            )
            if not tagged:
                raise ApiError(
                    422,
                    "batch_refused",
                    _("No usable presenter is tagged “%(tag)s”.") % {"tag": tag},
                    field="presenter_tag",
                )
            presenters = _unique(presenters + tagged)
        if not presenters:
            raise ApiError(
                400, "required", _("Choose presenters or a presenter tag."), field="presenters"
            )
        order = {pk: i for i, pk in enumerate(audio_ids)}
        audios.sort(key=lambda a: order[a.pk])
        return self.submit(self.spec(v, None, audios, presenters, project))


class BatchManifestView(_BatchCreate):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Render the pairs of a CSV or JSON manifest (multipart)",
        request={"multipart/form-data": s.ManifestSerializer},
        parameters=[IDEMPOTENCY],
        responses={201: s.BatchSerializer, **_errors(400, 403, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.ManifestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        project = self.project(v["project"])
        upload = v["manifest"]
        if upload.size > manifest_service.MAX_BYTES:
            raise ApiError(
                413, "manifest_too_large", _("The manifest is larger than 1 MiB."), field="manifest"
            )
        try:
            rows = manifest_service.read_rows(upload.read(), upload.name or "")
        except manifest_service.ManifestError as exc:
            raise ApiError(400, "invalid_manifest", str(exc), field="manifest") from exc
        pairs = self._resolve(
            rows,
            self.visible(AudioTrack).filter(Q(project=project) | Q(project__isnull=True)),
            self.visible(Presenter),
            "manifest",
        )
        return self.submit(
            self.spec(
                v, pairs, _unique([a for a, _p in pairs]), _unique([p for _a, p in pairs]), project
            )
        )


class BatchDetailView(ApiView):
    @extend_schema(
        summary="A batch with every render's status and progress",
        responses={200: s.BatchSerializer, **_errors(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        batch = self.scoped(Batch, pk)
        return Response(s.BatchSerializer(batch, context={"with_tasks": True}).data)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class BatchCancelView(ApiView):
    @extend_schema(
        summary="Cancel every queued or running render of a batch",
        request=None,
        responses={200: CountSerializer, **_errors(403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        batch = self.scoped(Batch, pk)
        return Response({"count": batch_service.cancel_batch(self.actor(), batch)})


class BatchRetryView(ApiView):
    @extend_schema(
        summary="Run the failed or cancelled renders of a batch again",
        request=None,
        responses={200: CountSerializer, **_errors(403, 404, 422)},
    )
    def post(self, request: Request, pk: int) -> Response:
        batch = self.scoped(Batch, pk)
        try:
            n = batch_service.retry_failed(self.actor(), batch)
        except batch_service.BatchRefused as exc:
            raise ApiError(422, "batch_refused", str(exc)) from exc
        return Response({"count": n})


class _FileView(ApiView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)


class BatchZipView(_FileView):
    @extend_schema(
        summary="Every finished video of a batch in one zip (names from its template)",
        responses={(200, "application/zip"): OpenApiTypes.BINARY, **_errors(404)},
    )
    def get(self, request: Request, pk: int) -> Any:
        batch = self.scoped(Batch, pk)
        assets = media_service.batch_outputs(batch, self.visible(MediaAsset))
        name = f"{safe_name(batch.name, 'batch')}.zip"
        stream = media_service.zip_of(self.actor(), assets, name, batch.team, batch)
        if stream is None:
            raise ApiError(404, "no_results", _("There are no finished videos to download."))
        response = StreamingHttpResponse(
            streaming_body(request._request, iter(stream)), content_type="application/zip"
        )
        response["Content-Length"] = str(stream.size())
        response["Content-Disposition"] = content_disposition_header(True, name)
        response["Cache-Control"] = "private, no-store"
        return response


# --- results ------------------------------------------------------------------------------------


class ResultListView(ApiView):
    @extend_schema(
        summary="Finished videos (with their quality score where one was measured)",
        parameters=[
            _page(),
            OpenApiParameter("batch", int),
            OpenApiParameter("project", int),
            OpenApiParameter("presenter", int),
            OpenApiParameter(
                "needs_review",
                bool,
                description="Only videos to check: quality score under the threshold, or not "
                "measured.",
            ),
        ],
        responses=s.ResultSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = self.visible(MediaAsset)
        for key in ("batch", "project", "presenter"):
            value = request.query_params.get(key, "")
            if value:
                qs = qs.filter(**{f"{key}_id": parse_id(value) or 0})
        if request.query_params.get("needs_review") in ("1", "true"):
            qs = qs.filter(needs_review_q())
        return paginate(
            self, qs.order_by("-created_at", "-id"), lambda a: s.ResultSerializer(a).data
        )


class ResultDetailView(ApiView):
    @extend_schema(
        summary="One finished video", responses={200: s.ResultSerializer, **_errors(404)}
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.ResultSerializer(self.scoped(MediaAsset, pk)).data)


class ResultDownloadView(_FileView):
    @extend_schema(
        summary="Download one video (HTTP Range supported)",
        responses={(200, "video/mp4"): OpenApiTypes.BINARY, **_errors(404)},
    )
    def get(self, request: Request, pk: int) -> Any:
        asset = self.scoped(MediaAsset, pk)
        if "Range" not in request.headers:
            media_service.downloaded(self.actor(), asset)
        return serve_file(
            request._request,
            asset.file.name,
            asset.file_name,
            as_attachment=True,
            content_type="video/mp4",
        )


# --- webhooks (admin scope) ---------------------------------------------------------------------


class _WebhookView(ApiView):
    write_scope = Scope.ADMIN
    write_role = Role.ADMIN

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.token.has_scope(Scope.ADMIN):
            raise ApiError(
                403,
                "scope_required",
                _("This token lacks the “%(scope)s” scope.") % {"scope": Scope.ADMIN},
            )
        self.require_role(Role.ADMIN)


class WebhookListView(_WebhookView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="The team's webhooks",
        parameters=[_page()],
        responses=s.WebhookSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self, self.visible(Webhook).order_by("id"), lambda w: s.WebhookSerializer(w).data
        )

    @extend_schema(
        summary="Add a webhook (the answer shows its signing secret, once)",
        request=s.WebhookInSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: s.WebhookCreatedSerializer, **_errors(400, 403, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.WebhookInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            hook = webhooks.create_webhook(
                self.actor(), self.team, data.validated_data["url"], data.validated_data["events"]
            )
        except webhooks.WebhookRefused as exc:
            raise ApiError(422, "webhook_url_refused", str(exc), field="url") from exc
        return Response(s.WebhookCreatedSerializer(hook).data, status=201)


class WebhookDeliveriesView(_WebhookView):
    @extend_schema(
        summary="A webhook's delivery log",
        parameters=[_page()],
        responses={200: s.DeliverySerializer(many=True), **_errors(403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        hook = self.scoped(Webhook, pk)
        return paginate(
            self,
            hook.deliveries.order_by("-created_at", "-id"),
            lambda d: s.DeliverySerializer(d).data,
        )
