"""``bench/RESULTS.md`` is shared by several scripts: each owns one ``## `` section.

``bench/bench.py`` writes the head of the file (up to the first ``## `` heading) and keeps the
sections; the other scripts replace only their own section (:func:`replace_section`).
"""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, heading: str, text: str) -> None:
    """Put ``text`` (starting with ``heading``) where the section ``heading`` is in ``path``
    (from that heading to the next ``## `` heading), or append it; the rest is kept."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    body = text.rstrip("\n") + "\n"
    key = heading.split("(")[0].strip()
    start = _find(old, key)
    if start < 0:
        path.write_text(old.rstrip("\n") + "\n\n" + body)
        return
    end = old.find("\n## ", start + 1)
    rest = old[end + 1 :] if end >= 0 else ""
    path.write_text(old[:start] + body + ("\n" + rest if rest else ""))


def _find(text: str, key: str) -> int:
    """Offset of the line starting with ``key`` (a ``## `` heading), or -1."""
    if text.startswith(key):
        return 0
    at = text.find("\n" + key)
    return at + 1 if at >= 0 else -1
