"""The pages of the API: tokens (profile page) and webhooks (team settings, admins).

Thin like every view: rows through ``for_user`` / ``get_scoped``, the work in
:mod:`api.tokens` and :mod:`api.webhooks`, called with ``actor(request)``.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from studio.models import Role
from studio.views.common import actor, get_scoped, team_view

from . import tokens, webhooks
from .models import ApiToken, Scope, Webhook, WebhookDelivery, WebhookEvent

LIFETIMES = [7, 30, 90, 180, 365]


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    days = forms.TypedChoiceField(label=gettext_lazy("Expires after"), coerce=int, choices=[])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        days = sorted({d for d in LIFETIMES if d <= settings.API_TOKEN_MAX_DAYS})
        field = self.fields["days"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(d, _("%(n)d days") % {"n": d}) for d in days]
        self.fields["days"].initial = min(
            days, key=lambda d: abs(d - settings.API_TOKEN_DEFAULT_DAYS)
        )


class WebhookForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)


# --- tokens -------------------------------------------------------------------------------


@team_view()
@require_POST
def token_create(request):
    """Make a token in the current team; the page shows it once."""
    team = request.membership.team
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the token a name and at least one scope."))
        return redirect("profile")
    try:
        token, raw = tokens.create_token(
            actor(request),
            team,
            form.cleaned_data["name"],
            form.cleaned_data["scopes"],
            form.cleaned_data["days"],
        )
    except tokens.TokenRefused as exc:
        messages.error(request, str(exc))
        return redirect("profile")
    response = render(request, "api/token_created.html", {"token": token, "raw": raw})
    response["Cache-Control"] = "no-store"
    return response


@team_view()
@require_POST
def token_revoke(request, pk):
    """Revoke one of your own tokens (any team)."""
    token = get_scoped(request, ApiToken, pk, queryset=ApiToken.objects.filter(user=request.user))
    tokens.revoke_token(actor(request), token)
    messages.success(request, _("Token %(prefix)s revoked.") % {"prefix": token.prefix})
    return redirect("profile")


# --- webhooks -----------------------------------------------------------------------------


@team_view(Role.ADMIN)
def webhook_list(request):
    team = request.membership.team
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            hook = webhooks.create_webhook(
                actor(request), team, form.cleaned_data["url"], form.cleaned_data["events"]
            )
        except webhooks.WebhookRefused as exc:
            form.add_error("url", str(exc))
        else:
            messages.success(request, _("Webhook added. Copy its signing secret now."))
            return render(request, "api/webhook_secret.html", {"hook": hook, "secret": hook.secret})
    hooks = Webhook.objects.for_user(request.user, min_role=Role.ADMIN).filter(team=team)
    return render(
        request,
        "api/webhook_list.html",
        {"hooks": hooks, "form": form, "allowed_hosts": settings.WEBHOOK_ALLOWED_HOSTS},
        status=400 if request.method == "POST" else 200,
    )


@team_view(Role.ADMIN)
def webhook_detail(request, pk):
    hook = get_scoped(request, Webhook, pk, min_role=Role.ADMIN)
    initial = {"url": hook.url, "events": hook.events, "active": hook.active}
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhooks.update_webhook(
                actor(request),
                hook,
                form.cleaned_data["url"],
                form.cleaned_data["events"],
                form.cleaned_data["active"],
            )
        except webhooks.WebhookRefused as exc:
            form.add_error("url", str(exc))
        else:
            messages.success(request, _("Webhook saved."))
            return redirect("webhook_detail", pk=hook.pk)
    page = Paginator(hook.deliveries.all(), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "api/webhook_detail.html",
        {"hook": hook, "form": form, "page": page, "deliveries": page.object_list},
    )


@team_view(Role.ADMIN)
@require_POST
def webhook_rotate(request, pk):
    hook = get_scoped(request, Webhook, pk, min_role=Role.ADMIN)
    secret = webhooks.rotate_secret(actor(request), hook)
    return render(
        request, "api/webhook_secret.html", {"hook": hook, "secret": secret, "rotated": True}
    )


@team_view(Role.ADMIN)
@require_POST
def webhook_test(request, pk):
    hook = get_scoped(request, Webhook, pk, min_role=Role.ADMIN)
    webhooks.send_test(actor(request), hook)
    messages.info(request, _("Test event queued; its delivery appears below."))
    return redirect("webhook_detail", pk=hook.pk)


@team_view(Role.ADMIN)
@require_POST
def webhook_delete(request, pk):
    hook = get_scoped(request, Webhook, pk, min_role=Role.ADMIN)
    webhooks.delete_webhook(actor(request), hook)
    messages.success(request, _("Webhook deleted."))
    return redirect("webhook_list")


@team_view(Role.ADMIN)
@require_POST
def delivery_replay(request, pk):
    delivery = get_scoped(request, WebhookDelivery, pk, min_role=Role.ADMIN)
    webhooks.replay(actor(request), delivery)
    messages.info(request, _("Event queued again."))
    return redirect("webhook_detail", pk=delivery.webhook_id)
