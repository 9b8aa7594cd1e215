"""What the architecture promises: named modules exist, the queues are the configured ones,
the library never imports the rendering side, and views never talk to RQ or Redis."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

from studio.queues import QueueName

REPO = Path(__file__).resolve().parents[2]


def test_every_module_the_architecture_names_exists():
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:lipsync|studio|rendering|api|heygem_site|bench)/[\w/.]+)`", text))
    assert len(named) > 40
    missing = sorted(n for n in named if not (REPO / n.rstrip("/")).exists())
    assert missing == []


def test_queue_names_are_the_configured_queues():
    assert {str(q) for q in QueueName} <= set(settings.RQ_QUEUES)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_library_side_never_imports_the_rendering_side():
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "studio").rglob("*.py")
        if any(m == "rendering" or m.startswith("rendering.") for m in _imports(p))
    ]
    assert offenders == []


def test_neither_the_library_nor_rendering_imports_the_api():
    """The API listens to their signals (studio/events.py, rendering/events.py); they never
    know it is there."""
    offenders = [
        str(p.relative_to(REPO))
        for app in ("studio", "rendering")
        for p in (REPO / app).rglob("*.py")
        if any(m == "api" or m.startswith("api.") for m in _imports(p))
    ]
    assert offenders == []


def test_views_go_through_services_for_queues_and_redis():
    views = [
        *(REPO / "studio" / "views").glob("*.py"),
        *(REPO / "rendering" / "views").glob("*.py"),
        REPO / "api" / "views.py",
        REPO / "api" / "web.py",
    ]
    offenders = [
        str(p.relative_to(REPO))
        for p in views
        if any(m.split(".")[0] in {"rq", "django_rq", "redis"} for m in _imports(p))
    ]
    assert offenders == []
