"""API tokens, idempotency records, webhooks and their deliveries (all team-owned)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from studio.models import Team, TeamScopedModel


class Scope(models.TextChoices):
    """What a token may do (on top of its user's role in the team)."""

    READ = "read", _("Read: list and download")
    RENDER = "render", _("Render: upload, create projects and batches, cancel, retry")
    ADMIN = "admin", _("Admin: manage the team's webhooks")


class ApiToken(TeamScopedModel):
    """A bearer token of one user in one team. Only a SHA-256 of the secret is stored; the
    token itself (``hgs_<prefix>_<secret>``) is shown once, when it is made."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    #: The visible start of the token (``hgs_`` + 8 characters), shown in lists and logs.
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    #: Updated at most once per ``API_AUDIT_READ_INTERVAL_S`` (with the audit row of that use).
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def scope_labels(self) -> list[str]:
        return [str(Scope(s).label).split(":")[0] for s in self.scopes if s in Scope.values]


class IdempotencyKey(TeamScopedModel):
    """The first successful answer to a create sent with ``Idempotency-Key`` (per token)."""

    team_path = "token__team"

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency")
    key = models.CharField(max_length=255)
    #: SHA-256 of the method, path and body: a repeat must send the same request.
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    #: None while the first request is still being handled.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="one_idempotency_key")]


class WebhookEvent(models.TextChoices):
    BATCH_COMPLETED = "batch.completed", _("A batch finished (every render ended)")
    TASK_SUCCEEDED = "task.succeeded", _("A render succeeded")
    TASK_FAILED = "task.failed", _("A render failed")
    PRESENTER_READY = "presenter.ready", _("A presenter passed its face check")
    PRESENTER_FAILED = "presenter.failed", _("A presenter failed its face check")


#: Sent by "Send test event"; every webhook receives it whatever it subscribed to.
TEST_EVENT = "webhook.test"


def _new_secret() -> str:
    import secrets

    return "whsec_" + secrets.token_urlsafe(32)


class Webhook(TeamScopedModel):
    """An address of the team that is told about events, signed with ``secret``."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(_("URL"), max_length=500)
    #: The signing key (the receiver has it too, so it is kept as it is, not hashed).
    secret = models.CharField(max_length=100, default=_new_secret)
    #: After a rotation the old key also signs until ``previous_secret_until``.
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    events = models.JSONField(default=list)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.url

    def secrets(self) -> list[str]:
        """The keys that sign now: the current one, and the previous one during the overlap."""
        keys = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_until
            and timezone.now() < self.previous_secret_until
        ):
            keys.append(self.previous_secret)
        return keys


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Retrying")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(TeamScopedModel):
    """One event sent (or to be sent) to one webhook, with every attempt's answer."""

    team_path = "webhook__team"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event = models.CharField(max_length=40)
    #: The exact bytes sent as the body (a replay sends them again, newly signed).
    body = models.TextField()
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    #: ``[{"at", "status_code", "error", "ms"}]``, one per attempt.
    attempts = models.JSONField(default=list)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    #: When the current job was queued (the reconciler's grace for a lost job, api/reconcile.py).
    queued_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.event} -> {self.webhook.url}"

    @property
    def last_error(self) -> str:
        return str(self.attempts[-1].get("error") or "") if self.attempts else ""
