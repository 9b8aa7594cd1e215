"""Shapes of the API's requests and answers (they are also the OpenAPI schema's components).

Output serializers read model rows; texts for people (``error.message``, ``status_label``,
warnings) are in the request's language. Ids are 64-bit integers (uploads: UUIDs).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from rendering.models import (
    Batch,
    DurationMode,
    MediaAsset,
    NoFacePolicy,
    Quality,
    QualityState,
    RenderTask,
)
from rendering.payloads import batch_summary
from studio import ids
from studio.models import AudioTrack, Presenter, Project, Upload
from studio.notices import Notice, notice_list
from studio.services import uploads as upload_service

from .models import ApiToken, DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

MAX_ID = ids.MAX_ID


def Id(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class ErrorInfoSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable code, e.g. scope_required, not_found.")
    message = serializers.CharField(help_text="In the request's language (Accept-Language).")
    field = serializers.CharField(allow_null=True, help_text="The request field at fault.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ErrorSerializer(serializers.Serializer):
    """Every error answer."""

    error = ErrorDetailSerializer()


def notice_json(n: Notice | None) -> dict[str, str] | None:
    return {"code": n.code, "message": n.text()} if n is not None else None


def _notices(items: Any) -> list[dict[str, str]]:
    return [{"code": n.code, "message": n.text()} for n in notice_list(items)]


# --- library ----------------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "description", "archived", "created_at"]
        read_only_fields = ["id", "archived", "created_at"]


class ProjectInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class FaceBoxSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="1 = the leftmost face on the frame.")
    box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, help_text="x0, y0, x1, y1"
    )
    animated = serializers.BooleanField(help_text="The face the renders animate.")


class FacesSerializer(serializers.Serializer):
    people = serializers.IntegerField(help_text="Different people seen in the presenter.")
    frame_time_s = serializers.FloatField(help_text="The frame the boxes are on.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    boxes = FaceBoxSerializer(many=True)
    picked = serializers.IntegerField(
        allow_null=True, help_text="The face a person chose; null: the automatic choice."
    )


class PresenterSerializer(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()
    faces = serializers.SerializerMethodField()

    class Meta:
        model = Presenter
        fields = [
            "id",
            "name",
            "status",
            "kind",
            "tags",
            "archived",
            "error",
            "warnings",
            "original_filename",
            "size_bytes",
            "duration_s",
            "width",
            "height",
            "fps",
            "face_share",
            "face_height_px",
            "faces",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(FacesSerializer(allow_null=True))
    def get_faces(self, obj: Presenter) -> dict[str, Any] | None:
        seen = obj.faces_seen if isinstance(obj.faces_seen, dict) else {}
        if not seen.get("boxes"):
            return None
        return {
            "people": max(int(seen.get("people") or 0), len(seen["boxes"])),
            "frame_time_s": float(seen.get("time_s") or 0.0),
            "width": int(seen.get("width") or 0),
            "height": int(seen.get("height") or 0),
            "boxes": [
                {
                    "number": f["number"],
                    "box": [f["x"], f["y"], f["x"] + f["w"], f["y"] + f["h"]],
                    "animated": f["animated"],
                }
                for f in obj.face_boxes
            ],
            "picked": obj.face_pick_number,
        }

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, obj: Presenter) -> list[str]:
        return sorted(t.name for t in obj.tags.all())

    @extend_schema_field(ErrorInfoSerializer(allow_null=True))
    def get_error(self, obj: Presenter) -> dict[str, str] | None:
        return notice_json(obj.error)

    @extend_schema_field(ErrorInfoSerializer(many=True))
    def get_warnings(self, obj: Presenter) -> list[dict[str, str]]:
        return _notices(obj.warnings)


class PresenterUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The video or photo (multipart).")
    tags = serializers.CharField(
        required=False, allow_blank=True, help_text="Comma separated, e.g. math,english."
    )


class PresenterPatchSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=100
    )


class FacePickSerializer(serializers.Serializer):
    face = serializers.IntegerField(
        min_value=1,
        max_value=1000,
        allow_null=True,
        help_text="The number of the face to animate (see `faces`); null: the automatic choice.",
    )


class ArchiveSerializer(serializers.Serializer):
    archived = serializers.BooleanField(default=True)


class AudioSerializer(serializers.ModelSerializer):
    error = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = AudioTrack
        fields = [
            "id",
            "project",
            "name",
            "status",
            "error",
            "warnings",
            "original_filename",
            "size_bytes",
            "codec",
            "duration_s",
            "sample_rate",
            "channels",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ErrorInfoSerializer(allow_null=True))
    def get_error(self, obj: AudioTrack) -> dict[str, str] | None:
        return notice_json(obj.error)

    @extend_schema_field(ErrorInfoSerializer(many=True))
    def get_warnings(self, obj: AudioTrack) -> list[dict[str, str]]:
        return _notices(obj.warnings)


class AudioUploadSerializer(serializers.Serializer):
    project = Id()
    file = serializers.FileField(help_text="The voice track (multipart).")


class UploadSerializer(serializers.ModelSerializer):
    chunk_size = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = [
            "id",
            "kind",
            "filename",
            "size",
            "offset",
            "state",
            "chunk_size",
            "error",
            "result",
        ]
        read_only_fields = fields

    def get_chunk_size(self, obj: Upload) -> int:
        return upload_service.max_chunk_bytes() // 2

    @extend_schema_field(ErrorInfoSerializer(allow_null=True))
    def get_error(self, obj: Upload) -> dict[str, str] | None:
        return notice_json(obj.error)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_result(self, obj: Upload) -> dict[str, Any] | None:
        if obj.state != Upload.State.DONE or not obj.result_id:
            return None
        name = "api:presenter" if obj.kind == Upload.Kind.PRESENTER else "api:audio"
        return {"kind": obj.kind, "id": obj.result_id, "url": reverse(name, args=[obj.result_id])}


class UploadCreateSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(choices=Upload.Kind.choices)
    project = Id(required=False, allow_null=True, help_text="Required for audio.")


# --- renders ----------------------------------------------------------------------------------


def quality_of(asset: MediaAsset) -> float | None:
    """The result's quality score (0..100, :mod:`lipsync.quality`) once its check has measured
    one; null while pending, for previews and when the check failed."""
    value = asset.quality_score
    return float(value) if value is not None else None


class QualityMeasuresSerializer(serializers.Serializer):
    sync = serializers.FloatField(help_text="Lip-sync correlation (about 0: none, 1: perfect).")
    face_share = serializers.FloatField(help_text="Measured frames with a face, 0..1.")
    sharpness = serializers.FloatField(
        allow_null=True, help_text="Mouth-region sharpness against the presenter's (1: as sharp)."
    )
    frames_measured = serializers.IntegerField()


class ResultSerializer(serializers.ModelSerializer):
    file_name = serializers.CharField(source="download_name", read_only=True)
    quality = serializers.SerializerMethodField()
    quality_state = serializers.ChoiceField(
        choices=QualityState.choices,
        read_only=True,
        help_text="pending, ok, review (below the threshold), failed (not measured), none "
        "(previews).",
    )
    needs_review = serializers.BooleanField(read_only=True)
    quality_measures = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = MediaAsset
        fields = [
            "id",
            "batch",
            "task",
            "project",
            "presenter",
            "audio",
            "title",
            "file_name",
            "size_bytes",
            "duration_s",
            "width",
            "height",
            "fps",
            "engine",
            "is_preview",
            "quality",
            "quality_state",
            "needs_review",
            "quality_measures",
            "download_url",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_quality(self, obj: MediaAsset) -> float | None:
        return quality_of(obj)

    @extend_schema_field(QualityMeasuresSerializer(allow_null=True))
    def get_quality_measures(self, obj: MediaAsset) -> dict[str, Any] | None:
        details = obj.quality_details or {}
        if obj.quality_score is None or "sync" not in details:
            return None
        return {
            "sync": details["sync"],
            "face_share": details.get("face_share", 0.0),
            "sharpness": details.get("sharpness"),
            "frames_measured": details.get("frames_measured", 0),
        }

    def get_download_url(self, obj: MediaAsset) -> str:
        return reverse("api:result_download", args=[obj.pk])


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    presenter = NamedRefSerializer()
    audio = NamedRefSerializer()
    status = serializers.CharField()
    status_label = serializers.CharField()
    #: Seconds until a failed attempt is tried again (null unless a retry waits).
    retry_in_s = serializers.FloatField(allow_null=True)
    stage = serializers.CharField()
    percent = serializers.FloatField()
    eta_s = serializers.FloatField(allow_null=True)
    attempts = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    retryable = serializers.BooleanField()
    error = ErrorInfoSerializer(allow_null=True)
    untouched_frames = serializers.IntegerField(
        help_text="Frames written as they were for want of a usable face."
    )
    untouched_ranges = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text="[start, end] seconds of the result where those frames are.",
    )
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    result = ResultSerializer(allow_null=True)

    def to_representation(self, task: RenderTask) -> dict[str, Any]:
        output = task.output if task.output_id else None
        return {
            "id": task.pk,
            "position": task.position,
            "presenter": {"id": task.presenter_id, "name": task.presenter_name},
            "audio": {"id": task.audio_id, "name": task.audio_name},
            "status": task.status,
            "status_label": task.status_label,
            "retry_in_s": None if task.retry_in_s is None else round(task.retry_in_s, 1),
            "stage": task.stage,
            "percent": round(float(task.percent or 0.0), 1),
            "eta_s": round(task.eta_s, 1) if task.eta_s is not None else None,
            "attempts": task.attempts,
            "max_attempts": task.max_attempts,
            "retryable": task.retryable,
            "error": notice_json(task.error),
            "untouched_frames": task.untouched_frames,
            "untouched_ranges": [[float(a), float(b)] for a, b in task.untouched_ranges],
            "started_at": task.started_at.isoformat() if task.started_at else None,
            "finished_at": task.finished_at.isoformat() if task.finished_at else None,
            "result": ResultSerializer(output).data if output is not None else None,
        }


class BatchSerializer(serializers.Serializer):
    """A batch; its status, percent, ETA and counts are the server's rules
    (:func:`rendering.payloads.batch_summary`), the same the pages show."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    project = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    active = serializers.BooleanField()
    percent = serializers.FloatField()
    eta_s = serializers.FloatField(allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    retryable = serializers.BooleanField()
    engine = serializers.CharField()
    quality = serializers.CharField()
    max_height = serializers.IntegerField(allow_null=True)
    is_preview = serializers.BooleanField()
    output_template = serializers.CharField()
    burn_subtitles = serializers.BooleanField()
    duration_mode = serializers.ChoiceField(choices=DurationMode.choices)
    no_face = serializers.ChoiceField(choices=NoFacePolicy.choices)
    match_source = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    zip_url = serializers.CharField()
    tasks = TaskSerializer(many=True, required=False)

    def to_representation(self, batch: Batch) -> dict[str, Any]:
        with_tasks = self.context.get("with_tasks", False)
        tasks = list(batch.tasks.select_related("output")) if with_tasks else None
        summary = batch_summary(batch, tasks)
        data: dict[str, Any] = {
            "id": batch.pk,
            "name": batch.display_name,
            "project": batch.project_id,
            "status": summary["status"],
            "status_label": summary["status_label"],
            "active": summary["active"],
            "percent": summary["percent"],
            "eta_s": summary["eta_s"],
            "counts": summary["counts"],
            "total": summary["total"],
            "retryable": summary["retryable"],
            "engine": batch.engine,
            "quality": batch.quality,
            "max_height": batch.max_height,
            "is_preview": batch.is_preview,
            "output_template": batch.output_template,
            "burn_subtitles": batch.burn_subtitles,
            "duration_mode": batch.duration_mode,
            "no_face": batch.no_face,
            "match_source": batch.match_source,
            "created_at": batch.created_at.isoformat(),
            "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
            "zip_url": reverse("api:batch_zip", args=[batch.pk]),
        }
        if tasks is not None:
            data["tasks"] = [TaskSerializer().to_representation(t) for t in tasks]
        return data


class PairSerializer(serializers.Serializer):
    audio = Id()
    presenter = Id()


class BatchOptionsSerializer(serializers.Serializer):
    project = Id()
    engine = serializers.CharField(required=False, max_length=40, help_text="Default: warp.")
    quality = serializers.ChoiceField(choices=Quality.choices, required=False)
    max_height = serializers.IntegerField(
        min_value=16, max_value=4320, required=False, allow_null=True
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    output_template = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="File names of the results, e.g. {presenter}/{audio}.mp4 "
        "(placeholders: presenter, audio, batch, position, presenter_id, audio_id).",
    )
    burn_subtitles = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Draw the subtitles of audio tracks that have them into the picture (they "
        "are always in the results as a subtitle track).",
    )
    duration_mode = serializers.ChoiceField(
        choices=DurationMode.choices,
        required=False,
        default=DurationMode.BOUNCE,
        help_text="When the speech is longer than a presenter video: bounce (play back and "
        "forth), loop, cut (the result ends with the video, the speech is cut) or hold (the "
        "last frame stays). A photo stays for the whole speech.",
    )
    no_face = serializers.ChoiceField(
        choices=NoFacePolicy.choices,
        required=False,
        default=NoFacePolicy.PASS,
        help_text="Frames without a usable face: pass (left untouched) or fail (the render "
        "fails, naming the times). Each task reports untouched_frames and untouched_ranges.",
    )
    match_source = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Aim each result's video bitrate at its presenter's instead of the quality "
        "level (the frame rate is the presenter's either way, unless it is variable).",
    )


class BatchCreateSerializer(BatchOptionsSerializer):
    """One of: ``audio`` with ``presenters`` and/or ``presenter_tag`` (every audio × every
    presenter: one audio × N presenters, or a matrix), or ``pairs``."""

    audio = serializers.ListField(child=Id(), required=False, max_length=1000)
    presenters = serializers.ListField(child=Id(), required=False, max_length=10000)
    presenter_tag = serializers.CharField(
        required=False, max_length=40, help_text="Every presenter of the team with this tag."
    )
    pairs = PairSerializer(many=True, required=False, max_length=10000)


class ManifestSerializer(BatchOptionsSerializer):
    manifest = serializers.FileField(
        help_text="CSV with the columns audio,presenter (ids or exact names), or a JSON list "
        'of {"audio": ..., "presenter": ...}.'
    )


# --- tokens, webhooks -------------------------------------------------------------------------


class MeSerializer(serializers.Serializer):
    user = serializers.CharField()
    team = NamedRefSerializer()
    role = serializers.CharField()
    token = serializers.CharField(help_text="The token's visible prefix.")
    scopes = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField()

    def to_representation(self, token: ApiToken) -> dict[str, Any]:
        return {
            "user": token.user.get_username(),
            "team": {"id": token.team_id, "name": token.team.name},
            "role": token.team.role_of(token.user) or "",
            "token": token.prefix,
            "scopes": list(token.scopes),
            "expires_at": token.expires_at.isoformat(),
        }


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "active", "created_at"]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookInSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1
    )


class DeliverySerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "status",
            "response_code",
            "attempts",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields
