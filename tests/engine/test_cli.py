"""``python -m lipsync``: plumbing with a tiny test engine, and the real default engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from lipsync import cli
from lipsync.engines import base
from lipsync.engines.base import Engine, RenderResult
from lipsync.media import VideoWriter, open_video, probe
from lipsync.timeline import frame_schedule, n_output_frames
from tests.engine import mediagen

REPO = Path(__file__).resolve().parents[2]


class CopyEngine(Engine):
    """Test engine: the presenter's frames on the speech's timeline, no lip-sync."""

    name = "test-copy"
    calls: list = []

    def prepare(self, presenter, *, pick=None, progress=None, cancel=None):
        src = open_video(presenter)
        track = SimpleNamespace(
            n_frames=src.frame_count,
            fps=src.fps,
            width=src.width,
            height=src.height,
            present=np.ones(src.frame_count, bool),
            boxes=np.tile([10.0, 20.0, 70.0, 100.0], (src.frame_count, 1)),
            detector="test/1",
        )
        type(self).calls.append(("prepare", os.fspath(presenter), self.cache_dir))
        return track

    def render(
        self,
        audio,
        presenter,
        track,
        out,
        *,
        options=base.RenderOptions(),
        progress=None,
        cancel=None,
    ):
        from lipsync.audio import load_audio
        from lipsync.progress import ProgressTracker

        type(self).calls.append(("render", os.fspath(presenter), options))
        duration = load_audio(audio).size / 16000
        if options.duration_s:
            duration = min(duration, options.duration_s)
        n = n_output_frames(duration, track.fps)
        schedule = frame_schedule(track.n_frames, n, options.timeline)
        frames = [f.image for f in open_video(presenter).frames()]
        tracker = ProgressTracker("render", n, progress, cancel)
        with VideoWriter(
            out,
            track.width,
            track.height,
            track.fps,
            audio=audio,
            audio_duration_s=duration,
            codec="libx264",
            max_height=options.max_height,
        ) as writer:
            for k in schedule:
                writer.write(frames[k])
                tracker.advance()
        tracker.finish()
        return RenderResult(
            os.fspath(out), n / track.fps, n, writer.width, writer.height, track.fps
        )


@pytest.fixture
def copy_engine(monkeypatch):
    monkeypatch.setitem(base._REGISTRY, CopyEngine.name, CopyEngine)
    CopyEngine.calls = []
    return CopyEngine


def test_render_many_presenters_and_report_failures(
    tmp_path, capsys, copy_engine, face_clip, face_photo
):
    speech = mediagen.make_audio(tmp_path / "hello.wav", seconds=1.5)
    bad = mediagen.make_unknown_codec_avi(tmp_path / "presenter.avi")
    out = tmp_path / "out"
    code = cli.main(
        [
            "render",
            "--audio",
            str(speech),
            "--video",
            str(face_clip.path),
            "--video",
            str(bad),
            "--video",
            str(face_photo),
            "--out",
            str(out),
            "--engine",
            "test-copy",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.splitlines()[-1] == (
        "FAILED presenter.avi: unsupported video codec 'xyz' — export it again as MP4 (H.264 "
        "video, AAC audio), or as a JPEG or PNG picture"
    )
    assert sorted(os.listdir(out)) == ["face__hello.mp4", "photo__hello.mp4"]
    for name in ("face__hello.mp4", "photo__hello.mp4"):
        info = probe(out / name)
        assert info.has_audio and info.duration_s == pytest.approx(1.5, abs=0.04)
    # one progress bar per file on stderr, with the stage
    assert "face.mp4:" in captured.err and "photo.jpg:" in captured.err
    assert "render" in captured.err and "100%" in captured.err
    assert ("prepare", str(face_clip.path), str(tmp_path / "cache")) in copy_engine.calls


def test_render_options_reach_the_engine(tmp_path, capsys, copy_engine, face_clip, monkeypatch):
    monkeypatch.setenv("LIPSYNC_CACHE_DIR", str(tmp_path / "envcache"))
    speech = mediagen.make_audio(tmp_path / "hello.wav", seconds=3.0)
    code = cli.main(
        [
            "render",
            "--audio",
            str(speech),
            "--video",
            str(face_clip.path),
            "--out",
            str(tmp_path),
            "--engine",
            "test-copy",
            "--loop",
            "--seconds",
            "1.2",
            "--max-height",
            "160",
            "--crf",
            "30",
            "--preset",
            "ultrafast",
        ]
    )
    assert code == 0
    options = next(c[2] for c in copy_engine.calls if c[0] == "render")
    assert (
        options.timeline,
        options.duration_s,
        options.max_height,
        options.crf,
        options.preset,
    ) == ("loop", 1.2, 160, 30, "ultrafast")
    assert copy_engine.calls[0][2] == str(tmp_path / "envcache")
    info = probe(tmp_path / "face__hello.mp4")
    assert (info.width, info.height) == (160, 160)
    assert info.duration_s == pytest.approx(1.2, abs=0.04)
    assert "face__hello.mp4" in capsys.readouterr().out


def test_default_cache_dir(monkeypatch):
    monkeypatch.delenv("LIPSYNC_CACHE_DIR", raising=False)
    assert cli.default_cache_dir() == str(Path.home() / ".cache" / "heygem-lipsync")
    monkeypatch.setenv("LIPSYNC_CACHE_DIR", "/srv/tracks")
    assert cli.default_cache_dir() == "/srv/tracks"


def test_render_with_unusable_audio(tmp_path, capsys, copy_engine, face_clip):
    silent = tmp_path / "talk.mp3"  # really a silent MP4: judged by content
    silent.write_bytes(
        mediagen.make_video(tmp_path / "v.mp4", seconds=0.4, size=(64, 48)).path.read_bytes()
    )
    code = cli.main(
        [
            "render",
            "--audio",
            str(silent),
            "--video",
            str(face_clip.path),
            "--out",
            str(tmp_path / "out"),
            "--engine",
            "test-copy",
        ]
    )
    assert code == 1
    assert "FAILED talk.mp3: no audio stream" in capsys.readouterr().err
    assert copy_engine.calls == []


def test_unknown_engine(tmp_path, face_clip, speech_wav, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(
            [
                "render",
                "--audio",
                str(speech_wav),
                "--video",
                str(face_clip.path),
                "--out",
                str(tmp_path),
                "--engine",
                "nope",
            ]
        )
    assert exit_.value.code == 2
    assert "unknown engine 'nope'" in capsys.readouterr().err


def test_prepare_prints_the_track_summary(tmp_path, capsys, copy_engine, face_clip):
    code = cli.main(
        ["prepare", str(face_clip.path), "--engine", "test-copy", "--cache-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "frames: 50 at 25 fps, 320x320" in out
    assert "with face: 50 of 50 (100%)" in out
    assert "face size: 60x80 px (median), 25% of the frame height" in out


def test_probe_prints_json(capsys, face_clip, tmp_path):
    assert cli.main(["probe", str(face_clip.path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["width"], data["height"], data["video_codec"]) == (320, 320, "h264")
    notes = mediagen.make_text_file(tmp_path / "notes.txt")
    assert cli.main(["probe", str(notes)]) == 1
    assert capsys.readouterr().out.strip() == (
        "FAILED notes.txt: not a media file (could not read a video, audio or image stream) — "
        "export it again as MP4 (H.264 video, AAC audio), or as a JPEG or PNG picture"
    )


def test_bench_runs_the_benchmark_main(tmp_path, monkeypatch, capsys):
    script = tmp_path / "bench.py"
    script.write_text("def main(argv):\n    print('bench', argv)\n    return 3\n")
    monkeypatch.setattr(cli, "BENCH_SCRIPT", script)
    assert cli.main(["bench", "--", "--quick"]) == 3
    assert "bench ['--quick']" in capsys.readouterr().out
    script.write_text("import sys\ndef main():\n    print('argv', sys.argv[1:])\n")
    assert cli.main(["bench", "--", "--quick"]) == 0
    assert "argv ['--quick']" in capsys.readouterr().out
    monkeypatch.setattr(cli, "BENCH_SCRIPT", tmp_path / "missing.py")
    assert cli.main(["bench"]) == 2


def envelope(x, sr=16000, hop=400):
    n = x.size // hop
    return np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(1))


def test_render_end_to_end(tmp_path):
    """The default engine on generated media, through ``python -m lipsync``."""
    clip = mediagen.make_video(tmp_path / "astronaut.mp4", seconds=2.0, fps=25, size=(320, 320))
    speech = mediagen.make_speech_wav(
        tmp_path / "greeting.wav", text="Hello there. Welcome to our studio."
    )
    out = tmp_path / "out"
    env = dict(os.environ, LIPSYNC_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lipsync",
            "render",
            "--audio",
            str(speech),
            "--video",
            str(clip.path),
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = out / "astronaut__greeting.mp4"
    assert result.exists() and os.listdir(out) == [result.name]

    speech_s = probe(speech).duration_s
    with av.open(str(result)) as c:
        video = c.streams.video[0]
        fps = float(video.average_rate)
        n = sum(1 for _ in c.decode(video=0))  # every frame decodes
    assert n == n_output_frames(speech_s, fps)
    assert abs(n / fps - speech_s) <= 1 / fps
    info = probe(result)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert abs(info.duration_s - speech_s) <= 1 / fps

    source = mediagen.decode_audio(speech, 16000)
    heard = mediagen.decode_audio(result, 16000)
    m = min(source.size, heard.size)
    assert m / 16000 > speech_s - 1 / fps
    assert np.corrcoef(envelope(source[:m]), envelope(heard[:m]))[0, 1] > 0.95


def test_duration_mode_no_face_and_match_source_options(tmp_path, copy_engine, face_clip):
    speech = mediagen.make_audio(tmp_path / "hello.wav", seconds=1.0)
    args = ["render", "--audio", str(speech), "--video", str(face_clip.path)]
    args += ["--out", str(tmp_path), "--engine", "test-copy"]
    assert cli.main([*args, "--duration-mode", "hold", "--no-face", "fail", "--match-source"]) == 0
    assert cli.main(args) == 0
    chosen, default = [c[2] for c in copy_engine.calls if c[0] == "render"][-2:]
    assert (chosen.timeline, chosen.no_face, chosen.match_source) == ("hold", "fail", True)
    assert (default.timeline, default.no_face, default.match_source) == ("bounce", "pass", False)
    with pytest.raises(SystemExit):
        cli.main([*args, "--duration-mode", "pingpong"])


def test_untouched_frames_are_reported_or_fail_the_render(tmp_path, capsys, speech_wav):
    """The warp engine on a clip whose face leaves after 0.6 s: the line names the untouched
    times; with --no-face fail the render fails, naming the file and the times."""
    clip = tmp_path / "gappy.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(30):
            image = mediagen.presenter_frame(i, 320, 240, face=i < 15)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    args = ["render", "--audio", str(speech_wav), "--video", str(clip), "--seconds", "1.2"]
    args += ["--cache-dir", str(tmp_path / "cache"), "--engine", "warp"]
    assert cli.main([*args, "--out", str(tmp_path / "pass"), "--duration-mode", "cut"]) == 0
    line = capsys.readouterr().out
    assert "30 frames" in line and "frames without a face left untouched (0." in line
    assert "–1.20 s)" in line
    assert cli.main([*args, "--out", str(tmp_path / "fail"), "--no-face", "fail"]) == 1
    out = capsys.readouterr().out
    assert "FAILED gappy.mp4: no usable face in " in out and "–1.20 s)" in out
    assert not list((tmp_path / "fail").glob("*.mp4"))
