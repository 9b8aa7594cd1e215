"""The Wav2Lip-compatible network, its strict checkpoint loader and the ``wav2lip`` engine.

Checkpoints here hold random weights in the public format; no real weights are used or kept.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from lipsync.errors import InvalidModelError, ModelNotFoundError
from lipsync.models import PARAMETER_COUNT, Wav2Lip, find_weights, load_wav2lip, read_state_dict

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO.parent / "shared" / "specs"


@pytest.fixture(scope="module")
def model() -> Wav2Lip:
    torch.manual_seed(0)
    return Wav2Lip().eval()


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory) -> Path:
    """A random-weight checkpoint written exactly as DataParallel training writes it."""
    path = tmp_path_factory.mktemp("models") / "wav2lip_gan.pth"
    torch.save(
        {"state_dict": {"module." + k: v for k, v in model.state_dict().items()}, "global_step": 1},
        path,
    )
    return path


def _spec_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {}
    for line in (SPECS / "wav2lip_state_dict.txt").read_text().splitlines():
        key, _, shape = line.partition(" ")
        if key == "total_params" or not shape:
            continue
        shapes[key] = tuple(ast.literal_eval(shape))
    return shapes


@pytest.mark.skipif(
    not (SPECS / "wav2lip_state_dict.txt").is_file(), reason="shared/specs not present"
)
def test_state_dict_matches_spec_keys_and_shapes(model):
    spec = _spec_shapes()
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(spec) > 300
    assert sorted(set(spec) - set(ours)) == []
    assert sorted(set(ours) - set(spec)) == []
    assert {k: s for k, s in ours.items() if spec[k] != s} == {}


def test_checkpoint_element_count(model):
    # The public checkpoints hold 36,320,837 numbers: parameters, BatchNorm running
    # statistics and the 50 num_batches_tracked counters.
    assert sum(t.numel() for t in model.state_dict().values()) == PARAMETER_COUNT == 36_320_837
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert n_bn == 50
    assert len(model.state_dict()) == 352


def test_forward_shape_and_range(model):
    torch.manual_seed(1)
    face = torch.rand(3, 6, 96, 96)
    mel = torch.randn(3, 1, 80, 16)
    with torch.inference_mode():
        out = model(face, mel)
    assert out.shape == (3, 3, 96, 96)
    assert out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    # Different audio must change the output: the audio path is connected.
    with torch.inference_mode():
        other = model(face, torch.randn(3, 1, 80, 16))
    assert not torch.equal(out, other)


def test_strict_load_with_module_prefix(model, checkpoint):
    loaded = load_wav2lip(checkpoint)
    assert not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_strict_load_of_bare_state_dict(model, tmp_path):
    path = tmp_path / "wav2lip.pth"
    torch.save(model.state_dict(), path)
    loaded = load_wav2lip(path)
    key = "output_block.1.weight"
    assert torch.equal(loaded.state_dict()[key], model.state_dict()[key])


def test_strict_load_of_legacy_format_with_training_state(model, tmp_path):
    # The public checkpoints predate the zip format and carry optimizer state and counters.
    path = tmp_path / "wav2lip_gan.pth"
    torch.save(
        {
            "state_dict": {"module." + k: v for k, v in model.state_dict().items()},
            "optimizer": {
                "state": {},
                "param_groups": [{"lr": 1e-4, "betas": (0.5, 0.999), "params": [0, 1]}],
            },
            "global_step": 253000,
            "global_epoch": 1431,
        },
        path,
        _use_new_zipfile_serialization=False,
    )
    loaded = load_wav2lip(path)
    key = "face_decoder_blocks.6.2.conv_block.1.running_var"
    assert torch.equal(loaded.state_dict()[key], model.state_dict()[key])


def test_read_state_dict_strips_prefix(checkpoint):
    state = read_state_dict(checkpoint)
    assert "audio_encoder.0.conv_block.0.weight" in state
    assert not any(k.startswith("module.") for k in state)


def test_find_weights_prefers_gan(tmp_path):
    (tmp_path / "wav2lip.pth").write_bytes(b"x")
    assert find_weights(tmp_path) == tmp_path / "wav2lip.pth"
    (tmp_path / "wav2lip_gan.pth").write_bytes(b"x")
    assert find_weights(tmp_path) == tmp_path / "wav2lip_gan.pth"


def test_missing_weights_error_says_where_and_what(tmp_path):
    with pytest.raises(ModelNotFoundError) as info:
        find_weights(tmp_path)
    text = str(info.value)
    assert str(tmp_path / "wav2lip_gan.pth") in text
    assert str(tmp_path / "wav2lip.pth") in text
    assert (
        "put wav2lip_gan.pth (416 MiB, the public Wav2Lip GAN checkpoint) into "
        f"LIPSYNC_MODEL_DIR={tmp_path}" in text
    )


def test_missing_model_dir_error():
    with pytest.raises(ModelNotFoundError, match="LIPSYNC_MODEL_DIR"):
        find_weights(None)


def test_wrong_shape_names_file_and_first_key(model, tmp_path):
    state = dict(model.state_dict())
    state["face_encoder_blocks.2.0.conv_block.0.weight"] = torch.zeros(64, 32, 5, 5)
    path = tmp_path / "wav2lip_gan.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(InvalidModelError) as info:
        load_wav2lip(path)
    text = str(info.value)
    assert text.startswith("wav2lip_gan.pth: ")
    assert (
        "'face_encoder_blocks.2.0.conv_block.0.weight' has shape (64, 32, 5, 5), "
        "expected (64, 32, 3, 3)" in text
    )


def test_missing_and_unexpected_keys(model, tmp_path):
    state = dict(model.state_dict())
    del state["output_block.1.bias"]
    path = tmp_path / "wav2lip.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(InvalidModelError, match=r"key 'output_block.1.bias' missing"):
        load_wav2lip(path)
    state = dict(model.state_dict())
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(InvalidModelError, match=r"unexpected key 'extra.weight'"):
        load_wav2lip(path)


def test_non_finite_weights_are_refused(model, tmp_path):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["audio_encoder.3.conv_block.1.running_var"][5] = float("nan")
    path = tmp_path / "wav2lip_gan.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(
        InvalidModelError,
        match=r"^wav2lip_gan.pth: .*non-finite values in "
        r"'audio_encoder.3.conv_block.1.running_var'",
    ):
        load_wav2lip(path)


def test_corrupt_file_is_clear_error(checkpoint, tmp_path):
    truncated = tmp_path / "wav2lip_gan.pth"
    truncated.write_bytes(checkpoint.read_bytes()[:4096])
    with pytest.raises(InvalidModelError, match=r"^wav2lip_gan.pth: cannot read checkpoint"):
        load_wav2lip(truncated)
    garbage = tmp_path / "wav2lip.pth"
    garbage.write_bytes(b"<html>not found</html>")
    with pytest.raises(InvalidModelError, match=r"^wav2lip.pth: cannot read checkpoint"):
        load_wav2lip(garbage)


def test_checkpoint_needing_code_is_refused(tmp_path):
    path = tmp_path / "wav2lip_gan.pth"
    torch.save({"state_dict": {}, "payload": _Opaque()}, path)
    with pytest.raises(InvalidModelError, match="cannot read checkpoint"):
        load_wav2lip(path)


class _Opaque:
    """An arbitrary object: unpickling it would need code, which weights_only refuses."""


# ----------------------------------------------------------------------------- input helpers


def test_smooth_boxes_window_gaps_and_cuts():
    from lipsync.engines.wav2lip import smooth_boxes

    x = np.arange(10, dtype=np.float32)
    boxes = np.stack([x, x, x + 10, x + 10], axis=1)
    out = smooth_boxes(boxes)
    assert out[5, 0] == pytest.approx(5.0)  # centred: mean of 3..7
    assert out[0, 0] == pytest.approx(2.0)  # window shifted inside: 0..4
    assert out[9, 0] == pytest.approx(7.0)  # 5..9
    boxes[4] = np.nan
    out = smooth_boxes(boxes)
    assert np.isnan(out[4]).all()
    assert out[3, 0] == pytest.approx((1 + 2 + 3 + 5) / 4)  # the gap does not count
    out = smooth_boxes(boxes, cuts=np.array([6]))
    assert out[5, 0] == pytest.approx((1 + 2 + 3 + 5) / 4)  # 1..5: does not cross the cut
    assert out[6, 0] == pytest.approx(7.5)  # the 4 frames 6..9 of the shot


def test_crop_boxes_pad_chin_and_clip():
    from lipsync.engines.wav2lip import crop_boxes

    boxes = np.array(
        [[10.2, 20.7, 50.5, 60.0], [90, 80, 130, 118], [np.nan] * 4, [5, 5, 7, 7]], np.float32
    )
    rects = crop_boxes(boxes, width=120, height=120)
    assert rects[0].tolist() == [10, 20, 51, 70]  # 10 px below the chin
    assert rects[1].tolist() == [90, 80, 120, 120]  # clipped to the frame
    assert rects[2].tolist() == [-1, -1, -1, -1]  # no face
    assert rects[3].tolist() == [-1, -1, -1, -1]  # too small to use


def test_face_input_is_bgr_96_and_network_input_masks_lower_half():
    from lipsync.engines.wav2lip import face_input, network_input

    image = np.zeros((100, 100, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    crop = face_input(image, np.array([10, 10, 58, 58]))
    assert crop.shape == (96, 96, 3)
    assert (crop[..., 2] == 200).all() and (crop[..., :2] == 0).all()
    faces = np.full((2, 96, 96, 3), 255, np.uint8)
    x, mel = network_input(faces, np.zeros((2, 80, 16), np.float32))
    assert x.shape == (2, 6, 96, 96) and mel.shape == (2, 1, 80, 16)
    assert (x[:, :3, 48:] == 0).all() and (x[:, :3, :48] == 255).all()
    assert (x[:, 3:] == 255).all()


def test_network_input_and_weights_are_channels_last(model_dir):
    """One deliberate layout: the input is a view of the NHWC crops, the weights match it."""
    from lipsync.engines import get_engine
    from lipsync.engines.wav2lip import network_input

    faces = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    x, _ = network_input(faces, np.zeros((2, 80, 16), np.float32))
    assert x.is_contiguous(memory_format=torch.channels_last)
    engine = get_engine("wav2lip", device="cpu", model_dir=model_dir)
    conv = engine.load().model.face_encoder_blocks[1][0].conv_block[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert not conv.is_contiguous()
    out = engine.infer(faces, np.zeros((2, 80, 16), np.float32))
    assert out.shape == (2, 96, 96, 3) and out.flags["C_CONTIGUOUS"]


def test_network_runs_one_batch_ahead_of_compositing():
    import threading
    import time

    from lipsync.engines.overlap import ahead

    log: list[str] = []
    started = threading.Event()

    def network(b: int) -> int:
        log.append(f"net{b}")
        if b == 1:
            started.set()
        return b * 10

    got = []
    for b, r in ahead(iter(range(3)), network):
        if b == 0:  # while batch 0 is composited, batch 1 is already in the network
            assert started.wait(5)
        got.append((b, r))
        log.append(f"out{b}")
        time.sleep(0.01)
    assert got == [(0, 0), (1, 10), (2, 20)]
    assert log.index("net1") < log.index("out0")

    def failing(b: int) -> int:
        if b == 1:
            raise RuntimeError("boom")
        return b

    gen = ahead(iter(range(5)), failing)
    assert next(gen) == (0, 0)
    with pytest.raises(RuntimeError, match="boom"):
        next(gen)


# ----------------------------------------------------------------------------- the engine


@pytest.fixture(scope="module")
def model_dir(checkpoint) -> Path:
    return checkpoint.parent


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 1 s presenter clip (25 frames, 320x240, a real face) and 1.6 s of speech."""
    from tests.engine.mediagen import make_speech_wav, make_video

    root = tmp_path_factory.mktemp("w2l-clip")
    video = make_video(root / "presenter.mp4", seconds=1.0, size=(320, 240))
    speech = make_speech_wav(root / "speech.wav", text="Hello there, one two three.", seconds=1.6)
    return video, speech, root


@pytest.fixture(scope="module")
def engine(model_dir, clip):
    from lipsync.engines import get_engine

    return get_engine("wav2lip", device="cpu", model_dir=model_dir, cache_dir=clip[2] / "tracks")


@pytest.fixture(scope="module")
def rendered(engine, clip):
    """Prepare, then one full render; returns (track, result, progress reports)."""
    video, speech, root = clip
    track = engine.prepare(video.path)
    reports = []
    result = engine.render(speech, video.path, track, root / "out.mp4", progress=reports.append)
    return track, result, reports


def test_engine_is_registered_and_needs_weights():
    from lipsync.engines import available_engines, get_engine_class

    assert "wav2lip" in available_engines()
    assert get_engine_class("wav2lip").needs_weights is True


def test_render_without_weights_says_what_to_do(tmp_path, clip):
    from lipsync.engines import get_engine

    engine = get_engine("wav2lip", device="cpu", model_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="put wav2lip_gan.pth"):
        engine.render(clip[1], clip[0].path, None, tmp_path / "out.mp4")
    assert engine.load_count == 0
    assert not (tmp_path / "out.mp4").exists()


def test_model_dir_from_environment(monkeypatch, model_dir):
    from lipsync.engines import get_engine

    monkeypatch.setenv("LIPSYNC_MODEL_DIR", str(model_dir))
    engine = get_engine("wav2lip", device="cpu")
    assert engine.load().weights == str(model_dir / "wav2lip_gan.pth")


def test_end_to_end_render_plays_with_audio(rendered, clip):
    from lipsync.audio import load_audio
    from lipsync.media.probe import probe
    from lipsync.media.video import open_video

    video, _speech, _ = clip
    track, result, reports = rendered
    assert track.present.all()
    assert result.frames == 40 and result.fps == 25.0
    assert result.frames_without_face == 0
    info = probe(result.path)
    assert info.has_video and info.has_audio
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height) == (320, 240)
    assert info.duration_s == pytest.approx(1.6, abs=0.05)
    assert len(load_audio(result.path)) / 16000 == pytest.approx(1.6, abs=0.05)
    with open_video(result.path) as out, open_video(video.path) as src:
        out_frames = [f.image for f in out.frames()]
        src_frames = [f.image for f in src.frames()]
    assert len(out_frames) == 40
    # Random weights draw garbage, but only inside the face box, lower part (frame 20 is
    # speech: at silent frames no network runs, see tests/engine/test_silence.py).
    x0, y0, x1, y1 = np.round(track.boxes[20]).astype(int)
    diff = np.abs(out_frames[20].astype(int) - src_frames[20].astype(int)).mean(axis=2)
    inside = diff[(y0 + y1) // 2 : y1, x0:x1].mean()
    outside = np.concatenate([diff[:, : max(x0 - 8, 1)].ravel(), diff[:, x1 + 8 :].ravel()])
    assert inside > 10 * max(outside.mean(), 0.5)
    assert reports and reports[-1].overall == pytest.approx(1.0)
    assert [r.stage for r in reports][-1] == "render"
    assert result.stats["device"] == "cpu" and result.stats["batch_size"] == 32


def test_model_loads_once_across_renders(engine, rendered, clip, tmp_path):
    video, speech, _ = clip
    track = rendered[0]
    from lipsync.engines import RenderOptions

    result = engine.render(
        speech, video.path, track, tmp_path / "again.mp4", options=RenderOptions(duration_s=0.4)
    )
    assert result.frames == 10
    assert engine.load_count == 1
    assert result.stats["load_count"] == 1


def test_frames_without_face_pass_through(engine, rendered, clip, tmp_path):
    import dataclasses

    from lipsync.engines import RenderOptions
    from lipsync.media.video import open_video

    video, speech, _ = clip
    track = rendered[0]
    present = track.present.copy()
    present[:5] = False
    boxes = track.boxes.copy()
    boxes[:5] = np.nan
    gappy = dataclasses.replace(track, present=present, boxes=boxes)
    result = engine.render(
        speech, video.path, gappy, tmp_path / "gappy.mp4", options=RenderOptions(duration_s=0.4)
    )
    assert (result.frames, result.frames_without_face) == (10, 5)
    assert result.untouched_ranges == ((0.0, 0.2),)  # the pass agrees with what it reports
    assert result.stats["no_face_written"] == 5
    with open_video(result.path) as out, open_video(video.path) as src:
        got = [f.image.astype(int) for f in out.frames()]
        want = [f.image.astype(int) for _, f in zip(range(10), src.frames())]
    x0, y0, x1, y1 = np.round(track.boxes[0]).astype(int)
    face_diff = [np.abs(g - w)[(y0 + y1) // 2 : y1, x0:x1].mean() for g, w in zip(got, want)]
    assert max(face_diff[:5]) < 6.0  # untouched (codec noise only)
    assert min(face_diff[5:]) > 3 * max(face_diff[:5])


def test_cancel_between_batches_leaves_no_file(model_dir, rendered, clip, tmp_path):
    from lipsync.engines import get_engine
    from lipsync.errors import CancelledError

    video, speech, _ = clip
    engine = get_engine("wav2lip", device="cpu", model_dir=model_dir, batch_size=4)
    reports = []

    def cancel() -> bool:
        return any(r.stage == "render" for r in reports)  # stop once a batch is done

    out = tmp_path / "cancelled.mp4"
    with pytest.raises(CancelledError):
        engine.render(speech, video.path, rendered[0], out, progress=reports.append, cancel=cancel)
    assert [r.frames_done for r in reports if r.stage == "render"] == [4]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp16_inference_matches_cpu(model_dir):
    from lipsync.engines import get_engine

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (8, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (8, 80, 16)).astype(np.float32)
    gpu = get_engine("wav2lip", device="auto", model_dir=model_dir)
    cpu = get_engine("wav2lip", device="cpu", model_dir=model_dir)
    out_gpu = gpu.infer(faces, mels)
    assert gpu.load().device.type == "cuda" and gpu.frames_per_batch == 128
    diff = np.abs(out_gpu.astype(int) - cpu.infer(faces, mels).astype(int))
    assert out_gpu.shape == (8, 96, 96, 3) and out_gpu.dtype == np.uint8
    assert diff.mean() < 2.0
