"""Create the first administrator (and a team for them) when there is none.

Takes ``ADMIN_EMAIL`` / ``ADMIN_PASSWORD`` (and optionally ``ADMIN_USERNAME``) from the
environment; without a password it generates one and prints it once. The team is named
``ADMIN_TEAM``, by default "HeyGem Studio" (a name is data shown in every reader's language,
so the default is one that needs no translation). Does nothing when a
superuser already exists, so start_app.sh can run it every time.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from studio.models import Membership, Role, Team

#: The first team's name unless ``ADMIN_TEAM`` is set: the product's name reads the same in
#: every language, unlike "My team" stored in the installer's language.
DEFAULT_TEAM_NAME = "HeyGem Studio"


class Command(BaseCommand):
    help = "Create the first administrator from ADMIN_EMAIL / ADMIN_PASSWORD if none exists."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("administrator: already set up")
            return
        email = os.environ.get("ADMIN_EMAIL", "admin@localhost")
        username = os.environ.get("ADMIN_USERNAME") or "admin"
        password = os.environ.get("ADMIN_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email=email, password=password)
        name = os.environ.get("ADMIN_TEAM", "").strip() or DEFAULT_TEAM_NAME
        team = Team.objects.create(name=name[:120], created_by=user)
        Membership.objects.create(team=team, user=user, role=Role.OWNER)
        self.stdout.write(self.style.SUCCESS(f"administrator created: user name '{username}'"))
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"generated password (shown only now, change it after logging in): {password}"
                )
            )
