"""Rows for the browser tests, made in the running stack's database through its own code
(``manage.py shell``), so a test starts from the state it is about without clicking through
uploads it does not check. Each test makes its own users and team: tests share the stack."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from .conftest import PASSWORD
from .stack import Stack

PRELUDE = """
import json, os, shutil
from django.utils import timezone
from django.contrib.auth import get_user_model
from studio.actor import Actor
from studio.models import (AudioTrack, Membership, MediaStatus, Presenter, Project, Role, Team)
from studio.services.teams import create_team
from rendering.models import Batch, MediaAsset, RenderTask, TaskStatus
from django.conf import settings
User = get_user_model()

def user(name, team_name=None, staff=False):
    u = User.objects.create_user(name, name + "@example.org", PASSWORD)
    if staff:
        u.is_staff = u.is_superuser = True
        u.save()
    team = create_team(Actor.of(u), u, team_name) if team_name else None
    return u, team

def put(src, rel):
    dest = os.path.join(settings.MEDIA_ROOT, rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy(src, dest)
    return rel

def presenter(team, name, src, **kw):
    return Presenter.objects.create(
        team=team, name=name, file=put(src, f"presenters/{team.pk}/{name}.mp4"),
        original_filename=os.path.basename(src), size_bytes=os.path.getsize(src),
        width=320, height=240, fps=25.0, duration_s=1.2, status=MediaStatus.READY, **kw)

def audio(team, name, src, project=None, **kw):
    return AudioTrack.objects.create(
        team=team, project=project, name=name, file=put(src, f"audio/{team.pk}/{name}.wav"),
        original_filename=os.path.basename(src), size_bytes=os.path.getsize(src),
        codec="pcm_s16le", sample_rate=16000, channels=1, duration_s=1.6,
        status=MediaStatus.READY, **kw)
"""


def seed(stack: Stack, code: str, **params: Any) -> dict[str, Any]:
    """Run ``code`` (after :data:`PRELUDE`; ``P`` holds ``params``) in the stack; whatever it
    puts in the dict ``OUT`` comes back."""
    script = (
        f"PASSWORD = {PASSWORD!r}\n"
        + PRELUDE
        + f"P = json.loads({json.dumps(json.dumps(params, default=str))})\nOUT = {{}}\n"
        + textwrap.dedent(code)
        + "\nprint('SEED-OUT ' + json.dumps(OUT))\n"
    )
    output = stack.manage("shell", "-c", script)
    line = next(line for line in output.splitlines() if line.startswith("SEED-OUT "))
    return json.loads(line.removeprefix("SEED-OUT "))


def media_path(stack: Stack, rel: str) -> Path:
    return stack.root / "media" / rel
