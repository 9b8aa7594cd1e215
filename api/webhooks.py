"""Webhooks: which addresses may be called, what is sent, how it is signed (audited).

Events (:class:`api.models.WebhookEvent`) come from the library and rendering signals
(:mod:`api.receivers`). Each one becomes one :class:`~api.models.WebhookDelivery` per
subscribed webhook of the team, sent by :func:`api.jobs.deliver` on the ``cpu`` queue.

Body (UTF-8 JSON, these exact bytes are signed and kept for replays)::

    {"id": "<event uuid>", "type": "batch.completed", "created": "<ISO 8601>", "team": 3,
     "data": {...}}

Signature header ``HeyGem-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256 with the webhook's secret over ``"<t>." + body``; during
``WEBHOOK_SECRET_OVERLAP_HOURS`` after a rotation a second ``v1=`` signed with the previous
secret follows. Receivers should reject timestamps older than a few minutes.

Outbound addresses: ``http``/``https`` only; when ``WEBHOOK_ALLOWED_HOSTS`` is set the host
must match one of its entries (``hooks.example.com`` or ``*.example.com``); the host is
resolved and *every* address must be public (not loopback, private, link-local, multicast,
reserved or unspecified) unless it lies in ``WEBHOOK_ALLOWED_NETWORKS``. The request goes to
the checked address itself (a second DNS answer cannot redirect it), with a
``WEBHOOK_TIMEOUT_S`` time limit, and redirects are not followed (a 3xx counts as a failure).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from studio import queues
from studio.actor import Actor
from studio.audit import record
from studio.ids import parse_int
from studio.models import Team

from .models import TEST_EVENT, DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

SIGNATURE_HEADER = "HeyGem-Signature"
EVENT_HEADER = "HeyGem-Event"
DELIVERY_HEADER = "HeyGem-Delivery"
USER_AGENT = "HeyGem-Studio-Webhooks/1"
#: How much of a receiver's answer the delivery log keeps.
RESPONSE_EXCERPT = 300

WEBHOOK_CREATED = "webhook_created"
WEBHOOK_UPDATED = "webhook_updated"
WEBHOOK_DELETED = "webhook_deleted"
WEBHOOK_ROTATED = "webhook_secret_rotated"
WEBHOOK_TESTED = "webhook_test_sent"
WEBHOOK_REPLAYED = "webhook_replayed"


class WebhookRefused(Exception):
    """The address may not be called (or the webhook cannot be saved); message for people."""


# --- addresses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _host_allowed(host: str) -> bool:
    allowed = settings.WEBHOOK_ALLOWED_HOSTS
    if not allowed:
        return True
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed)


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in settings.WEBHOOK_ALLOWED_NETWORKS:
        if ip in ipaddress.ip_network(network, strict=False):
            return True
    return ip.is_global and not ip.is_multicast


def check_url(url: str, resolve: bool = True) -> Target:
    """The target of ``url`` if it may be called, else :class:`WebhookRefused`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(_("The webhook URL is not a valid address.")) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(
            _("The webhook URL must start with http:// or https:// and name a host.")
        )
    if parts.username or parts.password:
        raise WebhookRefused(_("The webhook URL must not contain a user name or password."))
    host = parts.hostname.lower().rstrip(".")
    if not _host_allowed(host):
        raise WebhookRefused(
            _("Webhooks may not call %(host)s: it is not in this server's allow-list.")
            % {"host": host}
        )
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not resolve:
        return Target(parts.scheme, host, port, path, ())
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused(
            _("The host %(host)s could not be resolved.") % {"host": host}
        ) from exc
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    refused = [a for a in addresses if not _address_allowed(a)]
    if not addresses or refused:
        raise WebhookRefused(
            _(
                "Webhooks may not call %(host)s: it resolves to an internal address "
                "(%(address)s) this server does not allow."
            )
            % {"host": host, "address": refused[0] if refused else "-"}
        )
    return Target(parts.scheme, host, port, path, addresses)


# --- signing -------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


def verify(header: str, secret: str, body: bytes, tolerance_s: int = 300) -> bool:
    """What a receiver does (and the tests): a fresh timestamp and one matching ``v1``."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v for k, v in fields if k == "t"]
    t = parse_int(stamps[0]) if len(stamps) == 1 else None
    if t is None:
        return False
    if abs(time.time() - t) > tolerance_s:
        return False
    expected = signature(secret, t, body)
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in fields)


# --- sending -------------------------------------------------------------------------------


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate checked against the host name."""

    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str
    ms: int
    excerpt: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_json(self) -> dict[str, Any]:
        return {
            "at": timezone.now().isoformat(),
            "status_code": self.status_code,
            "error": self.error,
            "ms": self.ms,
            "response": self.excerpt,
        }


def post(webhook: Webhook, delivery: WebhookDelivery) -> Attempt:
    """One signed POST of ``delivery``; never raises for network or receiver errors."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = check_url(webhook.url)
    except WebhookRefused as exc:
        return Attempt(None, str(exc), took())
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
        SIGNATURE_HEADER: signature_header(webhook.secrets(), int(time.time()), body),
    }
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = kind(target.addresses[0], target.host, target.port, settings.WEBHOOK_TIMEOUT_S)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        excerpt = response.read(RESPONSE_EXCERPT).decode("utf-8", "replace")
        code = response.status
    except (OSError, http.client.HTTPException) as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:300], took())
    finally:
        conn.close()
    error = ""
    if 300 <= code < 400:
        error = _("The receiver answered with a redirect, which is not followed.")
    elif not 200 <= code < 300:
        error = _("The receiver answered %(code)d.") % {"code": code}
    return Attempt(code, error, took(), excerpt)


def retry_intervals() -> list[int]:
    return list(settings.WEBHOOK_RETRY_INTERVALS_S)


def enqueue(delivery: WebhookDelivery, *, attempts_made: int = 0) -> None:
    """Queue the delivery job (after the current transaction commits), with RQ retries for
    the attempts left after ``attempts_made`` (the reconciler sends a lost job again)."""
    from rq.job import Retry

    from .jobs import deliver

    retries = max(0, settings.WEBHOOK_MAX_ATTEMPTS - attempts_made - 1)
    job_id = queues.new_job_id()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(job_id=job_id, queued_at=timezone.now())
    queues.enqueue(
        queues.QueueName.CPU,
        deliver,
        delivery.pk,
        job_id=job_id,
        timeout_s=int(settings.WEBHOOK_TIMEOUT_S * 3) + 30,
        retry=Retry(max=retries, interval=retry_intervals()) if retries else None,
        description=f"webhook delivery {delivery.pk}",
        on_unavailable=lambda exc: _unqueued(delivery, exc),
    )


def _unqueued(delivery: WebhookDelivery, exc: Exception) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED,
        finished_at=timezone.now(),
        attempts=[
            Attempt(
                None,
                _("The background queue is not reachable (%(why)s).") % {"why": type(exc).__name__},
                0,
            ).to_json()
        ],
    )


# --- events --------------------------------------------------------------------------------


def event_body(team: Team, event: str, data: dict[str, Any], event_id: uuid.UUID) -> str:
    return json.dumps(
        {
            "id": str(event_id),
            "type": event,
            "created": timezone.now().isoformat(),
            "team": team.pk,
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def emit(team: Team, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Make and queue one delivery of ``event`` per active webhook of ``team`` subscribed."""
    hooks = [h for h in Webhook.objects.filter(team=team, active=True) if event in h.events]
    if not hooks:
        return []
    event_id = uuid.uuid4()
    body = event_body(team, event, data, event_id)
    out = []
    with transaction.atomic():
        for hook in hooks:
            delivery = WebhookDelivery.objects.create(
                webhook=hook, event_id=event_id, event=event, body=body
            )
            enqueue(delivery)
            out.append(delivery)
    return out


def send_test(actor: Actor, webhook: Webhook) -> WebhookDelivery:
    """Queue a ``webhook.test`` event to ``webhook`` alone."""
    event_id = uuid.uuid4()
    body = event_body(
        webhook.team, TEST_EVENT, {"webhook": webhook.pk, "message": "test event"}, event_id
    )
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            webhook=webhook, event_id=event_id, event=TEST_EVENT, body=body
        )
        enqueue(delivery)
        record(actor, webhook.team, WEBHOOK_TESTED, webhook, delivery=delivery.pk)
    return delivery


def replay(actor: Actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send ``delivery``'s event again (same id and body, signed anew) as a new delivery."""
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            webhook=delivery.webhook,
            event_id=delivery.event_id,
            event=delivery.event,
            body=delivery.body,
            replay_of=delivery,
        )
        enqueue(again)
        record(
            actor, delivery.webhook.team, WEBHOOK_REPLAYED, delivery.webhook, delivery=delivery.pk
        )
    return again


# --- managing webhooks ---------------------------------------------------------------------


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in WebhookEvent.values]
    if unknown:
        raise WebhookRefused(_("Unknown event “%(name)s”.") % {"name": unknown[0]})
    if not chosen:
        raise WebhookRefused(_("Choose at least one event."))
    return chosen


def create_webhook(actor: Actor, team: Team, url: str, events: Iterable[str]) -> Webhook:
    check_url(url)
    hook = Webhook.objects.create(
        team=team, url=url.strip(), events=_clean_events(events), created_by=actor.user
    )
    record(actor, team, WEBHOOK_CREATED, hook, events=hook.events)
    return hook


def update_webhook(
    actor: Actor, webhook: Webhook, url: str, events: Iterable[str], active: bool
) -> Webhook:
    check_url(url)
    webhook.url = url.strip()
    webhook.events = _clean_events(events)
    webhook.active = active
    webhook.save(update_fields=["url", "events", "active"])
    record(actor, webhook.team, WEBHOOK_UPDATED, webhook, events=webhook.events, active=active)
    return webhook


def rotate_secret(actor: Actor, webhook: Webhook) -> str:
    """A new signing secret; the old one keeps signing for ``WEBHOOK_SECRET_OVERLAP_HOURS``."""
    from .models import _new_secret

    webhook.previous_secret = webhook.secret
    webhook.previous_secret_until = timezone.now() + timedelta(
        hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS
    )
    webhook.secret = _new_secret()
    webhook.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    record(actor, webhook.team, WEBHOOK_ROTATED, webhook)
    return webhook.secret


def delete_webhook(actor: Actor, webhook: Webhook) -> None:
    record(actor, webhook.team, WEBHOOK_DELETED, webhook, url=webhook.url)
    webhook.delete()
