"""``bench/RESULTS.md`` is shared by several scripts, each owning one ``## `` section (the
engine benchmark owns the top, ``bench/gpu.py`` "## GPU", ``bench/load.py`` "## Load"):
:func:`replace_section` rewrites one section and keeps every other as it is."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path


def split_sections(text: str) -> tuple[str, list[str]]:
    """(the part before the first ``## `` heading, each ``## `` section with its heading)."""
    starts = [i + 1 for i in range(len(text)) if text.startswith("\n## ", i)]
    if not starts:
        return text, []
    head = text[: starts[0]]
    bounds = [*starts, len(text)]
    return head, [text[a:b] for a, b in pairwise(bounds)]


def replace_section(path: Path, heading: str, body: str) -> None:
    """Put ``body`` (which starts with ``## <heading>``) in place of the section whose heading
    starts with ``## <heading>``, or at the end when there is none; the rest stays."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    head, sections = split_sections(old)
    marker = f"## {heading}"
    body = body.rstrip("\n") + "\n"
    for n, section in enumerate(sections):
        if section.startswith(marker):
            tail = "\n" if n + 1 < len(sections) else ""
            sections[n] = body + tail
            break
    else:
        if sections:
            sections[-1] = sections[-1].rstrip("\n") + "\n\n"
        else:
            head = head.rstrip("\n") + "\n\n"
        sections.append(body)
    path.write_text(head + "".join(sections))
