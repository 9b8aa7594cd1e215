"""MuseTalk 1.5: strict full-size loading on the meta device, the audio and face stages, and
end-to-end renders with a reduced-width configuration of the same architecture (random
weights; the full UNet alone would be 3.4 GB).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lipsync.errors import InvalidModelError, ModelNotFoundError
from lipsync.models import musetalk
from tests.engine import mediagen, modelgen

REPO = Path(__file__).resolve().parents[2]
SPEC_LISTING = REPO.parent / "shared" / "specs" / "musetalk15_unet_state_dict.txt"


@pytest.fixture(scope="module")
def full_meta(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mt-full")
    modelgen.write_musetalk(root, meta=True)
    return root


@pytest.fixture(scope="module")
def small_models(tmp_path_factory) -> Path:
    """Random weights, reduced widths, MuseTalk's own file layout."""
    root = tmp_path_factory.mktemp("mt-small")
    modelgen.write_musetalk(root, meta=False, reduced=True)
    return root


# ----------------------------------------------------------------------------- full size


def test_full_size_unet_loads_strictly_on_the_meta_device(full_meta):
    paths = musetalk.musetalk_paths(full_meta)
    assert paths.unet.stat().st_size < 1 << 20  # shapes only, no 3.4 GB
    unet = musetalk.load_unet(paths.unet, paths.unet_config, device="meta")
    state = unet.state_dict()
    assert len(state) == 686
    assert sum(t.numel() for t in state.values()) == 849_947_844
    recorded = musetalk.recorded_unet_shapes()
    assert list(recorded) == list(state)
    assert {k: tuple(v.shape) for k, v in state.items()} == recorded
    musetalk.check_unet(paths.unet, paths.unet_config)


@pytest.mark.skipif(not SPEC_LISTING.is_file(), reason="shared/specs not present")
def test_the_repository_copy_of_the_unet_listing_is_the_spec():
    assert musetalk.UNET_LISTING.read_text() == SPEC_LISTING.read_text()


def test_full_size_unet_refuses_a_renamed_key_naming_it(full_meta, tmp_path):
    paths = musetalk.musetalk_paths(full_meta)
    state = torch.load(paths.unet, map_location="meta", weights_only=True)
    state["mid_block.attentions.0.proj_in.weight_old"] = state.pop(
        "mid_block.attentions.0.proj_in.weight"
    )
    bad = tmp_path / "unet.pth"
    torch.save(state, bad)
    with pytest.raises(
        InvalidModelError,
        match=r"^unet.pth: not a MuseTalk 1.5 UNet checkpoint: key "
        r"'mid_block.attentions.0.proj_in.weight' missing",
    ):
        musetalk.load_unet(bad, paths.unet_config, device="meta")


def test_full_size_vae_and_whisper_load_strictly_on_the_meta_device(full_meta):
    paths = musetalk.musetalk_paths(full_meta)
    vae = musetalk.load_vae(paths.vae, paths.vae_config, device="meta")
    assert sum(t.numel() for t in vae.state_dict().values()) == 83_653_863
    assert musetalk.vae_scaling(vae) == pytest.approx(0.18215)
    encoder = musetalk.load_whisper_encoder(paths.whisper, paths.whisper_config, device="meta")
    assert sum(t.numel() for t in encoder.state_dict().values()) == 8_208_384


def test_a_wrong_whisper_file_is_refused(full_meta, tmp_path):
    paths = musetalk.musetalk_paths(full_meta)
    state = torch.load(paths.whisper, map_location="meta", weights_only=True)
    state["model.encoder.layers.3.fc1.weight"] = torch.empty(1536, 380, device="meta")
    bad = tmp_path / "pytorch_model.bin"
    torch.save(state, bad)
    with pytest.raises(InvalidModelError, match=r"'layers.3.fc1.weight' has shape \(1536, 380\)"):
        musetalk.check_whisper(bad, paths.whisper_config)


# ----------------------------------------------------------------------------- stages


def test_audio_windows_and_positional_code_follow_the_spec():
    from lipsync.models import musetalk_audio as ma

    states = torch.arange(365, dtype=torch.float32)[:, None, None].expand(365, 5, 384) + 1
    # per hidden state h, add h/10 so the token order shows: token 5t + h
    states = states + torch.arange(5, dtype=torch.float32)[None, :, None] / 10
    win = ma.frame_windows(states, 182, 25.0)  # 7.3 s at 25 fps: A = 365, N = 182
    assert win.shape == (182, 50, 384)
    for i in (0, 1, 90, 181):
        feats = [2 * i - 4 + t for t in range(10)]
        for t, f in enumerate(feats):
            for h in range(5):
                want = (f + 1 + h / 10) if 0 <= f < 365 else 0.0
                assert float(win[i, 5 * t + h, 0]) == pytest.approx(want)
    pe = ma.positional_encoding(50, 384)
    k, j = 7, 11
    assert float(pe[k, 2 * j]) == pytest.approx(np.sin(k * 10000 ** (-2 * j / 384)), abs=1e-6)
    assert float(pe[k, 2 * j + 1]) == pytest.approx(np.cos(k * 10000 ** (-2 * j / 384)), abs=1e-6)
    # At another frame rate the window is centred on the frame's own time.
    starts = ma.window_starts(3, 30.0)
    centres = (np.arange(3) + 0.5) * 50 / 30
    assert np.all(np.abs(starts + 5 - centres) <= 0.5)


def test_whisper_encoder_gives_all_five_states(small_models):
    from lipsync.models import musetalk_audio as ma

    paths = musetalk.musetalk_paths(small_models)
    enc = musetalk.load_whisper_encoder(paths.whisper, paths.whisper_config)
    pre = json.loads(paths.whisper_preprocessor.read_text())
    wav = mediagen.synth_speech(1.3)
    states = ma.encoder_states(wav, enc, pre, torch.device("cpu"), torch.float32)
    assert states.shape == (int(1.3 * 50), 5, 16)
    assert not torch.equal(states[:, 0], states[:, 4])
    cond = ma.audio_conditioning(wav, enc, pre, 32, 25.0, torch.device("cpu"), torch.float32)
    assert cond.shape == (32, 50, 16)


def test_v15_crop_box_from_landmarks():
    from lipsync.models import musetalk_face as mf

    lm = np.zeros((68, 2), np.float32)
    lm[:, 0] = np.linspace(100.7, 200.2, 68)
    lm[:, 1] = 150.0
    lm[8, 1] = 260.9  # chin, the lowest point
    lm[29] = (150.0, 190.5)  # nose bridge above the tip
    [box] = mf.crop_boxes(lm[None], 640, 480)
    # y1 = 2 * 190 - 260 (landmarks truncated to int); y2 = chin + 10
    assert box.tolist() == [100, 120, 200, 270]
    [edge] = mf.crop_boxes(lm[None] + (0, 215), 640, 480)
    assert edge[3] == 480  # the margin stops at the frame
    gone = np.full((1, 68, 2), np.nan, np.float32)
    assert mf.crop_boxes(gone, 640, 480).tolist() == [[-1, -1, -1, -1]]


def test_jaw_mask_keeps_lips_and_drops_the_nose():
    from lipsync.models import musetalk_face as mf

    k = mf._cone_kernel()
    assert [int(k[r].sum()) for r in (9, 10, 11, 20, 21, 32)] == [0, 1, 3, 21, 21, 21]
    labels = np.zeros((512, 512), np.uint8)
    labels[200:420, 120:392] = mf.SKIN
    labels[240:300, 230:282] = mf.NOSE
    labels[330:370, 200:312] = mf.UPPER_LIP
    mask = mf.jaw_mask(labels)
    assert (mask[250:290, 240:272] == 0).all()  # nose
    assert (mask[335:365, 210:300] == 255).all()  # lips
    assert mask[425, 256] == 255  # skin grown downward in the centre band
    assert mask[100, 256] == 0 and mask[10, 10] == 0


def test_compositor_mask_and_strength_narrow_the_blend():
    from lipsync.composite import Compositor
    from lipsync.faces.detector import get_detector

    frame = np.ascontiguousarray(mediagen.face_image(256))
    detector = get_detector()
    lm = detector.landmarks(frame, detector.detect(frame)[0].box)
    box = (int(lm[:, 0].min()), int(lm[27, 1]), int(lm[:, 0].max()), int(lm[8, 1]) + 10)
    patch = np.zeros((64, 64, 3), np.uint8)
    plain = Compositor(colour_match=False).paste(frame.copy(), patch, box, lm)
    assert (plain != frame).any()
    off = Compositor(colour_match=False).paste(frame.copy(), patch, box, lm, strength=0.0)
    assert (off == frame).all()
    none = np.zeros((32, 32), np.uint8)
    assert (Compositor(colour_match=False).paste(frame.copy(), patch, box, lm, none) == frame).all()
    full = np.full((32, 32), 255, np.uint8)
    same = Compositor(colour_match=False).paste(frame.copy(), patch, box, lm, full)
    assert (same == plain).all()
    half = Compositor(colour_match=False).paste(frame.copy(), patch, box, lm, strength=0.5)
    moved = np.abs(half.astype(int) - frame).sum(), np.abs(plain.astype(int) - frame).sum()
    assert 0.4 * moved[1] < moved[0] < 0.6 * moved[1]


def test_reference_latents_are_deterministic_and_blank_the_lower_half(small_models):
    from lipsync.models import musetalk_face as mf

    paths = musetalk.musetalk_paths(small_models)
    vae = musetalk.load_vae(paths.vae, paths.vae_config)
    crops = np.random.default_rng(0).integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)
    a = mf.reference_latents(vae, crops, 0.18215, torch.device("cpu"), torch.float32)
    b = mf.reference_latents(vae, crops, 0.18215, torch.device("cpu"), torch.float32)
    assert a.shape == (2, 8, 32, 32) and torch.equal(a, b)
    assert not torch.allclose(a[:, :4], a[:, 4:])
    other = crops.copy()
    other[:, 128:] = 0
    c = mf.reference_latents(vae, other, 0.18215, torch.device("cpu"), torch.float32)
    assert torch.allclose(a[:, :4], c[:, :4], atol=1e-5)  # the masked half saw only the top


# ----------------------------------------------------------------------------- the engine


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 1 s presenter (320x240) and 1.2 s of audio: 0.4 s of silence, then speech."""
    root = tmp_path_factory.mktemp("mt-clip")
    video = mediagen.make_video(root / "presenter.mp4", seconds=1.0, size=(320, 240))
    speech = mediagen.decode_audio(
        mediagen.make_speech_wav(root / "s.wav", text="One two three four.", seconds=0.8)
    )
    wav = np.concatenate([np.zeros(6400, np.float32), speech])
    audio = mediagen.write_wav(root / "speech.wav", wav)
    return video, audio, root


@pytest.fixture(scope="module")
def engine(small_models, clip):
    from lipsync.engines import get_engine

    return get_engine(
        "musetalk15", device="cpu", model_dir=small_models, cache_dir=clip[2] / "cache"
    )


@pytest.fixture(scope="module")
def rendered(engine, clip):
    video, audio, root = clip
    engine.check_ready()
    track = engine.prepare(video.path)
    reports = []
    result = engine.render(audio, video.path, track, root / "out.mp4", progress=reports.append)
    return track, result, reports


def _outside(full: np.ndarray, margin: int) -> np.ndarray:
    """Pixels more than ``margin`` px from any pixel the blend mask touches."""
    import cv2

    touched = (full > 0).astype(np.uint8)
    grown = cv2.dilate(touched, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    return grown == 0


def _frames(path):
    from lipsync.media.video import open_video

    with open_video(path) as v:
        return [f.image.astype(int) for f in v.frames()]


def test_engine_is_registered_and_usable_with_its_models(small_models, tmp_path):
    from lipsync.engines import get_engine_class, usable_engines
    from lipsync.models.manager import engine_status

    cls = get_engine_class("musetalk15")
    assert cls.needs_weights and cls.weights_available(small_models)
    assert not cls.weights_available(tmp_path)
    assert "musetalk15" in usable_engines(small_models)
    status = {s.name: s for s in engine_status(small_models)}["musetalk15"]
    assert status.usable and status.commercial == "unclear"


def test_render_plays_with_audio_and_only_the_mouth_changes(rendered, clip):
    from lipsync.audio import load_audio
    from lipsync.composite import Compositor
    from lipsync.media.probe import probe
    from lipsync.models import musetalk_face as mf

    video, _, _ = clip
    track, result, reports = rendered
    assert (result.frames, result.fps, result.frames_without_face) == (30, 25.0, 0)
    info = probe(result.path)
    assert info.has_audio and info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height) == (320, 240)
    assert info.duration_s == pytest.approx(1.2, abs=0.05)
    assert len(load_audio(result.path)) / 16000 == pytest.approx(1.2, abs=0.05)
    got, src = _frames(result.path), _frames(video.path)
    assert len(got) == 30
    schedule = list(range(25)) + list(range(23, 18, -1))  # ping-pong
    boxes = mf.crop_boxes(track.landmarks, track.width, track.height)
    for t in (20, 25):
        k = schedule[t]
        (x0, y0, x1, y1), mask = Compositor(extend_down=0.03).mask(
            (240, 320), boxes[k], track.landmarks[k]
        )
        diff = np.abs(got[t] - src[k]).mean(axis=2)
        full = np.zeros((240, 320), np.float32)
        full[y0:y1, x0:x1] = mask
        away = _outside(full, 8)
        outside = diff[away]
        # Frame 0 is silent, so passed through: its difference is the codec's noise alone.
        noise = np.abs(got[0] - src[0]).mean(axis=2)[away].mean()
        assert outside.mean() < 1.15 * noise + 0.2
        assert diff[full > 0.9].mean() > 8 * max(outside.mean(), 0.3)  # random weights draw
    assert reports[-1].overall == pytest.approx(1.0)
    # Only frames where someone speaks need their references (silent ones pass through).
    assert 15 <= result.stats["reference_encodes"] <= 25 and result.stats["dtype"] == "float32"


def test_silence_shows_the_presenter_with_the_mouth_closed(rendered, clip):
    """Silent frames show no network output: the template's mouth closed by the landmark
    warp (a small change of the lips, see tests/engine/test_silence.py), far less than the
    random-weight network's redraw while speaking."""
    video, _, _ = clip
    track, result, _ = rendered
    assert result.stats["silent_frames"] == 4  # 0.4 s of silence less the gate's lead and ramp
    got, src = _frames(result.path), _frames(video.path)
    x0, y0, x1, y1 = np.round(track.boxes[0]).astype(int)
    mouth = (slice((y0 + y1) // 2, y1), slice(x0, x1))
    silent = [np.abs(got[t] - src[t])[mouth].mean() for t in range(4)]
    speaking = [np.abs(got[t] - src[t])[mouth].mean() for t in range(15, 25)]
    assert max(silent) - min(silent) < 1.0  # the same closed mouth, frame after frame
    assert min(speaking) > 2 * max(silent)


def test_second_render_encodes_no_reference_frame(small_models, rendered, clip, tmp_path):
    from lipsync.engines import RenderOptions, get_engine

    video, audio, root = clip
    track, first, _ = rendered
    fresh = get_engine("musetalk15", device="cpu", model_dir=small_models, cache_dir=root / "cache")
    again = fresh.render(
        audio, video.path, track, tmp_path / "again.mp4", options=RenderOptions(duration_s=1.2)
    )
    assert again.stats["reference_encodes"] == 0
    # Deterministic: the posterior mean, so the same frames again.
    a, b = _frames(first.path), _frames(again.path)
    assert max(np.abs(x - y).max() for x, y in zip(a, b)) == 0


def test_missing_model_fails_before_tracking(small_models, clip, tmp_path):
    import shutil

    from lipsync.engines import get_engine

    models = tmp_path / "models"
    shutil.copytree(small_models, models)
    (models / "whisper" / "pytorch_model.bin").unlink()
    engine = get_engine("musetalk15", device="cpu", model_dir=models, cache_dir=tmp_path / "c")
    with pytest.raises(ModelNotFoundError, match=r"pytorch_model.bin: MuseTalk 1.5 file not"):
        engine.check_ready()
    with pytest.raises(ModelNotFoundError):
        engine.render(clip[1], clip[0].path, None, tmp_path / "out.mp4")
    assert not (tmp_path / "c").exists() and not (tmp_path / "out.mp4").exists()


def test_face_parsing_model_is_used_when_present(small_models, clip, tmp_path):
    import shutil

    from lipsync.engines import RenderOptions, get_engine
    from lipsync.models.bisenet import PARAMETER_COUNT, BiSeNet, load_bisenet

    models = tmp_path / "models"
    shutil.copytree(small_models, models)
    torch.manual_seed(0)
    net = BiSeNet().eval()
    assert sum(p.numel() for p in net.parameters()) == PARAMETER_COUNT
    assert len(net.state_dict()) == 191
    (models / "face-parse-bisent").mkdir()
    torch.save(net.state_dict(), models / "face-parse-bisent" / "79999_iter.pth")
    assert load_bisenet(models / "face-parse-bisent" / "79999_iter.pth") is not None
    engine = get_engine("musetalk15", device="cpu", model_dir=models, cache_dir=tmp_path / "c")
    video, audio, _ = clip
    track = engine.prepare(video.path)
    result = engine.render(
        audio, video.path, track, tmp_path / "parsed.mp4", options=RenderOptions(duration_s=0.8)
    )
    assert result.stats["face_parsing"] == "yes" and result.stats["parsed_frames"] > 0


@pytest.mark.slow
def test_sun_with_five_seconds_of_speech(small_models, shared_media, tmp_path):
    """The spec's own presenter (small face, 576x768): right duration, audio, size, and
    untouched outside the mask."""
    from lipsync.composite import Compositor
    from lipsync.engines import RenderOptions, get_engine
    from lipsync.media.probe import probe
    from lipsync.models import musetalk_face as mf

    engine = get_engine("musetalk15", device="cpu", model_dir=small_models, cache_dir=tmp_path)
    sun = shared_media / "sun.mp4"
    track = engine.prepare(sun)
    # eng.wav opens with 3 s of silence: take 5 s of its speech.
    from lipsync.audio import load_audio

    speech = mediagen.write_wav(
        tmp_path / "speech5.wav", load_audio(shared_media / "eng.wav")[48000:128000]
    )
    result = engine.render(
        speech,
        sun,
        track,
        tmp_path / "sun.mp4",
        options=RenderOptions(duration_s=5.0),
    )
    info = probe(result.path)
    assert result.frames == 125 and info.duration_s == pytest.approx(5.0, abs=0.05)
    assert info.has_audio and (info.width, info.height) == (576, 768)
    got, src = _frames(result.path), _frames(sun)[:125]
    # The codec's own noise: the same frames encoded the same way, untouched.
    from lipsync.media.writer import VideoWriter

    opts = RenderOptions()
    plain = VideoWriter(
        tmp_path / "plain.mp4",
        576,
        768,
        25.0,
        crf=opts.crf,
        preset=opts.preset,
        x264_params=opts.x264_params,
        codec="libx264",
    )
    for image in src:
        plain.write(image.astype(np.uint8))
    plain.close()
    noise = _frames(tmp_path / "plain.mp4")
    boxes = mf.crop_boxes(track.landmarks, track.width, track.height)
    changed = 0
    for t in range(0, 125, 8):
        (x0, y0, x1, y1), mask = Compositor(extend_down=0.03).mask(
            (768, 576), boxes[t], track.landmarks[t]
        )
        full = np.zeros((768, 576), np.float32)
        full[y0:y1, x0:x1] = mask
        diff = np.abs(got[t] - src[t]).mean(axis=2)
        away = _outside(full, 8)
        outside = diff[away]
        baseline = np.abs(noise[t] - src[t]).mean(axis=2)[away].mean()
        assert outside.mean() < 1.2 * baseline + 0.3  # codec noise only, in every frame
        changed += diff[full > 0.9].mean() > 2 * max(outside.mean(), 0.5)
    assert changed >= 10  # of 16 sampled frames: the mouth is redrawn while speaking
    assert result.stats["silent_frames"] < 25
