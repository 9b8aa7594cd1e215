"""Fetching one file over HTTP(S) from an operator's mirror, resumable, with its SHA-256.

Only ever called by ``python -m lipsync models download`` (or its API) with a URL the
operator configured: nothing in the engine contacts a server on its own. The file is written
to ``<dest>.part``; an interrupted transfer (dropped connection, a killed process) continues
from the bytes already there with an HTTP ``Range`` request, in the same call (a few retries)
or the next one. A server that ignores ``Range`` (answers 200) is read from the start again.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..errors import LipsyncError

#: (bytes done, bytes in all or None when the server does not say).
ByteProgress = Callable[[int, int | None], None]
CHUNK = 1 << 20
USER_AGENT = "heygem-lipsync-models/1"


class DownloadError(LipsyncError):
    """The mirror could not deliver a file (unreachable, refused, or the bytes are wrong)."""


def part_path(dest: str | os.PathLike[str]) -> Path:
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def _hash_file(path: Path, digest: hashlib._Hash) -> int:
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    *,
    progress: ByteProgress | None = None,
    retries: int = 4,
    timeout_s: float = 60.0,
    backoff_s: float = 0.5,
) -> tuple[Path, str]:
    """Download ``url`` into ``<dest>.part``; return (that part file, its sha256 hex).

    The caller checks the bytes and renames the part file into place. Raises
    :class:`DownloadError` with the URL and what went wrong.
    """
    part = part_path(dest)
    part.parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        try:
            return part, _fetch_once(url, part, progress, timeout_s)
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            ConnectionError,
            TimeoutError,
        ) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code != 416:
                raise DownloadError(
                    f"{Path(dest).name}: the mirror answered HTTP {exc.code} {exc.reason} for {url}"
                ) from exc
            attempt += 1
            if attempt > retries:
                got = part.stat().st_size if part.exists() else 0
                raise DownloadError(
                    f"{Path(dest).name}: download from {url} failed after {retries + 1} tries "
                    f"({type(exc).__name__}: {exc}); {got} bytes kept in {part}, run the "
                    "command again to continue"
                ) from exc
            time.sleep(backoff_s * attempt)


def _fetch_once(url: str, part: Path, progress: ByteProgress | None, timeout_s: float) -> str:
    digest = hashlib.sha256()
    have = _hash_file(part, digest) if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # Nothing left to send: the part file already holds the whole file.
            total = _total_from_range(exc.headers.get("Content-Range", ""))
            if total is None or total == have:
                return digest.hexdigest()
            part.unlink()
        raise
    with response:
        status = response.status
        if status == 206 and have:
            mode = "ab"
            total = _total_from_range(response.headers.get("Content-Range", ""))
        else:  # 200: the whole file (the server ignored or did not get a Range)
            mode, have, digest = "wb", 0, hashlib.sha256()
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        done = have
        if progress is not None:
            progress(done, total)
        with open(part, mode) as fh:
            while chunk := response.read(CHUNK):
                fh.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            fh.flush()
            os.fsync(fh.fileno())
        if total is not None and done < total:
            raise http.client.IncompleteRead(b"", total - done)
    return digest.hexdigest()


def _total_from_range(value: str) -> int | None:
    """The total of a ``Content-Range: bytes a-b/total`` header (None for ``*``)."""
    _, _, total = value.rpartition("/")
    return int(total) if total.strip().isdigit() else None
