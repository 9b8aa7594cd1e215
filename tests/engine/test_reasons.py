"""Every input error the engine raises carries a fixed, registered reason the studio translates.

The reasons are %-templates made with :func:`lipsync.errors.reason`; the variable parts travel in
``params``, so the English message stays as it was while a user interface can translate it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import lipsync
from lipsync import errors
from lipsync.errors import InputError, NoFaceError, TruncatedMediaError

PACKAGE = Path(lipsync.__file__).parent
#: The command line prints its errors for a person at a terminal; nothing translates them.
UNTRANSLATED = {"cli.py"}
INPUT_ERRORS = {
    name
    for name, cls in vars(errors).items()
    if inspect.isclass(cls) and issubclass(cls, InputError)
}


def _modules():
    for info in pkgutil.walk_packages(lipsync.__path__, "lipsync."):
        if info.name.rsplit(".", 1)[-1] + ".py" in UNTRANSLATED or info.name == "lipsync.__main__":
            continue
        yield importlib.import_module(info.name)


def _input_error_raises(module, with_class=False):
    """(line, reason expression) of each ``raise <InputError subclass>(path, reason, ...)``;
    ``with_class``: (line, (class name, reason expression))."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and isinstance(node.exc.func, ast.Name)
            and node.exc.func.id in INPUT_ERRORS
        ):
            reason = node.exc.args[1]
            yield node.lineno, (node.exc.func.id, reason) if with_class else reason


def test_every_input_error_raised_has_a_registered_reason():
    found, wrong = 0, []
    for module in _modules():
        for line, arg in _input_error_raises(module):
            found += 1
            where = f"{module.__name__}:{line}"
            if not isinstance(arg, ast.Name):
                wrong.append(f"{where}: reason is not a module constant")
            elif getattr(module, arg.id, None) not in errors.REASONS:
                wrong.append(f"{where}: {arg.id} is not made with lipsync.errors.reason()")
    assert found >= 20, "the scan no longer finds the engine's raises"
    assert wrong == []


def test_every_registered_reason_is_in_the_catalogue():
    """makemessages collects ``reason(...)`` (studio/management/commands/makemessages.py), so
    the engine's table is the one source; each reason must be translated in the catalogue."""
    from tests.ui.test_translations import PO, parse_po

    list(_modules())
    assert "no face found in any frame" in errors.REASONS
    translated = {e["msgid"] for e in parse_po(PO) if all(e["msgstr"].values())}
    missing = [r for r in errors.REASONS if r not in translated]
    assert missing == [], "run makemessages -l zh_Hans and translate the engine's new reasons"


def test_reason_registers_once_and_returns_the_template():
    before = list(errors.REASONS)
    try:
        assert errors.reason("test reason %(x)s") == "test reason %(x)s"
        errors.reason("test reason %(x)s")
        assert [*before, "test reason %(x)s"] == errors.REASONS
    finally:
        errors.REASONS[:] = before


def test_messages_read_as_before_with_template_and_params():
    from lipsync.faces.tracker import NO_FACE, PICK_OUT_OF_RANGE
    from lipsync.media.probe import TRUNCATED_AT

    cut = TruncatedMediaError("/x/voice.wav", TRUNCATED_AT, {"t": f"{12.345:.1f}"})
    assert str(cut) == (
        "voice.wav: file is truncated at 12.3 s — upload the complete file again, or export it "
        "again from the original if it plays badly there too"
    )
    assert (cut.template, cut.params) == ("file is truncated at %(t)s s", {"t": "12.3"})
    assert cut.reason == "file is truncated at 12.3 s"
    assert str(NoFaceError("room.mp4", NO_FACE)) == (
        "room.mp4: no face found in any frame — use a video or photo where the presenter's face "
        "is clearly visible, facing the camera"
    )
    pick = InputError("two.mp4", PICK_OUT_OF_RANGE, {"pick": 3, "count": 2})
    assert str(pick) == (
        "two.mp4: face 3 was picked but the first frame with faces has 2 — pick one of the "
        "faces shown on that frame, or leave the choice empty"
    )


def test_every_input_error_raised_says_what_to_do():
    """Each raise gets advice of its own reason or of its class, never only the generic line
    of :class:`InputError` (which is for errors raised outside the engine)."""
    generic = []
    for module in _modules():
        for line, arg in _input_error_raises(module, with_class=True):
            cls, reason = arg
            error = getattr(errors, cls)("x.mp4", getattr(module, reason.id), {})
            if error.advice_template == InputError.advice or not error.todo:
                generic.append(f"{module.__name__}:{line} ({cls})")
    assert generic == []


def test_advice_given_explicitly_wins_and_is_filled_from_the_params():
    err = TruncatedMediaError(
        "a.wav", "cut at %(t)s s", {"t": "1.0"}, "cut the file before %(t)s s"
    )
    assert str(err) == "a.wav: cut at 1.0 s — cut the file before 1.0 s"
    assert err.advice_template == "cut the file before %(t)s s"
