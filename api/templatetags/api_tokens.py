"""``{% api_tokens_section %}``: the "API tokens" card of the profile page (the profile view
belongs to the library side, which does not know the API)."""

from __future__ import annotations

from typing import Any

from django import template

from ..models import ApiToken
from ..web import TokenForm

register = template.Library()


@register.inclusion_tag("api/_tokens_section.html", takes_context=True)
def api_tokens_section(context: Any) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    rows = (
        ApiToken.objects.filter(user_id=int(user.pk or 0), revoked_at=None)
        .select_related("team")
        .order_by("-created_at")
        if user.is_authenticated
        else ApiToken.objects.none()
    )
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "tokens": list(rows),
        "form": TokenForm(),
        "current_team": context.get("current_team"),
    }
