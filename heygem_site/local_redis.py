"""The default ``REDIS_URL`` of a checkout: a Redis of its own, never another checkout's.

Without ``REDIS_URL`` every process of a checkout (web, workers, reconciler, ``start_app.sh``)
reads the URL kept in ``<var>/redis-url`` (mode 600). The first process to need it writes it:
``redis://:<random password>@127.0.0.1:<port>/0``, the port derived from the var folder's path
(20000-29999; the next free one when that is taken). So two checkouts on one machine get two
Redis servers on two ports, each with its own password: a worker of one can neither take nor
see the other's jobs, even if their ports met. ``heygem_site.embedded_redis`` starts the server
with that password when nothing answers.

Plain Python (no Django): settings, ``embedded_redis`` and ``start_app.sh`` import it.
``python -m heygem_site.local_redis`` prints the URL with its password hidden.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse, urlunparse

#: The file in the var folder that keeps the URL.
URL_FILE = "redis-url"
FIRST_PORT, PORTS = 20000, 10000


def var_dir() -> Path:
    """The var folder the settings use (``HEYGEM_VAR_DIR``, else ``var/`` of the checkout)."""
    base = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("HEYGEM_VAR_DIR", base / "var"))


def derived_port(folder: Path) -> int:
    """The port this var folder prefers: a hash of its absolute path, in 20000-29999."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).digest()
    return FIRST_PORT + int.from_bytes(digest[:4], "big") % PORTS


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_port(folder: Path) -> int:
    start = derived_port(folder) - FIRST_PORT
    for step in range(200):
        port = FIRST_PORT + (start + step) % PORTS
        if _port_free(port):
            return port
    return FIRST_PORT + start


def default_url(folder: Path | None = None) -> str:
    """The checkout's Redis URL, made and stored on first use (safe against a concurrent first
    use: the file appears whole through a hard link, and a loser reads the winner's)."""
    folder = folder or var_dir()
    path = folder / URL_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    url = f"redis://:{secrets.token_urlsafe(24)}@127.0.0.1:{_pick_port(folder)}/0"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{URL_FILE}.")  # mode 600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(url + "\n")
        os.link(tmp, path)  # appears complete, or not at all
    except FileExistsError:
        return path.read_text().strip()
    finally:
        os.unlink(tmp)
    return url


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs and the console)."""
    parsed = urlparse(url)
    if not parsed.password:
        return url
    netloc = parsed.netloc.rsplit("@", 1)[1]
    user = parsed.username or ""
    return urlunparse(parsed._replace(netloc=f"{user}:***@{netloc}"))


if __name__ == "__main__":
    sys.stdout.write(redacted(os.environ.get("REDIS_URL") or default_url()) + "\n")
