"""The Simplified Chinese catalogue is complete, compiled, and keeps every placeholder.

Strings are collected the way ``makemessages`` does (Django's own template lexer for templates,
the AST for Python), so no GNU gettext tool is needed to run these checks.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PO = REPO / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{\w*\}")
GETTEXT_NAMES = {
    "_",
    "gettext",
    "gettext_lazy",
    "gettext_noop",
    "pgettext",
    "pgettext_lazy",
    "ngettext",
    "ngettext_lazy",
    "npgettext",
    "npgettext_lazy",
}


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (list), flags."""
    entries, cur, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if cur and "msgid" in cur:
                entries.append(cur)
            cur, key = None, None
            continue
        cur = cur or {"flags": set(), "msgstr": {}}
        if line.startswith("#,"):
            cur["flags"].update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        else:
            m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?) (".*")$', line)
            if m:
                key = (
                    ("msgstr", int(m.group(2) or 0))
                    if m.group(1).startswith("msgstr")
                    else m.group(1)
                )
                value = ast.literal_eval(m.group(3))
            else:
                value = ast.literal_eval(line)
            if isinstance(key, tuple):
                cur["msgstr"][key[1]] = cur["msgstr"].get(key[1], "") + value
            else:
                cur[key] = cur.get(key, "") + value
    return [e for e in entries if e["msgid"]]


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    return parse_po(PO)


def template_msgids() -> set[str]:
    from django.utils.translation.template import templatize

    found = set()
    for path in (REPO / "templates").rglob("*.html"):
        code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for call in re.finditer(r"\b(?:n?p?gettext|_)\(", code):
            args = code[call.end() :]
            depth, end = 1, 0
            for end, ch in enumerate(args):  # noqa: B007 (end is read after the loop)
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0:
                    break
            try:
                node = ast.parse("f(" + args[:end] + ")", mode="eval").body
            except SyntaxError:
                continue
            strings = [
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            is_context = call.group(0).startswith(("pgettext", "npgettext"))
            if strings:
                found.add(strings[1] if is_context and len(strings) > 1 else strings[0])
    return found


def python_msgids() -> set[str]:
    """What makemessages collects from Python: gettext calls in the Django apps, and the
    engine's ``reason(...)`` and ``what_to_do(...)`` (see
    studio/management/commands/makemessages.py)."""
    found = set()
    for folder, names in (
        ("studio", GETTEXT_NAMES),
        ("rendering", GETTEXT_NAMES),
        ("heygem_site", GETTEXT_NAMES),
        ("lipsync", {"reason", "what_to_do"}),
    ):
        for path in (REPO / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in names
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    index = 1 if node.func.id.startswith(("pgettext", "npgettext")) else 0
                    arg = node.args[index] if len(node.args) > index else None
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
    return found


def test_every_entry_is_translated_and_not_fuzzy(entries):
    assert len(entries) > 300
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values()) or not e["msgstr"]]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == [] and fuzzy == []


def test_translations_keep_every_placeholder(entries):
    wrong = []
    for e in entries:
        wanted = sorted(PLACEHOLDER.findall(e.get("msgid_plural") or e["msgid"]))
        for text in e["msgstr"].values():
            if sorted(PLACEHOLDER.findall(text)) != wanted:
                wrong.append((e["msgid"], text))
    assert wrong == []


def test_translations_are_chinese(entries):
    """Every translation of a sentence with letters holds Chinese characters."""
    latin_only = [
        e["msgid"]
        for e in entries
        for text in e["msgstr"].values()
        if re.search(r"[A-Za-z]{3}", PLACEHOLDER.sub("", e["msgid"]))
        and not re.search(r"[\u4e00-\u9fff]", text)
    ]
    # Product and technical names stay as they are.
    allowed = {"RQ job", "Execution"}
    assert [m for m in latin_only if m not in allowed] == []


def test_compiled_catalogue_matches_the_po_file(entries):
    with MO.open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)
    stale = []
    for e in entries:
        key = e["msgid"] if "msgctxt" not in e else f"{e['msgctxt']}\x04{e['msgid']}"
        if "msgid_plural" in e:
            got = catalogue._catalog.get((key, 0))
        else:
            got = catalogue._catalog.get(key)
        if got != e["msgstr"][0]:
            stale.append(e["msgid"])
    assert stale == [], "run: python manage.py compilemessages -l zh_Hans --ignore=.venv"


def test_every_template_and_python_string_is_in_the_catalogue(entries):
    known = {e["msgid"] for e in entries}
    # Django itself translates its own strings (e.g. the built-in auth forms).
    missing_templates = sorted(m for m in template_msgids() if m not in known)
    missing_python = sorted(m for m in python_msgids() if m not in known)
    assert missing_templates == [] and missing_python == [], (
        "run makemessages -l zh_Hans and translate the new strings"
    )


def test_chinese_pages_use_the_catalogue():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert translation.gettext("Dashboard") == "仪表盘"
        assert translation.gettext("Download all (zip)") == "全部下载（zip）"
