"""Helpers of the platform tests: test media (from tests/engine/mediagen.py) and uploads."""

from __future__ import annotations

import json
from pathlib import Path

from django.urls import reverse

from tests.engine import mediagen  # noqa: F401  (re-exported for the tests)


def chunked_upload(
    client,
    path: Path,
    kind: str = "presenter",
    project=None,
    chunk: int = 64 * 1024,
    filename: str | None = None,
):
    """Run the whole resumable protocol; returns the response of ``complete``."""
    data = Path(path).read_bytes()
    created = client.post(
        reverse("upload_create"),
        json.dumps(
            {
                "filename": filename or Path(path).name,
                "size": len(data),
                "kind": kind,
                "project": project.pk if project is not None else None,
            }
        ),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    url = reverse("upload_detail", args=[created.json()["id"]])
    offset = 0
    while offset < len(data):
        piece = data[offset : offset + chunk]
        r = client.put(
            url,
            piece,
            content_type="application/octet-stream",
            headers={"Upload-Offset": str(offset)},
        )
        assert r.status_code == 200, r.content
        offset = r.json()["offset"]
    return client.post(reverse("upload_complete", args=[created.json()["id"]]))


def media_files_in(root: Path) -> list[Path]:
    """Every file under ``root`` (empty folders and the media store's mark do not count)."""
    from studio.services.storage import MEDIA_STORE_MARKER

    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.name != MEDIA_STORE_MARKER)
