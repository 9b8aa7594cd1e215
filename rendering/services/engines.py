"""What engines and face trackers can run: on this server and on each live worker.

The "Engines and models" page (staff only, ``/engines/``) and the batch form read this.

* **This server**: :func:`lipsync.models.manager.engine_status` and ``tracker_status`` on
  ``LIPSYNC_MODEL_DIR`` (:func:`model_dir`), read on every request. That is a few ``stat``
  calls and the model folder's record file: no hashing (``models verify`` does that) and no
  torch import.
* **Workers**: render workers may run on other hosts with their own model folder (README, "GPU
  workers on other hosts"). Each :class:`rendering.worker.StudioWorker` publishes
  :func:`worker_report` into its own RQ worker hash (field :data:`MODELS_FIELD`) when it
  starts and on every idle heartbeat (every ``RECONCILE_INTERVAL_S`` seconds), so the report
  disappears with the worker and follows files installed while it runs. :func:`live_workers`
  reads them back.

The batch form offers the engines *this server's* folder can run (``usable_engines``); the
page says where a worker disagrees, because such a worker fails those renders at once with the
missing file named (``Engine.check_ready``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError
from rq import Worker

from lipsync.engines.base import DEFAULT_ENGINE
from lipsync.models import manager
from lipsync.models.manifest import Component, Manifest, load_manifest
from studio import queues
from studio.queues import QueueName

from ..engine_texts import commercial_label, manifest_text
from ..labels import engine_label
from .queue_status import WorkerInfo

log = logging.getLogger("rendering.engines")

#: The field of a worker's RQ hash holding its report (JSON, :func:`worker_report`).
MODELS_FIELD = "models"
REPORT_FORMAT = 1
#: How the page writes the CLI (run in the studio's folder on the server).
CLI = ".venv/bin/python -m lipsync models"


# ----------------------------------------------------------------------------- this server


@dataclass(frozen=True)
class FileRow:
    """One file of a model under the model folder, as the page shows it."""

    path: str  # model-folder relative, as the manifest names it
    found: str  # relative path of the file (or accepted alternative) present, else ""
    size: int | None  # bytes on disk when present
    approx_size: int | None  # the manifest's expected size
    #: "verified" (recorded by add/download/import/verify, unchanged since), "changed"
    #: (differs from what was recorded), "unrecorded" (copied in by hand), "missing".
    state: str
    sha256: str  # the recorded SHA-256, "" when none
    published: bool  # a published SHA-256 is known for this file
    matches_published: bool | None  # recorded == published (None: one of them unknown)


@dataclass(frozen=True)
class ModelRow:
    name: str
    title: str
    present: bool
    optional: bool
    alternative: bool  # one of several models any of which will do (Wav2Lip GAN or plain)
    in_use: bool
    files: list[FileRow]
    get: str
    homepage: str
    licence: str
    commercial: str
    commercial_label: str
    install: str  # the `add` command for it ("" when present)
    download: str  # the `download` command for it


@dataclass(frozen=True)
class ComponentRow:
    """An engine or a face tracker on this server, in the reader's language."""

    name: str
    kind: str  # "engine" or "tracker"
    title: str
    usable: bool
    needs_weights: bool
    missing: list[str]
    optional_missing: list[str]
    licence: str
    commercial: str
    commercial_label: str
    licence_note: str
    licence_text: str
    models: list[ModelRow]


@dataclass(frozen=True)
class EngineChoice:
    """One engine of the batch form: may it be chosen, and its licence note."""

    name: str
    label: str
    usable: bool
    commercial: str
    licence_note: str


def model_dir() -> Path:
    """The model folder the engines of this process use: ``LIPSYNC_MODEL_DIR`` (settings hands
    it to the engine through the environment)."""
    return manager.default_model_dir()


def _file_row(f: manager.FileStatus, root: Path) -> FileRow:
    if f.found is None:
        state = "missing"
    else:
        state = {True: "verified", False: "changed", None: "unrecorded"}[f.verified]
    matches = None
    if f.sha256 and f.recorded_sha256:
        matches = f.sha256 == f.recorded_sha256
    found = Path(f.found).relative_to(root).as_posix() if f.found else ""
    return FileRow(
        path=f.path,
        found=found,
        size=f.bytes,
        approx_size=f.approx_bytes,
        state=state,
        sha256=f.recorded_sha256 or "",
        published=bool(f.sha256),
        matches_published=matches,
    )


def _source_hint(model: manager.ModelStatus) -> str:
    """What to give ``models add``: the file, or the folder of a model of several files."""
    paths = [Path(f.path) for f in model.files]
    if len(paths) == 1:
        return paths[0].name
    return f"{paths[0].parent.as_posix()}/"


def _model_row(
    ms: manager.ModelStatus,
    root: Path,
    *,
    optional: bool,
    alternative: bool,
    using: list[str],
    mirror: str,
) -> ModelRow:
    cli = f"{CLI} --model-dir {root}"
    return ModelRow(
        name=ms.name,
        title=manifest_text(ms.title),
        present=ms.present,
        optional=optional,
        alternative=alternative,
        in_use=ms.name in using,
        files=[_file_row(f, root) for f in ms.files],
        get=manifest_text(ms.get),
        homepage=ms.homepage,
        licence=manifest_text(ms.licence),
        commercial=ms.commercial,
        commercial_label=commercial_label(ms.commercial),
        install="" if ms.present else f"{cli} add {_source_hint(ms)}",
        download=f"{cli} download {ms.name} --from {mirror or 'URL'}",
    )


def _component_row(
    status: manager.EngineStatus,
    comp: Component | None,
    models: dict[str, manager.ModelStatus],
    root: Path,
    mirror: str,
) -> ComponentRow:
    rows: list[ModelRow] = []
    if comp is not None:
        for group in comp.requires:
            for name in group:
                rows.append(
                    _model_row(
                        models[name],
                        root,
                        optional=False,
                        alternative=len(group) > 1,
                        using=status.using,
                        mirror=mirror,
                    )
                )
        for name in comp.optional:
            rows.append(
                _model_row(
                    models[name],
                    root,
                    optional=True,
                    alternative=False,
                    using=status.using,
                    mirror=mirror,
                )
            )
    return ComponentRow(
        name=status.name,
        kind=status.kind,
        title=manifest_text(status.title),
        usable=status.usable,
        needs_weights=status.needs_weights,
        missing=status.missing,
        optional_missing=status.optional_missing,
        licence=manifest_text(status.licence),
        commercial=status.commercial,
        commercial_label=commercial_label(status.commercial),
        licence_note=manifest_text(status.licence_note),
        licence_text=manifest_text(status.licence_text),
        models=rows,
    )


def _default_first(statuses: list[manager.EngineStatus]) -> list[manager.EngineStatus]:
    return sorted(statuses, key=lambda s: (s.name != DEFAULT_ENGINE, s.name))


def engine_choices() -> list[EngineChoice]:
    """The batch form's engines: the default first, each with whether this server can run it
    and its licence note in the reader's language."""
    statuses = _default_first(manager.engine_status(model_dir()))
    return [
        EngineChoice(
            name=s.name,
            label=engine_label(s.name),
            usable=s.usable,
            commercial=s.commercial,
            licence_note=manifest_text(s.licence_note),
        )
        for s in statuses
    ]


# ----------------------------------------------------------------------------- workers


def worker_report() -> dict[str, Any]:
    """What this process's model folder lets it run, as a worker publishes it (JSON-able)."""
    root = model_dir()
    components = [*manager.engine_status(root), *manager.tracker_status(root)]
    return {
        "format": REPORT_FORMAT,
        "model_dir": str(root),
        "reported_at": time.time(),
        "components": [
            {
                "name": s.name,
                "kind": s.kind,
                "usable": s.usable,
                "missing": s.missing,
                "optional_missing": s.optional_missing,
            }
            for s in components
        ],
    }


@dataclass(frozen=True)
class WorkerComponent:
    name: str
    kind: str
    usable: bool
    missing: list[str]
    optional_missing: list[str]
    #: "worker_only" (this worker can, the server's batch form does not offer it) or
    #: "server_only" (offered, but this render worker would fail it); "" when they agree.
    differs: str = ""


@dataclass(frozen=True)
class WorkerModels:
    """One live worker and what its model folder lets it run."""

    info: WorkerInfo
    renders: bool  # serves the gpu (render) queue
    model_dir: str = ""
    reported_at: datetime | None = None
    components: list[WorkerComponent] = field(default_factory=list)

    @property
    def reported(self) -> bool:
        return self.reported_at is not None

    @property
    def engines(self) -> list[WorkerComponent]:
        return [c for c in self.components if c.kind == "engine"]

    @property
    def trackers(self) -> list[WorkerComponent]:
        return [c for c in self.components if c.kind == "tracker"]


def _parse_report(raw: bytes | str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        return None
    return data


def _worker_components(
    data: dict[str, Any], server: dict[str, bool], renders: bool
) -> list[WorkerComponent]:
    out = []
    for item in data.get("components") or []:
        if not isinstance(item, dict) or "name" not in item:
            continue
        name, kind, usable = str(item["name"]), str(item.get("kind", "")), bool(item.get("usable"))
        differs = ""
        if renders and kind == "engine" and name in server and usable != server[name]:
            differs = "worker_only" if usable else "server_only"
        out.append(
            WorkerComponent(
                name=name,
                kind=kind,
                usable=usable,
                missing=[str(p) for p in item.get("missing") or []],
                optional_missing=[str(p) for p in item.get("optional_missing") or []],
                differs=differs,
            )
        )
    return out


def live_workers(server: dict[str, bool]) -> tuple[list[WorkerModels], str | None]:
    """Every live worker with its report; ``server`` maps engine names to whether this server
    can run them (for the disagreements). The second value is an error when Redis is down."""
    workers: list[WorkerModels] = []
    try:
        connection = queues.connection(QueueName.GPU)
        for worker in Worker.all(connection=connection):
            device, raw = connection.hmget(worker.key, ["device", MODELS_FIELD])
            info = WorkerInfo(
                name=worker.name,
                queues=worker.queue_names(),
                state=str(getattr(worker.get_state(), "value", worker.get_state())),
                device=device.decode() if isinstance(device, bytes) else (device or ""),
                current="",
                host=worker.hostname or "",
                pid=worker.pid,
            )
            renders = QueueName.GPU in info.queues
            data = _parse_report(raw)
            if data is None:
                workers.append(WorkerModels(info=info, renders=renders))
                continue
            workers.append(
                WorkerModels(
                    info=info,
                    renders=renders,
                    model_dir=str(data.get("model_dir", "")),
                    reported_at=datetime.fromtimestamp(float(data.get("reported_at", 0)), UTC),
                    components=_worker_components(data, server, renders),
                )
            )
    except RedisError as exc:
        log.warning("engines page: workers not readable: %s", exc)
        return workers, str(exc)
    workers.sort(key=lambda w: (not w.renders, w.info.label))
    return workers, None


# ----------------------------------------------------------------------------- the page


@dataclass(frozen=True)
class EnginesOverview:
    model_dir: str
    model_dir_exists: bool
    studio_dir: str  # where to run the CLI on this server
    cli: str  # the CLI with this server's model folder
    mirror: str  # LIPSYNC_MODEL_MIRROR, "" when none
    engines: list[ComponentRow]
    trackers: list[ComponentRow]
    workers: list[WorkerModels]
    workers_error: str | None

    @property
    def disagreements(self) -> bool:
        return any(c.differs for w in self.workers for c in w.components)


def overview(manifest: Manifest | None = None) -> EnginesOverview:
    """Everything the "Engines and models" page shows, texts in the active language."""
    manifest = manifest or load_manifest()
    root = model_dir()
    mirror = settings.LIPSYNC_MODEL_MIRROR
    models = {m.name: m for m in manager.model_status(root, manifest)}
    engines = _default_first(manager.engine_status(root, manifest))
    trackers = manager.tracker_status(root, manifest)
    workers, error = live_workers({s.name: s.usable for s in engines})
    return EnginesOverview(
        model_dir=str(root),
        model_dir_exists=root.is_dir(),
        studio_dir=str(settings.BASE_DIR),
        cli=f"{CLI} --model-dir {root}",
        mirror=mirror,
        engines=[
            _component_row(s, manifest.engines.get(s.name), models, root, mirror) for s in engines
        ],
        trackers=[
            _component_row(s, manifest.trackers.get(s.name), models, root, mirror) for s in trackers
        ],
        workers=workers,
        workers_error=error,
    )
