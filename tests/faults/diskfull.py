"""A real full file system for the disk-full tests: a small tmpfs mounted for the test (we run
as root; where mounting is not permitted the tests skip and say why), and a filler file that
takes its free space away, as another process filling the disk would."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``"8m"``) mounted at ``path`` while the block runs."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("the disk-full tests mount a small tmpfs, which needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode}): the "
            "disk-full tests need mount permission (CAP_SYS_ADMIN)"
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def fill(root: Path, leave: int = 0) -> Path:
    """Write a filler file into ``root`` until at most ``leave`` bytes stay free."""
    filler = root / "filler.bin"
    block = b"\xa5" * (1 << 16)
    with open(filler, "ab", buffering=0) as fh:
        while True:
            room = shutil.disk_usage(root).free - leave
            if room <= 0:
                break
            try:
                if not fh.write(block[: min(len(block), room)]):
                    break
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return filler


def files_under(root: Path) -> list[str]:
    """Every file below ``root`` (hidden ones too), relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
