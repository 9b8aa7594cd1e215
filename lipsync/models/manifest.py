"""The manifest of known models (``manifest.json`` beside this file), as typed records.

A *model* is a set of files under the model directory (``LIPSYNC_MODEL_DIR``), each with its
place, approximate size, SHA-256 where a public one is known, and the structure check
:mod:`lipsync.models.checks` runs on it. A *component* (an engine or a face tracker) needs
groups of models: each group is satisfied by any one of its models (Wav2Lip: the GAN or the
plain checkpoint), and may use optional models.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
#: Whether a licence allows commercial use: yes, no, or not settled.
Commercial = Literal["yes", "no", "unclear"]


@dataclass(frozen=True)
class Hub:
    """Where a file lives on a model hub (for mirror URL templates: ``{repo}``, ``{file}``)."""

    repo: str
    file: str


@dataclass(frozen=True)
class ModelFile:
    """One file of a model. ``path`` is relative to the model directory (``/``-separated);
    ``alternatives`` are other accepted names (e.g. a ``.safetensors`` for a ``.bin``)."""

    path: str
    check: str
    approx_bytes: int | None = None
    sha256: str | None = None
    #: "primary" (the publisher's own) or "secondary" (a third party's, not confirmed).
    sha256_source: str = "primary"
    alternatives: tuple[str, ...] = ()
    hub: Hub | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.path, *self.alternatives)

    def found(self, root: str | os.PathLike[str]) -> Path | None:
        """The file (or an alternative) present under ``root``, else ``None``."""
        for name in self.names:
            path = Path(root) / name
            if path.is_file():
                return path
        return None


@dataclass(frozen=True)
class Model:
    name: str
    title: str
    files: tuple[ModelFile, ...]
    homepage: str
    get: str
    licence: str
    commercial: Commercial

    @property
    def approx_bytes(self) -> int:
        return sum(f.approx_bytes or 0 for f in self.files)


@dataclass(frozen=True)
class Component:
    """An engine or a face tracker and the models it needs."""

    name: str
    kind: Literal["engine", "tracker"]
    title: str
    #: Groups of model names; each group needs any one of its models.
    requires: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...]
    licence: str
    commercial: Commercial
    licence_note: str
    licence_text: str


@dataclass(frozen=True)
class Manifest:
    models: dict[str, Model]
    engines: dict[str, Component]
    trackers: dict[str, Component]

    def model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise KeyError(
                f"unknown model {name!r}; known: {', '.join(sorted(self.models))}"
            ) from None

    def files(self) -> list[tuple[Model, ModelFile]]:
        return [(m, f) for m in self.models.values() for f in m.files]

    def components(self) -> list[Component]:
        return [*self.engines.values(), *self.trackers.values()]


def _commercial(value: Any) -> Commercial:
    if value == "yes":
        return "yes"
    if value == "no":
        return "no"
    return "unclear"


def _component(name: str, kind: Literal["engine", "tracker"], data: dict[str, Any]) -> Component:
    return Component(
        name=name,
        kind=kind,
        title=str(data["title"]),
        requires=tuple(tuple(str(m) for m in group) for group in data.get("requires", [])),
        optional=tuple(str(m) for m in data.get("optional", [])),
        licence=str(data["licence"]),
        commercial=_commercial(data.get("commercial")),
        licence_note=str(data.get("licence_note", "")),
        licence_text=str(data.get("licence_text", "")),
    )


def parse_manifest(data: dict[str, Any]) -> Manifest:
    """Build a :class:`Manifest` from its JSON form (tests pass their own)."""
    models = {}
    for name, m in data.get("models", {}).items():
        files = tuple(
            ModelFile(
                path=str(f["path"]),
                check=str(f.get("check", "file")),
                approx_bytes=f.get("approx_bytes"),
                sha256=(str(f["sha256"]).lower() if f.get("sha256") else None),
                sha256_source=str(f.get("sha256_source", "primary")),
                alternatives=tuple(str(a) for a in f.get("alternatives", [])),
                hub=Hub(str(f["hub"]["repo"]), str(f["hub"]["file"])) if f.get("hub") else None,
            )
            for f in m["files"]
        )
        models[name] = Model(
            name=name,
            title=str(m.get("title", name)),
            files=files,
            homepage=str(m.get("homepage", "")),
            get=str(m.get("get", "")),
            licence=str(m.get("licence", "")),
            commercial=_commercial(m.get("commercial")),
        )
    engines = {n: _component(n, "engine", c) for n, c in data.get("engines", {}).items()}
    trackers = {n: _component(n, "tracker", c) for n, c in data.get("trackers", {}).items()}
    for comp in [*engines.values(), *trackers.values()]:
        for model in [*(m for g in comp.requires for m in g), *comp.optional]:
            if model not in models:
                raise ValueError(f"manifest: {comp.name} needs unknown model {model!r}")
    return Manifest(models, engines, trackers)


@functools.lru_cache(maxsize=1)
def load_manifest() -> Manifest:
    """The manifest shipped with the engine."""
    return parse_manifest(json.loads(MANIFEST_PATH.read_text(encoding="utf-8")))
