"""The model manager: what is installed under ``LIPSYNC_MODEL_DIR``, and installing more.

Everything is driven by the manifest (:mod:`lipsync.models.manifest`). Nothing here contacts
a server unless asked: :func:`download` fetches only from the mirror an operator names
(``--from URL`` or ``LIPSYNC_MODEL_MIRROR``); :func:`add` and :func:`import_bundle` install
files an administrator brought (a file, a folder, or a tar carried into an air-gapped site).

Every file is checked before it is put in place (structure: every key and shape, strictly;
the manifest's SHA-256 where one is known), written to a temporary name and renamed, and its
size and SHA-256 are recorded in ``<model dir>/.lipsync-models.json``. :func:`verify` checks
the structure again and compares each file with its recorded and published hashes.

The studio's "Engines and models" page uses :func:`engine_status` (and :func:`model_status`,
:func:`tracker_status`); the batch form :func:`usable_engines`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import quote

from ..errors import InvalidModelError, LipsyncError, ModelNotFoundError
from .checks import run_check
from .manifest import Commercial, Component, Manifest, Model, ModelFile, load_manifest

MODEL_DIR_ENV = "LIPSYNC_MODEL_DIR"
MIRROR_ENV = "LIPSYNC_MODEL_MIRROR"
LOCK_NAME = ".lipsync-models.json"
#: SHA-256 of ``SHA256SUMS`` lines in a bundle (``sha256sum`` format) are checked on import.
SUMS_NAME = "SHA256SUMS"
CHUNK = 1 << 20

#: (what, bytes done, bytes in all or None) for byte-level progress bars.
BytesProgress = Callable[[str, int, int | None], None]


class ModelManagerError(LipsyncError):
    """A model operation cannot be done as asked (unknown name, no mirror, bad bundle)."""


def default_model_dir() -> Path:
    """``$LIPSYNC_MODEL_DIR``, else ``models/`` at the top of the checkout (as the studio)."""
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "models"


def resolve_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    return Path(model_dir).expanduser() if model_dir else default_model_dir()


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class FileStatus:
    """One manifest file under the model directory."""

    path: str  # relative, as in the manifest
    found: str | None  # absolute path of the file or alternative present, else None
    bytes: int | None  # its size when present
    approx_bytes: int | None
    sha256: str | None  # published (manifest), if known
    recorded_sha256: str | None  # from the last add/download/import/verify
    #: True: recorded by add/download/import/verify and unchanged since (same size and mtime);
    #: False: changed since it was recorded; None: never recorded (copied in by hand).
    verified: bool | None

    @property
    def present(self) -> bool:
        return self.found is not None


@dataclass(frozen=True)
class ModelStatus:
    name: str
    title: str
    present: bool  # every file there
    files: list[FileStatus]
    missing: list[str]  # relative paths not there
    approx_bytes: int
    homepage: str
    get: str
    licence: str
    commercial: Commercial
    verified: bool | None  # all files verified (None if any never was)


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine (or face tracker) can run with the models of this install.

    ``missing`` lists the model-directory relative paths still needed (for a choice such as
    Wav2Lip's GAN-or-plain checkpoint, the preferred one); ``where`` is the model directory
    they go into. ``licence_note`` is the one line the batch form shows beside the engine;
    ``licence_text`` the paragraph of the admin page. ``commercial`` is "yes", "no" or
    "unclear" (a stable key a user interface can translate).
    """

    name: str
    kind: str  # "engine" or "tracker"
    title: str
    usable: bool
    needs_weights: bool
    missing: list[str]
    optional_missing: list[str]
    where: str
    licence: str
    commercial: Commercial
    licence_note: str
    licence_text: str
    models: list[ModelStatus] = field(default_factory=list)
    #: Models in use: for each requirement group the one picked, plus optional ones present.
    using: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """One English line for logs and the CLI."""
        if self.usable:
            return "usable" + (f" (using {', '.join(self.using)})" if self.using else "")
        return f"missing {', '.join(self.missing)} in {self.where}"


# ----------------------------------------------------------------------------- the lock file


def _lock_path(root: Path) -> Path:
    return root / LOCK_NAME


def read_lock(root: Path) -> dict[str, dict[str, Any]]:
    """Recorded files (relative path -> {sha256, bytes, mtime_ns, model, recorded_at})."""
    try:
        data = json.loads(_lock_path(root).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {str(k): v for k, v in files.items() if isinstance(v, dict)} if files else {}


def _write_lock(root: Path, files: dict[str, dict[str, Any]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=LOCK_NAME + ".", dir=root)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"format": 1, "files": files}, fh, indent=1, sort_keys=True)
    os.replace(tmp, _lock_path(root))


def _record(root: Path, rel: str, path: Path, sha256: str, model: str) -> None:
    files = read_lock(root)
    st = path.stat()
    files[rel] = {
        "sha256": sha256,
        "bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "model": model,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_lock(root, files)


def _unchanged(entry: dict[str, Any] | None, path: Path) -> bool | None:
    if not entry:
        return None
    st = path.stat()
    return bool(entry.get("bytes") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns)


# ----------------------------------------------------------------------------- status


def _file_status(root: Path, f: ModelFile, lock: dict[str, dict[str, Any]]) -> FileStatus:
    found = f.found(root)
    rel = found.relative_to(root).as_posix() if found else f.path
    entry = lock.get(rel)
    return FileStatus(
        path=f.path,
        found=str(found) if found else None,
        bytes=found.stat().st_size if found else None,
        approx_bytes=f.approx_bytes,
        sha256=f.sha256,
        recorded_sha256=entry.get("sha256") if entry else None,
        verified=_unchanged(entry, found) if found else None,
    )


def _model_status(root: Path, model: Model, lock: dict[str, dict[str, Any]]) -> ModelStatus:
    files = [_file_status(root, f, lock) for f in model.files]
    flags = [f.verified for f in files]
    return ModelStatus(
        name=model.name,
        title=model.title,
        present=all(f.present for f in files),
        files=files,
        missing=[f.path for f in files if not f.present],
        approx_bytes=model.approx_bytes,
        homepage=model.homepage,
        get=model.get,
        licence=model.licence,
        commercial=model.commercial,
        verified=None if None in flags else all(bool(v) for v in flags),
    )


def model_status(
    model_dir: str | os.PathLike[str] | None = None, manifest: Manifest | None = None
) -> list[ModelStatus]:
    """Every model of the manifest and which of its files are present (cheap: no hashing)."""
    manifest = manifest or load_manifest()
    root = resolve_model_dir(model_dir)
    lock = read_lock(root)
    return [_model_status(root, m, lock) for m in manifest.models.values()]


def _component_status(
    root: Path, comp: Component, by_name: dict[str, ModelStatus], needs_weights: bool
) -> EngineStatus:
    missing: list[str] = []
    using: list[str] = []
    models: list[ModelStatus] = []
    for group in comp.requires:
        present = [by_name[m] for m in group if by_name[m].present]
        if present:
            using.append(present[0].name)
            models.append(present[0])
        else:
            missing.extend(by_name[group[0]].missing)
            models.append(by_name[group[0]])
    optional_missing: list[str] = []
    for name in comp.optional:
        status = by_name[name]
        models.append(status)
        if status.present:
            using.append(name)
        else:
            optional_missing.extend(status.missing)
    return EngineStatus(
        name=comp.name,
        kind=comp.kind,
        title=comp.title,
        usable=not missing,
        needs_weights=needs_weights,
        missing=missing,
        optional_missing=optional_missing,
        where=str(root),
        licence=comp.licence,
        commercial=comp.commercial,
        licence_note=comp.licence_note,
        licence_text=comp.licence_text,
        models=models,
        using=using,
    )


def engine_status(
    model_dir: str | os.PathLike[str] | None = None, manifest: Manifest | None = None
) -> list[EngineStatus]:
    """Every engine (built in or registered), in name order, with whether this install can
    run it.

    Engines the manifest describes are judged by it alone, without importing them (the neural
    ones import torch, which a web page listing them should not pay for); the others fall back
    on their own :meth:`~lipsync.engines.base.Engine.weights_available`.
    """
    from ..engines.base import engine_names, get_engine_class

    manifest = manifest or load_manifest()
    root = resolve_model_dir(model_dir)
    lock = read_lock(root)
    by_name = {m.name: _model_status(root, m, lock) for m in manifest.models.values()}
    out = []
    known = set(engine_names())
    for name in sorted(known | set(manifest.engines)):
        comp = manifest.engines.get(name)
        if comp is not None:
            status = _component_status(root, comp, by_name, bool(comp.requires))
            # described, but not in this build: listed, never offered
            out.append(status if name in known else replace(status, usable=False))
            continue
        cls = get_engine_class(name)
        usable = cls.weights_available(root)
        out.append(
            EngineStatus(
                name=name,
                kind="engine",
                title=name,
                usable=usable,
                needs_weights=cls.needs_weights,
                missing=[] if usable else ["(see the engine's documentation)"],
                optional_missing=[],
                where=str(root),
                licence="not described in the manifest",
                commercial="unclear",
                licence_note="",
                licence_text="",
            )
        )
    return out


def tracker_status(
    model_dir: str | os.PathLike[str] | None = None, manifest: Manifest | None = None
) -> list[EngineStatus]:
    """The face trackers (dlib, insightface) and whether their models are installed."""
    manifest = manifest or load_manifest()
    root = resolve_model_dir(model_dir)
    lock = read_lock(root)
    by_name = {m.name: _model_status(root, m, lock) for m in manifest.models.values()}
    return [
        _component_status(root, comp, by_name, bool(comp.requires))
        for comp in manifest.trackers.values()
    ]


def usable_engines(model_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the engines whose required models are all present."""
    return [s.name for s in engine_status(model_dir) if s.usable]


def component_ready(
    name: str,
    model_dir: str | os.PathLike[str] | None = None,
    manifest: Manifest | None = None,
) -> bool:
    """Whether the engine or tracker ``name`` has every required model file present."""
    manifest = manifest or load_manifest()
    comp = manifest.engines.get(name) or manifest.trackers.get(name)
    if comp is None:
        raise KeyError(name)
    root = resolve_model_dir(model_dir)
    return all(
        any(all(f.found(root) for f in manifest.model(m).files) for m in group)
        for group in comp.requires
    )


# ----------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking one model: ``problems`` (errors) and ``notes`` (warnings)."""

    model: str
    present: bool
    ok: bool
    problems: list[str]
    notes: list[str]


def sha256_file(path: str | os.PathLike[str], progress: BytesProgress | None = None) -> str:
    digest = hashlib.sha256()
    total = os.path.getsize(path)
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(Path(path).name, done, total)
    return digest.hexdigest()


def _finder(*roots: Path) -> Callable[[str], Path | None]:
    """Looks a model-directory relative path (or its alternatives) up in ``roots``, in order."""
    manifest = load_manifest()
    alts = {f.path: f.names for _, f in manifest.files()}

    def find(rel: str) -> Path | None:
        for root in roots:
            for name in alts.get(rel, (rel,)):
                if (root / name).is_file():
                    return root / name
        return None

    return find


def _hash_problem(f: ModelFile, sha: str, path: Path) -> tuple[str | None, str | None]:
    """(problem, note) of a file's SHA-256 against the manifest's."""
    if f.sha256 is None or sha == f.sha256 or path.name != PurePosixPath(f.path).name:
        return None, None  # no published hash, a match, or an alternative (other bytes)
    if f.sha256_source == "secondary":
        return None, (
            f"{path.name}: SHA-256 {sha[:12]}... differs from the value published by a third "
            f"party ({f.sha256[:12]}...); the structure is right, so it may be another release"
        )
    return (
        f"{path.name}: SHA-256 {sha} does not match the published {f.sha256}; replace it",
        None,
    )


def verify(
    model_dir: str | os.PathLike[str] | None = None,
    names: Iterable[str] | None = None,
    *,
    hashes: bool = True,
    progress: BytesProgress | None = None,
    manifest: Manifest | None = None,
) -> list[VerifyResult]:
    """Check every present model (or ``names``): structure strictly, then SHA-256 against the
    recorded value (a changed file is a problem) and the published one.

    Files that pass are recorded, so :class:`FileStatus.verified` is then True.
    """
    manifest = manifest or load_manifest()
    root = resolve_model_dir(model_dir)
    find = _finder(root)
    models = [manifest.model(n) for n in names] if names else list(manifest.models.values())
    results = []
    for model in models:
        problems: list[str] = []
        notes: list[str] = []
        found = [(f, f.found(root)) for f in model.files]
        present = all(p is not None for _, p in found)
        if not any(p is not None for _, p in found):
            if names:
                problems.append(f"{model.name}: not installed (missing {model.files[0].path})")
            results.append(VerifyResult(model.name, False, not names, problems, notes))
            continue
        lock = read_lock(root)
        for f, path in found:
            if path is None:
                problems.append(f"{f.path}: missing ({model.title} needs it)")
                continue
            try:
                run_check(f.check, path, find)
            except ModelNotFoundError as exc:  # includes InvalidModelError
                problems.append(str(exc))
                continue
            if not hashes:
                continue
            sha = sha256_file(path, progress)
            rel = path.relative_to(root).as_posix()
            entry = lock.get(rel)
            if entry and entry.get("sha256") not in (None, sha):
                problems.append(
                    f"{path.name}: changed since it was installed (SHA-256 {sha[:12]}..., "
                    f"recorded {str(entry['sha256'])[:12]}...); replace or re-add it"
                )
                continue
            problem, note = _hash_problem(f, sha, path)
            if problem:
                problems.append(problem)
                continue
            if note:
                notes.append(note)
            _record(root, rel, path, sha, model.name)
        results.append(VerifyResult(model.name, present, present and not problems, problems, notes))
    return results


# ----------------------------------------------------------------------------- installing


def _copy_hashing(
    src: IO[bytes], dest: Path, label: str, total: int | None, progress: BytesProgress | None
) -> str:
    """Copy a stream into ``dest`` (fsync'd), returning its SHA-256."""
    digest = hashlib.sha256()
    done = 0
    with open(dest, "wb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(label, done, total)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


@dataclass
class _Staged:
    model: Model
    file: ModelFile
    rel: str  # where it goes (the manifest path or the alternative it is)
    path: Path  # the staged copy
    sha256: str
    origin: str  # what to name in messages (the source file, URL or bundle member)


def _stage_path(tmp: Path, i: int, name: str) -> Path:
    """A staged copy keeps its file name (messages name it), one folder per file."""
    folder = tmp / f"in-{i}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _check_sha(item: _Staged) -> None:
    problem, _ = _hash_problem(item.file, item.sha256, Path(item.rel))
    if problem:
        raise InvalidModelError(problem)


def _install(root: Path, staged: list[_Staged], tmp: Path) -> list[str]:
    """Check staged files (configs first), then move them into place and record them.

    Weight files find their configs among the staged files first, then among the installed.
    """
    tree = tmp / "tree"
    for item in staged:  # the staged files laid out as a model folder, for config lookups
        link = tree / item.rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            os.link(item.path, link)
    find = _finder(tree, root)
    order = sorted(staged, key=lambda s: (not s.file.check.endswith("config"), s.rel))
    for item in order:
        try:
            _check_sha(item)
            run_check(item.file.check, item.path, find)
        except ModelNotFoundError as exc:  # name the file the admin gave, not our copy
            raise type(exc)(str(exc).replace(str(item.path), item.origin)) from exc
    done = []
    for item in order:
        dest = root / item.rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(item.path, dest)
        _record(root, item.rel, dest, item.sha256, item.model.name)
        done.append(item.rel)
    return done


@contextlib.contextmanager
def _staging(root: Path) -> Iterator[Path]:
    """A temporary folder inside the model directory (same file system: renames are atomic)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _candidates(
    path: Path, manifest: Manifest, only: str | None
) -> list[tuple[Model, ModelFile, str]]:
    """Manifest files a file could be, by its name."""
    found = []
    for model, f in manifest.files():
        if only and model.name != only:
            continue
        for rel in f.names:
            if PurePosixPath(rel).name == path.name:
                found.append((model, f, rel))
    return found


def _pick(
    files: list[Path], manifest: Manifest, only: str | None
) -> tuple[list[tuple[Path, Model, ModelFile, str]], list[str]]:
    """Match files to manifest entries. A name several models use (``config.json``) goes to
    the model its folder's other files belong to (or the folder's name says)."""
    picks: list[tuple[Path, Model, ModelFile, str]] = []
    skipped: list[str] = []
    by_folder: dict[Path, list[Path]] = {}
    for path in files:
        by_folder.setdefault(path.parent, []).append(path)
    for folder, paths in by_folder.items():
        votes: dict[str, int] = {}
        for path in paths:
            cands = _candidates(path, manifest, only)
            if len({m.name for m, _, _ in cands}) == 1:
                votes[cands[0][0].name] = votes.get(cands[0][0].name, 0) + 1
        for path in paths:
            cands = _candidates(path, manifest, only)
            if not cands:
                skipped.append(path.name)
                continue
            if len({m.name for m, _, _ in cands}) > 1:
                by_dir = [c for c in cands if PurePosixPath(c[2]).parent.name == folder.name]
                voted = [c for c in cands if votes.get(c[0].name)]
                narrowed = by_dir if len(by_dir) == 1 else voted
                if len({m.name for m, _, _ in narrowed}) != 1:
                    options = ", ".join(sorted({m.name for m, _, _ in cands}))
                    raise ModelManagerError(
                        f"{path.name}: could be a file of {options}; add its whole folder "
                        "or say which with --as NAME"
                    )
                cands = narrowed
            picks.append((path, *cands[0]))
    return picks, skipped


def add(
    source: str | os.PathLike[str],
    model_dir: str | os.PathLike[str] | None = None,
    *,
    model: str | None = None,
    progress: BytesProgress | None = None,
    manifest: Manifest | None = None,
) -> list[str]:
    """Install a model file, or a folder of them, that an administrator has at hand.

    Each file is matched to the manifest by its name (a name several models use, such as
    ``config.json``, by its folder, or by ``model=``), copied to a temporary name, checked
    (structure and published SHA-256), then renamed into place. A wrong file is refused with
    the reason and nothing is installed. Returns the relative paths installed.
    """
    manifest = manifest or load_manifest()
    root = resolve_model_dir(model_dir)
    src = Path(source).expanduser()
    if model is not None:
        manifest.model(model)
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith("."))
    elif src.is_file():
        files = [src]
    else:
        raise ModelManagerError(f"{src.name}: no such file or folder ({src})")
    picks, skipped = _pick(files, manifest, model)
    if not picks:
        raise ModelManagerError(
            f"{src.name}: not a file of any known model"
            + (f" (looked at {', '.join(skipped[:5])})" if skipped else "")
            + "; see `python -m lipsync models list` for the file names"
        )
    seen: dict[str, Path] = {}
    for path, _, _, rel in picks:
        if rel in seen:
            raise ModelManagerError(f"{path.name}: found twice ({seen[rel]} and {path})")
        seen[rel] = path
    with _staging(root) as tmp:
        staged = []
        for i, (path, m, f, rel) in enumerate(picks):
            dest = _stage_path(tmp, i, path.name)
            with open(path, "rb") as fh:
                sha = _copy_hashing(fh, dest, path.name, path.stat().st_size, progress)
            staged.append(_Staged(m, f, rel, dest, sha, str(path)))
        return _install(root, staged, tmp)


def mirror_url(source: str, f: ModelFile) -> str:
    """The URL of ``f`` on a mirror: a template with ``{path}``, ``{repo}``, ``{file}``,
    ``{name}``, or a base URL the model-directory relative path is appended to."""
    if "{" in source:
        if ("{repo}" in source or "{file}" in source) and f.hub is None:
            raise ModelManagerError(
                f"{f.path}: this file has no hub location, so the URL template {source} "
                "cannot name it; use a mirror laid out like the model folder"
            )
        return source.format(
            path=quote(f.path),
            repo=f.hub.repo if f.hub else "",
            file=quote(f.hub.file) if f.hub else "",
            name=quote(PurePosixPath(f.path).name),
        )
    return source.rstrip("/") + "/" + quote(f.path)


def download(
    name: str,
    model_dir: str | os.PathLike[str] | None = None,
    *,
    source: str | None = None,
    progress: BytesProgress | None = None,
    retries: int = 4,
    manifest: Manifest | None = None,
) -> list[str]:
    """Fetch model ``name`` from the operator's mirror (``source`` or ``LIPSYNC_MODEL_MIRROR``).

    Resumes interrupted transfers (HTTP Range) from ``<file>.part``, checks the published
    SHA-256 and the structure, then installs. Never called without a mirror configured.
    """
    from .download import fetch

    manifest = manifest or load_manifest()
    model = manifest.model(name)
    source = source or os.environ.get(MIRROR_ENV)
    if not source:
        raise ModelManagerError(
            f"{name}: no mirror configured; nothing is downloaded by default. Pass --from URL "
            f"(an internal server laid out like the model folder, or a template such as "
            f"https://hub.example/{{repo}}/resolve/main/{{file}}) or set {MIRROR_ENV}"
        )
    root = resolve_model_dir(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    staged = []
    for f in model.files:
        dest = root / f.path
        url = mirror_url(source, f)

        def report(done: int, total: int | None, label: str = f.path) -> None:
            if progress is not None:
                progress(label, done, total)

        part, sha = fetch(url, dest, progress=report, retries=retries)
        staged.append(_Staged(model, f, f.path, part, sha, url))
    try:
        with _staging(root) as tmp:
            return _install(root, staged, tmp)
    except LipsyncError:
        for item in staged:  # wrong bytes: do not resume them next time
            item.path.unlink(missing_ok=True)
        raise


def _bundle_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for info in tar.getmembers():
        if info.isdir():
            continue
        name = PurePosixPath(info.name)
        if info.issym() or info.islnk() or not info.isfile():
            raise ModelManagerError(f"{info.name}: links and special files are not accepted")
        if name.is_absolute() or ".." in name.parts:
            raise ModelManagerError(f"{info.name}: a path outside the bundle is not accepted")
        members.append(info)
    return members


def _strip_top(names: list[str], known: set[str]) -> str:
    """A leading folder shared by every member that is not itself a model folder."""
    tops = {PurePosixPath(n).parts[0] for n in names if len(PurePosixPath(n).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in names):
        top = tops.pop()
        known_tops = {PurePosixPath(k).parts[0] for k in known}
        if top not in known_tops or not any(
            PurePosixPath(*PurePosixPath(n).parts[1:]).as_posix() not in known for n in names
        ):
            return top + "/"
    return ""


def import_bundle(
    bundle: str | os.PathLike[str],
    model_dir: str | os.PathLike[str] | None = None,
    *,
    progress: BytesProgress | None = None,
    manifest: Manifest | None = None,
) -> list[str]:
    """Install the models in a tar (plain, gz, bz2 or xz) an administrator carried in.

    Members are laid out like the model folder (optionally under one top folder such as
    ``models/``). A ``SHA256SUMS`` member, when present, is checked too. Every file is checked
    before anything is installed: one bad file refuses the whole bundle. Unknown members are
    refused as well (a bundle is meant for this manifest). Returns the relative paths installed.
    """
    manifest = manifest or load_manifest()
    root = resolve_model_dir(model_dir)
    bundle = Path(bundle).expanduser()
    targets: dict[str, tuple[Model, ModelFile]] = {}
    for m, f in manifest.files():
        for rel in f.names:
            targets[rel] = (m, f)
    try:
        tar = tarfile.open(bundle, "r:*")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise ModelManagerError(f"{bundle.name}: not a readable tar bundle ({exc})") from exc
    with tar, _staging(root) as tmp:
        members = _bundle_members(tar)
        top = _strip_top([m.name for m in members], set(targets))
        sums: dict[str, str] = {}
        staged: list[_Staged] = []
        unknown: list[str] = []
        for info in members:
            rel = PurePosixPath(info.name.removeprefix("./")).as_posix().removeprefix(top)
            if rel == SUMS_NAME:
                fh = tar.extractfile(info)
                assert fh is not None  # a regular file
                for line in fh.read().decode("utf-8", "replace").splitlines():
                    digest, _, name = line.strip().partition(" ")
                    if digest and name:
                        sums[name.strip().lstrip("*").removeprefix("./")] = digest.lower()
                continue
            if rel not in targets:
                unknown.append(rel)
                continue
            model, f = targets[rel]
            dest = _stage_path(tmp, len(staged), PurePosixPath(rel).name)
            fh = tar.extractfile(info)
            assert fh is not None
            with fh:
                sha = _copy_hashing(fh, dest, rel, info.size, progress)
            staged.append(_Staged(model, f, rel, dest, sha, f"{bundle.name}:{info.name}"))
        if unknown:
            raise ModelManagerError(
                f"{bundle.name}: holds files no known model has: {', '.join(unknown[:5])}"
                + (" ..." if len(unknown) > 5 else "")
            )
        if not staged:
            raise ModelManagerError(f"{bundle.name}: holds no model files")
        for item in staged:
            want = sums.get(item.rel) or sums.get(top + item.rel)
            if want and want != item.sha256:
                raise InvalidModelError(
                    f"{PurePosixPath(item.rel).name}: SHA-256 {item.sha256} does not match "
                    f"{SUMS_NAME} of {bundle.name} ({want}); the bundle is damaged"
                )
        return _install(root, staged, tmp)


def make_bundle(
    out: str | os.PathLike[str],
    names: Iterable[str] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    *,
    progress: BytesProgress | None = None,
    manifest: Manifest | None = None,
) -> list[str]:
    """Pack installed models (all present ones, or ``names``) into a tar with ``SHA256SUMS``,
    for carrying to an air-gapped site (``import`` it there). Returns the packed paths."""
    manifest = manifest or load_manifest()
    root = resolve_model_dir(model_dir)
    models = [manifest.model(n) for n in names] if names else list(manifest.models.values())
    files: list[tuple[str, Path]] = []
    for model in models:
        found = [(f, f.found(root)) for f in model.files]
        if not all(p for _, p in found):
            if names:
                missing = [f.path for f, p in found if p is None]
                raise ModelManagerError(f"{model.name}: not installed (missing {missing[0]})")
            continue
        files.extend((p.relative_to(root).as_posix(), p) for _, p in found if p is not None)
    if not files:
        raise ModelManagerError(f"no installed models to pack in {root}")
    out = Path(out)
    sums = []
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, "w") as tar:
        for rel, path in files:
            sums.append(f"{sha256_file(path, progress)}  {rel}")
            tar.add(path, arcname=rel, recursive=False)
        data = ("\n".join(sums) + "\n").encode()
        info = tarfile.TarInfo(SUMS_NAME)
        info.size = len(data)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)
    return [rel for rel, _ in files]
