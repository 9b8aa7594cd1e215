"""``python -m lipsync models list|verify|add|download|import|bundle``.

Output is for a person at a terminal (English); exit status 0 when the command did what was
asked, 1 when a model is missing, wrong or could not be fetched, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import LipsyncError
from . import manager


def add_parser(sub: Any) -> None:
    """Add the ``models`` command to the CLI's subparsers."""
    m = sub.add_parser("models", help="list, check and install model weights")
    m.add_argument(
        "--model-dir",
        default=None,
        help=f"model folder (default: ${manager.MODEL_DIR_ENV} or models/ in the checkout)",
    )
    msub = m.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="every engine and model, and what is missing")
    v = msub.add_parser("verify", help="check structure (every key and shape) and hashes")
    v.add_argument("names", nargs="*", help="models to check (default: every installed one)")
    v.add_argument("--no-hash", action="store_true", help="check structure only (fast)")
    a = msub.add_parser("add", help="install a model file or folder you have")
    a.add_argument("path")
    a.add_argument("--as", dest="model", default=None, help="the model it belongs to")
    d = msub.add_parser("download", help="fetch a model from your mirror (never by default)")
    d.add_argument("name")
    d.add_argument(
        "--from",
        dest="source",
        default=None,
        help=f"mirror base URL or template with {{path}}/{{repo}}/{{file}} "
        f"(default: ${manager.MIRROR_ENV})",
    )
    i = msub.add_parser("import", help="install the models of an offline bundle (tar)")
    i.add_argument("bundle")
    b = msub.add_parser("bundle", help="pack installed models into a tar for an offline site")
    b.add_argument("out")
    b.add_argument("names", nargs="*")


class _Bytes:
    """tqdm bars for byte transfers, one per file label (on stderr)."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bars: dict[str, Any] = {}

    def __call__(self, label: str, done: int, total: int | None) -> None:
        bar = self.bars.get(label)
        if bar is None:
            bar = self.bars[label] = self._tqdm(
                total=total,
                desc=label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                leave=True,
                initial=done,
            )
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _size(n: int | None) -> str:
    if not n:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return f"{n} B"


def _list(args: argparse.Namespace) -> int:
    root = manager.resolve_model_dir(args.model_dir)
    print(f"model folder: {root}" + ("" if root.is_dir() else " (does not exist yet)"))
    print()
    print("engines:")
    for st in [*manager.engine_status(root), *manager.tracker_status(root)]:
        state = "usable" if st.usable else "NOT USABLE"
        kind = "" if st.kind == "engine" else " (face tracking)"
        print(f"  {st.name:<12} {state:<10} {st.title}{kind}")
        print(f"  {'':<12} licence: {st.licence_note or st.licence}")
        for rel in st.missing:
            print(f"  {'':<12} missing: {rel}")
        for rel in st.optional_missing:
            print(f"  {'':<12} optional, not installed: {rel}")
        if st.using:
            print(f"  {'':<12} using: {', '.join(st.using)}")
    print()
    print("models:")
    for ms in manager.model_status(root):
        if ms.present:
            state = {True: "verified", False: "CHANGED", None: "present"}[ms.verified]
        else:
            state = "partial" if len(ms.missing) < len(ms.files) else "missing"
        print(f"  {ms.name:<20} {state:<9} {_size(ms.approx_bytes):>10}  {ms.title}")
        if not ms.present:
            print(f"  {'':<20} get it: {ms.get}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    bars = _Bytes()
    try:
        results = manager.verify(
            args.model_dir, args.names or None, hashes=not args.no_hash, progress=bars
        )
    finally:
        bars.close()
    bad = 0
    for r in results:
        if not r.present and not r.problems:
            continue
        print(f"{r.model}: {'OK' if r.ok else 'FAILED'}")
        for line in r.problems:
            print(f"  {line}")
        for line in r.notes:
            print(f"  note: {line}")
        bad += not r.ok
    if not any(r.present or r.problems for r in results):
        print("no models installed; see `python -m lipsync models list`")
    return 1 if bad else 0


def _installed(paths: list[str], root: str) -> None:
    for rel in paths:
        print(f"installed {rel} in {root}")


def _run_install(args: argparse.Namespace) -> int:
    root = str(manager.resolve_model_dir(args.model_dir))
    bars = _Bytes()
    try:
        if args.models_command == "add":
            paths = manager.add(args.path, root, model=args.model, progress=bars)
        elif args.models_command == "download":
            paths = manager.download(args.name, root, source=args.source, progress=bars)
        elif args.models_command == "import":
            paths = manager.import_bundle(args.bundle, root, progress=bars)
        else:
            paths = manager.make_bundle(args.out, args.names or None, root, progress=bars)
            bars.close()
            print(f"packed {len(paths)} files into {args.out}")
            return 0
    except KeyError as exc:
        bars.close()
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except LipsyncError as exc:
        bars.close()
        print(f"FAILED {exc}")
        return 1
    bars.close()
    _installed(paths, root)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.models_command == "list":
        return _list(args)
    if args.models_command == "verify":
        try:
            return _verify(args)
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 2
    return _run_install(args)
