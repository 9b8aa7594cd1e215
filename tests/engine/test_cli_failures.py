"""``python -m lipsync render`` always ends with its one-line-per-failure summary: an unexpected
error in one file (any exception, Ctrl-C too) is a line with a reference, never a traceback,
and its traceback is in ``<out>/lipsync-errors.log`` under that reference."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from lipsync import cli
from lipsync.engines import base
from lipsync.errors import staged
from tests.engine import mediagen
from tests.engine.test_cli import CopyEngine

SECRET = "cv2.error sz.width % 2 == 0 (simulated)"


class FlakyEngine(CopyEngine):
    """The copy engine, whose decode stage breaks on presenters named ``bad*`` (and is
    interrupted on ``stop*``)."""

    name = "test-flaky"

    @staged("decode")
    def render(self, audio, presenter, track, out, **kwargs):
        stem = Path(presenter).stem
        if stem.startswith("bad"):
            raise RuntimeError(SECRET)
        if stem.startswith("stop"):
            raise KeyboardInterrupt
        return super().render(audio, presenter, track, out, **kwargs)


@pytest.fixture
def flaky_engine(monkeypatch):
    monkeypatch.setitem(base._REGISTRY, FlakyEngine.name, FlakyEngine)
    FlakyEngine.calls = []
    return FlakyEngine


def _render(tmp_path, *videos):
    speech = mediagen.make_audio(tmp_path / "hello.wav", seconds=0.6)
    args = ["render", "--audio", str(speech), "--out", str(tmp_path / "out")]
    for video in videos:
        args += ["--video", str(video)]
    args += ["--engine", FlakyEngine.name, "--cache-dir", str(tmp_path / "cache")]
    return cli.main(args)


def test_an_unexpected_error_is_one_line_with_a_reference_and_the_rest_renders(
    tmp_path, capsys, flaky_engine, face_clip
):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(Path(face_clip.path).read_bytes())
    code = _render(tmp_path, bad, face_clip.path)
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.out + captured.err
    assert SECRET not in captured.out + captured.err and "RuntimeError" not in captured.out
    last = captured.out.splitlines()[-1]
    found = re.fullmatch(
        r"FAILED bad\.mp4: internal error in the decode step, reference ([0-9a-f]{10}) "
        r"\(details in (.+)\) — run it again; if it fails again, report the reference",
        last,
    )
    assert found, last
    log = Path(found.group(2))
    assert log == tmp_path / "out" / cli.ERROR_LOG
    entry = log.read_text(encoding="utf-8")
    assert f"reference {found.group(1)}: internal error in the decode step (bad.mp4)" in entry
    assert "Traceback" in entry and f"RuntimeError: {SECRET}" in entry
    assert (tmp_path / "out" / cli.output_name(face_clip.path, "hello.wav")).exists()


def test_ctrl_c_ends_with_the_summary_of_what_was_not_rendered(
    tmp_path, capsys, flaky_engine, face_clip
):
    stop = tmp_path / "stop.mp4"
    stop.write_bytes(Path(face_clip.path).read_bytes())
    code = _render(tmp_path, stop, face_clip.path)
    captured = capsys.readouterr()
    assert code == 130
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.splitlines()[-2:] == [
        "FAILED stop.mp4: interrupted (Ctrl-C) — run the command again",
        f"FAILED {Path(face_clip.path).name}: not rendered (interrupted) — run the command again",
    ]
    assert [c[0] for c in FlakyEngine.calls] == ["prepare"], "nothing started after"


def test_an_error_outside_the_files_loop_is_one_line_too(tmp_path, capsys, monkeypatch):
    """Even a failure before any presenter (here: probing the speech) ends in one line."""

    def broken(path):
        raise MemoryError("simulated")

    monkeypatch.setattr(importlib.import_module("lipsync.media.probe"), "probe", broken)
    monkeypatch.setenv(cli.CACHE_ENV, str(tmp_path / "cache"))
    code = cli.main(["probe", str(tmp_path / "x.wav")])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.out + out.err
    found = re.fullmatch(
        r"FAILED probe: internal error in the probe step, reference ([0-9a-f]{10}) .*",
        out.out.strip(),
    )
    assert found, out.out
    entry = (tmp_path / "cache" / cli.ERROR_LOG).read_text(encoding="utf-8")
    assert found.group(1) in entry and "MemoryError: simulated" in entry
