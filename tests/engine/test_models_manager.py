"""The model manager: status for the admin page, add/verify/download/import/bundle, CLI.

Downloads go to a real HTTP server on loopback (http.server in a thread) serving test
checkpoints; nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from lipsync.errors import InvalidModelError
from lipsync.models import manager
from lipsync.models.download import DownloadError
from lipsync.models.manifest import load_manifest, parse_manifest
from tests.engine import modelgen

# ----------------------------------------------------------------------------- a mirror


class Mirror:
    """Files served over HTTP on 127.0.0.1, with Range support and scripted failures."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str | None]] = []
        #: path -> bytes to send before dropping the connection (once per entry)
        self.drop_after: dict[str, list[int]] = {}
        self.ignore_range = False
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.lstrip("/")
                rng = self.headers.get("Range")
                mirror.requests.append((path, rng))
                data = mirror.files.get(path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and not mirror.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                drops = mirror.drop_after.get(path)
                if drops:
                    self.wfile.write(body[: drops.pop(0)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror_factory():
    made: list[Mirror] = []

    def make(files: dict[str, bytes]) -> Mirror:
        m = Mirror(files)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


@pytest.fixture(scope="module")
def real_wav2lip(tmp_path_factory) -> bytes:
    """A random-weight Wav2Lip checkpoint (the public format), as bytes."""
    path = tmp_path_factory.mktemp("w2l") / "wav2lip_gan.pth"
    torch.save({"state_dict": modelgen.wav2lip_state(meta=False)}, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def musetalk_meta(tmp_path_factory) -> Path:
    """A full-size MuseTalk 1.5 install whose checkpoints hold shapes but no data."""
    root = tmp_path_factory.mktemp("musetalk-meta")
    modelgen.write_musetalk(root, meta=True)
    return root


def _names(statuses):
    return {s.name: s for s in statuses}


# ----------------------------------------------------------------------------- status


def test_fresh_install_lists_every_engine_with_its_state(tmp_path, capsys):
    from lipsync.cli import main

    assert main(["models", "--model-dir", str(tmp_path / "none"), "list"]) == 0
    out = capsys.readouterr().out
    for name in ("warp", "wav2lip", "musetalk15", "dlib", "insightface"):
        assert f"  {name} " in out
    assert "warp         usable" in out
    assert "wav2lip      NOT USABLE" in out and "musetalk15   NOT USABLE" in out
    assert "missing: wav2lip_gan.pth" in out
    assert "missing: musetalkV15/unet.pth" in out
    assert "Non-commercial use only" in out


def test_engine_status_api_for_the_admin_page(tmp_path):
    status = _names(manager.engine_status(tmp_path))
    assert {"warp", "wav2lip", "musetalk15"} <= set(status)
    warp, w2l, mt = status["warp"], status["wav2lip"], status["musetalk15"]
    assert warp.usable and not warp.needs_weights and warp.commercial == "yes"
    assert not w2l.usable and w2l.needs_weights and w2l.missing == ["wav2lip_gan.pth"]
    assert w2l.where == str(tmp_path) and w2l.commercial == "no"
    assert "non-commercial" in w2l.licence_note.lower() and w2l.licence_text
    assert mt.missing == [
        "musetalkV15/musetalk.json",
        "musetalkV15/unet.pth",
        "sd-vae/config.json",
        "sd-vae/diffusion_pytorch_model.bin",
        "whisper/config.json",
        "whisper/preprocessor_config.json",
        "whisper/pytorch_model.bin",
    ]
    assert mt.optional_missing == ["face-parse-bisent/79999_iter.pth"]
    assert manager.usable_engines(tmp_path) == ["warp"]
    trackers = _names(manager.tracker_status(tmp_path))
    assert trackers["dlib"].usable and not trackers["insightface"].usable
    assert trackers["insightface"].commercial == "no"


def test_builtin_engine_names_agree_with_the_registry_and_the_manifest(tmp_path):
    """engine_status lists the built-in engines by name without importing them, and judges
    them by the manifest: the names, ``needs_weights`` and the usable set must be the
    engines' own (the batch form asks the manager, create_batch the engine classes)."""
    from lipsync.engines import available_engines, get_engine_class, usable_engines
    from lipsync.engines.builtin import BUILTIN_ENGINES

    assert sorted(BUILTIN_ENGINES) == available_engines()
    manifest = load_manifest()
    for name in BUILTIN_ENGINES:
        assert get_engine_class(name).needs_weights == bool(manifest.engines[name].requires)
    root = tmp_path / "models"
    assert usable_engines(root) == manager.usable_engines(root) == ["warp"]
    modelgen.save_wav2lip(root / "wav2lip.pth")
    assert usable_engines(root) == manager.usable_engines(root) == ["warp", "wav2lip"]


def test_status_does_not_import_torch(tmp_path):
    """What a web page listing the engines pays: no torch (a fresh interpreter)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lipsync.models import manager\n"
        f"root = {str(tmp_path)!r}\n"
        "manager.engine_status(root), manager.tracker_status(root), manager.model_status(root)\n"
        "print('torch' in sys.modules)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_add_then_status_and_verify(tmp_path):
    src = modelgen.save_wav2lip(tmp_path / "in" / "wav2lip_gan.pth")
    root = tmp_path / "models"
    assert manager.add(src, root) == ["wav2lip_gan.pth"]
    assert (root / "wav2lip_gan.pth").read_bytes() == src.read_bytes()
    status = _names(manager.engine_status(root))["wav2lip"]
    assert status.usable and status.using == ["wav2lip_gan"]
    assert manager.usable_engines(root) == ["warp", "wav2lip"]
    assert _names(manager.model_status(root))["wav2lip_gan"].verified is True
    lock = json.loads((root / manager.LOCK_NAME).read_text())
    assert (
        lock["files"]["wav2lip_gan.pth"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    )
    [result] = manager.verify(root, ["wav2lip_gan"])
    assert result.ok and result.problems == []
    assert sorted(p.name for p in root.iterdir()) == [manager.LOCK_NAME, "wav2lip_gan.pth"]


def test_add_refuses_a_missing_key_naming_it_and_installs_nothing(tmp_path):
    key = "face_decoder_blocks.3.1.conv_block.1.running_mean"
    src = modelgen.save_wav2lip(tmp_path / "in" / "wav2lip_gan.pth", drop=key)
    root = tmp_path / "models"
    with pytest.raises(InvalidModelError) as info:
        manager.add(src, root)
    assert str(info.value).startswith("wav2lip_gan.pth: not a Wav2Lip checkpoint: key ")
    assert f"{key!r} missing" in str(info.value)
    assert not (root / "wav2lip_gan.pth").exists()
    assert [p.name for p in root.iterdir()] == []  # no staging left behind


def test_add_refuses_a_wrong_shape(tmp_path):
    state = modelgen.wav2lip_state()
    state["output_block.1.weight"] = torch.empty(4, 32, 1, 1, device="meta")
    src = tmp_path / "wav2lip.pth"
    torch.save(state, src)
    with pytest.raises(
        InvalidModelError,
        match=r"key 'output_block.1.weight' has shape \(4, 32, 1, 1\), expected \(3, 32, 1, 1\)",
    ):
        manager.add(src, tmp_path / "models")


def test_add_a_whole_musetalk_folder_full_size_on_the_meta_device(tmp_path, musetalk_meta):
    root = tmp_path / "models"
    # An admin's folder named otherwise: files are matched by name and by their neighbours.
    import shutil

    shutil.copytree(musetalk_meta / "whisper", tmp_path / "whisper-tiny")
    installed = manager.add(musetalk_meta / "musetalkV15", root)
    assert installed == ["musetalkV15/musetalk.json", "musetalkV15/unet.pth"]
    manager.add(musetalk_meta / "sd-vae", root)
    manager.add(tmp_path / "whisper-tiny", root)
    status = _names(manager.engine_status(root))["musetalk15"]
    assert status.usable and status.missing == []
    results = {r.model: r for r in manager.verify(root)}
    for name in ("musetalk15_unet", "sd_vae_ft_mse", "whisper_tiny"):
        assert results[name].ok, results[name].problems
    # The published hash of the real unet.pth comes from a third party: a note, not a failure.
    assert any("third party" in n for n in results["musetalk15_unet"].notes)


def test_a_lone_config_is_ambiguous_and_says_so(tmp_path, musetalk_meta):
    import shutil

    lone = tmp_path / "somewhere" / "config.json"
    lone.parent.mkdir()
    shutil.copy(musetalk_meta / "whisper" / "config.json", lone)
    with pytest.raises(manager.ModelManagerError, match="could be a file of .*--as NAME"):
        manager.add(lone, tmp_path / "models")
    assert manager.add(lone, tmp_path / "models", model="whisper_tiny") == ["whisper/config.json"]


def test_wrong_unet_config_is_refused_naming_the_field(tmp_path, musetalk_meta):
    import shutil

    folder = tmp_path / "musetalkV15"
    shutil.copytree(musetalk_meta / "musetalkV15", folder)
    cfg = json.loads((folder / "musetalk.json").read_text())
    cfg["in_channels"] = 32  # the first, wrong v1.5 json on the hub
    (folder / "musetalk.json").write_text(json.dumps(cfg))
    with pytest.raises(InvalidModelError, match="in_channels is 32, expected 8"):
        manager.add(folder, tmp_path / "models")


def test_verify_finds_a_changed_file_and_a_broken_one(tmp_path):
    root = tmp_path / "models"
    manager.add(modelgen.save_wav2lip(tmp_path / "wav2lip_gan.pth"), root)
    with open(root / "wav2lip_gan.pth", "ab") as fh:
        fh.write(b"\0")
    assert _names(manager.model_status(root))["wav2lip_gan"].verified is False
    [result] = manager.verify(root, ["wav2lip_gan"])
    assert not result.ok and "changed since it was installed" in result.problems[0]
    (root / "wav2lip_gan.pth").write_bytes(b"<html>404</html>")
    [result] = manager.verify(root, ["wav2lip_gan"])
    assert "cannot read checkpoint" in result.problems[0]


# ----------------------------------------------------------------------------- download


def test_download_needs_a_mirror(tmp_path, monkeypatch):
    monkeypatch.delenv(manager.MIRROR_ENV, raising=False)
    with pytest.raises(manager.ModelManagerError, match="no mirror configured; nothing is"):
        manager.download("wav2lip_gan", tmp_path)


def test_download_resumes_an_interrupted_transfer_and_loads(
    tmp_path, mirror_factory, real_wav2lip, capsys
):
    from lipsync.cli import main
    from lipsync.engines import get_engine

    mirror = mirror_factory({"models/wav2lip_gan.pth": real_wav2lip})
    cut = len(real_wav2lip) // 3
    mirror.drop_after["models/wav2lip_gan.pth"] = [cut]
    root = tmp_path / "models"
    code = main(
        [
            "models",
            "--model-dir",
            str(root),
            "download",
            "wav2lip_gan",
            "--from",
            mirror.url + "/models",
        ]
    )
    assert code == 0, capsys.readouterr()
    assert mirror.requests == [
        ("models/wav2lip_gan.pth", None),
        ("models/wav2lip_gan.pth", f"bytes={cut}-"),
    ]
    assert (root / "wav2lip_gan.pth").read_bytes() == real_wav2lip
    assert not (root / "wav2lip_gan.pth.part").exists()
    assert "installed wav2lip_gan.pth" in capsys.readouterr().out
    engine = get_engine("wav2lip", device="cpu", model_dir=root)
    engine.check_ready()
    assert engine.load_count == 1


def test_download_continues_in_a_later_run_and_from_a_template(tmp_path, mirror_factory):
    data = b"x" * 10_000
    manifest = parse_manifest(
        {
            "models": {
                "blob": {
                    "files": [
                        {
                            "path": "blobs/blob.bin",
                            "check": "file",
                            "sha256": hashlib.sha256(data).hexdigest(),
                            "hub": {"repo": "org/repo", "file": "sub/blob.bin"},
                        }
                    ]
                }
            }
        }
    )
    mirror = mirror_factory({"org/repo/resolve/main/sub/blob.bin": data})
    mirror.drop_after["org/repo/resolve/main/sub/blob.bin"] = [4000]
    template = mirror.url + "/{repo}/resolve/main/{file}"
    with pytest.raises(DownloadError, match="4000 bytes kept in .*run the command again"):
        manager.download("blob", tmp_path, source=template, retries=0, manifest=manifest)
    assert (tmp_path / "blobs" / "blob.bin.part").stat().st_size == 4000
    seen = []
    manager.download(
        "blob",
        tmp_path,
        source=template,
        manifest=manifest,
        progress=lambda label, done, total: seen.append((done, total)),
    )
    assert mirror.requests[-1][1] == "bytes=4000-"
    assert (tmp_path / "blobs" / "blob.bin").read_bytes() == data
    assert seen[0] == (4000, 10_000) and seen[-1] == (10_000, 10_000)


def test_download_with_wrong_bytes_is_refused_and_not_kept(tmp_path, mirror_factory):
    manifest = parse_manifest(
        {"models": {"blob": {"files": [{"path": "b.bin", "check": "file", "sha256": "ab" * 32}]}}}
    )
    mirror = mirror_factory({"b.bin": b"not the published bytes"})
    with pytest.raises(InvalidModelError, match="does not match the published"):
        manager.download("blob", tmp_path, source=mirror.url, manifest=manifest)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    mirror.files = {}
    with pytest.raises(DownloadError, match="HTTP 404"):
        manager.download("blob", tmp_path, source=mirror.url, manifest=manifest)


# ----------------------------------------------------------------------------- bundles


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_import_an_offline_bundle(tmp_path, musetalk_meta):
    files = {
        f"models/{p.relative_to(musetalk_meta).as_posix()}": p.read_bytes()
        for p in sorted(musetalk_meta.rglob("*"))
        if p.is_file()
    }
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in files.items())
    bundle = _tar(tmp_path / "models.tar.gz", {**files, "models/SHA256SUMS": sums.encode()})
    root = tmp_path / "site"
    installed = manager.import_bundle(bundle, root)
    assert "musetalkV15/unet.pth" in installed and "whisper/config.json" in installed
    assert _names(manager.engine_status(root))["musetalk15"].usable


def test_bundles_are_refused_when_damaged_or_unsafe(tmp_path, musetalk_meta):
    unet = (musetalk_meta / "musetalkV15" / "unet.pth").read_bytes()
    config = (musetalk_meta / "musetalkV15" / "musetalk.json").read_bytes()
    good = {"musetalkV15/unet.pth": unet, "musetalkV15/musetalk.json": config}
    sums = f"{'0' * 64}  musetalkV15/unet.pth\n".encode()
    root = tmp_path / "site"
    with pytest.raises(InvalidModelError, match="does not match SHA256SUMS"):
        manager.import_bundle(_tar(tmp_path / "a.tar", {**good, "SHA256SUMS": sums}), root)
    with pytest.raises(manager.ModelManagerError, match="outside the bundle"):
        manager.import_bundle(_tar(tmp_path / "b.tar", {**good, "../evil.pth": b"x"}), root)
    with pytest.raises(manager.ModelManagerError, match="no known model has: notes.txt"):
        manager.import_bundle(_tar(tmp_path / "c.tar", {**good, "notes.txt": b"x"}), root)
    assert not (root / "musetalkV15").exists()


def test_bundle_round_trip(tmp_path):
    src = tmp_path / "one"
    manager.add(modelgen.save_wav2lip(tmp_path / "wav2lip_gan.pth"), src)
    assert manager.make_bundle(tmp_path / "out.tar", model_dir=src) == ["wav2lip_gan.pth"]
    with tarfile.open(tmp_path / "out.tar") as tar:
        assert sorted(tar.getnames()) == ["SHA256SUMS", "wav2lip_gan.pth"]
    assert manager.import_bundle(tmp_path / "out.tar", tmp_path / "two") == ["wav2lip_gan.pth"]


# ----------------------------------------------------------------------------- before tracking


def test_weights_are_checked_before_any_face_tracking(tmp_path, face_clip, speech_wav, capsys):
    from lipsync.cli import main

    models = tmp_path / "models"
    models.mkdir()
    key = "audio_encoder.0.conv_block.0.weight"
    state = modelgen.wav2lip_state(meta=False)
    del state[key]
    torch.save({"state_dict": state}, models / "wav2lip_gan.pth")
    cache = tmp_path / "tracks"
    import os

    os.environ[manager.MODEL_DIR_ENV] = str(models)
    try:
        code = main(
            [
                "render",
                "--engine",
                "wav2lip",
                "--device",
                "cpu",
                "--audio",
                str(speech_wav),
                "--video",
                str(face_clip.path),
                "--out",
                str(tmp_path / "out"),
                "--cache-dir",
                str(cache),
            ]
        )
    finally:
        del os.environ[manager.MODEL_DIR_ENV]
    assert code == 1
    assert f"key {key!r} missing" in capsys.readouterr().out
    assert not cache.exists()  # no presenter was tracked


def test_manifest_is_consistent():
    manifest = load_manifest()
    from lipsync.models.checks import get_check

    for model, f in manifest.files():
        get_check(f.check)  # every check kind exists
        assert f.approx_bytes, f.path
        assert model.licence and model.get
    assert manifest.engines["wav2lip"].commercial == "no"
    assert manifest.trackers["insightface"].commercial == "no"
    assert manifest.engines["musetalk15"].commercial == "unclear"
