"""Agents and visitors in Hungary see every text in Hungarian: each string the code marks for
translation has a Hungarian translation that is not fuzzy, the compiled .mo says what the .po says,
and the chat box's own dictionary (frame.js) has every text in Hungarian too."""

import ast
import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(settings.BASE_DIR)
LANGUAGE = "hu"
# Not the helpdesk's own code: makemessages is run with these ignored (see the README).
NOT_SOURCE = {"bench", "tests", "media", "var", "staticfiles", "test-artifacts", "node_modules", "__pycache__"}
SOURCE_SUFFIXES = {".py", ".html", ".txt"}

needs_gettext = pytest.mark.skipif(
    not all(shutil.which(program) for program in ("xgettext", "msgmerge", "msgfmt")) and not os.environ.get("CI"),
    reason="GNU gettext (xgettext, msgmerge, msgfmt) is not installed",
)


def locale_dirs(root: Path) -> list[Path]:
    """The project's locale directory and every app's, as makemessages finds them."""
    return [root / "locale", *sorted(path for path in root.glob("*/locale") if path.is_dir())]


def catalogues(root: Path) -> list[Path]:
    return [po for locale in locale_dirs(root) for po in sorted(locale.glob(f"{LANGUAGE}/LC_MESSAGES/*.po"))]


def _unquote(line: str) -> str:
    # A PO string is a C string literal; Python reads its escapes (\n, \", \\, \t) the same way.
    return ast.literal_eval(line)


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (a list), flags, obsolete.
    Only what these tests need; the header (msgid "") is left out."""
    entries, entry, field = [], None, None

    def finish():
        if entry is not None and entry.get("msgid"):
            entries.append(entry)

    for raw in path.read_text(encoding="utf-8").splitlines():
        obsolete = raw.startswith("#~")
        line = raw[2:].strip() if obsolete else raw.strip()
        if obsolete and line.startswith("|"):
            continue  # the previous msgid of an obsolete fuzzy entry
        if not line or line.startswith("#"):
            # A blank line ends an entry, and so does a comment after an entry's strings.
            if not line or (entry is not None and "msgid" in entry):
                finish()
                entry, field = None, None
            if line.startswith("#,"):
                entry = entry or {"flags": set(), "msgstr": []}
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith('"'):
            if field == "msgstr":
                entry["msgstr"][-1] += _unquote(line)
            else:
                entry[field] += _unquote(line)
            continue
        keyword, _, rest = line.partition(" ")
        if entry is None or (keyword in ("msgctxt", "msgid") and "msgid" in entry):
            finish()
            entry = {"flags": set(), "msgstr": []}
        entry["obsolete"] = obsolete
        if keyword.startswith("msgstr"):
            entry["msgstr"].append(_unquote(rest))
            field = "msgstr"
        else:
            entry[keyword] = _unquote(rest)
            field = keyword
    finish()
    return entries


def describe(entry: dict) -> str:
    context = f"[{entry['msgctxt']}] " if entry.get("msgctxt") else ""
    return context + repr(entry["msgid"])


def problems(path: Path) -> list[str]:
    found = []
    for entry in po_entries(path):
        if entry["obsolete"]:
            found.append(f"obsolete: {describe(entry)}")
        elif "fuzzy" in entry["flags"]:
            found.append(f"fuzzy: {describe(entry)}")
        elif not entry["msgstr"] or not all(entry["msgstr"]):
            found.append(f"untranslated: {describe(entry)}")
    return found


def test_parser_reads_untranslated_fuzzy_plural_and_context_entries(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: hu\\n"\n\n'
        '#: a.py:1\nmsgid "Done"\nmsgstr "Kész"\n\n'
        '#: a.py:2\nmsgid ""\n"Keys "\n"revoked."\nmsgstr ""\n\n'
        '#, fuzzy\n#| msgid "Ready"\nmsgid "Read"\nmsgstr "Kész"\n\n'
        'msgctxt "recording status"\nmsgid "Recording"\nmsgstr "Felvétel \\"folyamatban\\""\n\n'
        'msgid "%(n)s page"\nmsgid_plural "%(n)s pages"\nmsgstr[0] "%(n)s oldal"\nmsgstr[1] ""\n\n'
        '#~ msgid "Gone"\n#~ msgstr "Eltűnt"\n',
        encoding="utf-8",
    )
    entries = {entry["msgid"]: entry for entry in po_entries(po)}
    assert entries["Recording"]["msgstr"] == ['Felvétel "folyamatban"']
    assert entries["Recording"]["msgctxt"] == "recording status"
    assert problems(po) == [
        "untranslated: 'Keys revoked.'",
        "fuzzy: 'Read'",
        "untranslated: '%(n)s page'",
        "obsolete: 'Gone'",
    ]


def test_hungarian_catalogues_are_complete():
    found = catalogues(ROOT)
    assert ROOT / "locale" / LANGUAGE / "LC_MESSAGES" / "django.po" in found
    failures = {str(path.relative_to(ROOT)): problems(path) for path in found}
    failures = {path: entries for path, entries in failures.items() if entries}
    assert not failures, "Hungarian catalogues with entries to translate:\n" + "\n".join(
        f"{path}:\n  " + "\n  ".join(entries) for path, entries in failures.items()
    )


@needs_gettext
def test_every_string_of_the_code_has_a_hungarian_translation(tmp_path, monkeypatch):
    """makemessages, as the README runs it, on a copy of the code and the catalogues: nothing new,
    nothing fuzzy. (The real catalogues are not touched.)"""
    copy = tmp_path / "project"
    for directory, dirnames, filenames in os.walk(ROOT):
        here = Path(directory)
        dirnames[:] = [name for name in dirnames if not name.startswith(".") and name not in NOT_SOURCE]
        in_locale = "locale" in here.relative_to(ROOT).parts
        for name in filenames:
            if (in_locale and name.endswith(".po")) or (not in_locale and Path(name).suffix in SOURCE_SUFFIXES):
                target = copy / here.relative_to(ROOT) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(here / name, target)
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command("makemessages", locale=[LANGUAGE], no_location=True, verbosity=0)

    updated = catalogues(copy)
    assert [path.relative_to(copy) for path in updated] == [path.relative_to(ROOT) for path in catalogues(ROOT)]
    failures = {}
    for path in updated:
        # Entries the code no longer uses become obsolete in the copy: harmless here.
        entries = [problem for problem in problems(path) if not problem.startswith("obsolete:")]
        if entries:
            failures[str(path.relative_to(copy))] = entries
    assert not failures, (
        "Strings of the code without a Hungarian translation (update the catalogues as the README's "
        "Development section says: makemessages, translate, compilemessages):\n"
        + "\n".join(f"{path}:\n  " + "\n  ".join(entries) for path, entries in failures.items())
    )


@needs_gettext
@pytest.mark.parametrize("po", catalogues(ROOT), ids=lambda path: str(path.relative_to(ROOT)))
def test_compiled_catalogue_is_up_to_date(po, tmp_path):
    committed = po.with_suffix(".mo")
    assert committed.exists(), f"{committed.relative_to(ROOT)} is missing: run compilemessages"
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(fresh), str(po)], check=True, capture_output=True)
    with committed.open("rb") as old, fresh.open("rb") as new:
        old_catalog = gettext.GNUTranslations(old)._catalog
        new_catalog = gettext.GNUTranslations(new)._catalog
    differing = sorted(
        repr(key) for key in old_catalog.keys() | new_catalog.keys() if old_catalog.get(key) != new_catalog.get(key)
    )
    assert not differing, f"{committed.relative_to(ROOT)} is out of date with its .po (run compilemessages): " + (
        ", ".join(differing[:20])
    )


# --- The chat box: its texts are a dictionary in frame.js, not a gettext catalogue --------------------

FRAME_JS = ROOT / "conversations" / "static" / "widget" / "frame.js"


def widget_texts() -> dict[str, dict[str, str]]:
    source = FRAME_JS.read_text(encoding="utf-8")
    block = re.search(r"^const TEXTS = \{\n(.*?)^\};", source, re.S | re.M).group(1)
    languages = re.findall(r"^  (\w+): \{\n(.*?)^  \},", block, re.S | re.M)
    return {
        language: {
            key: ast.literal_eval(f'"{value}"') for key, value in re.findall(r'(\w+): "((?:[^"\\]|\\.)*)"', body)
        }
        for language, body in languages
    }


def test_chat_box_has_every_text_in_hungarian():
    texts = widget_texts()
    english, hungarian = texts["en"], texts[LANGUAGE]
    source = FRAME_JS.read_text(encoding="utf-8")
    used = set(re.findall(r'\bt\("(\w+)"', source)) | set(
        re.findall(r'"data-t(?:-label|-placeholder)?": "(\w+)"', source)
    )
    assert used and used <= set(english), f"keys used but not in TEXTS.en: {sorted(used - set(english))}"
    assert set(hungarian) == set(english), (
        f"missing in TEXTS.hu: {sorted(set(english) - set(hungarian))}; "
        f"not in TEXTS.en: {sorted(set(hungarian) - set(english))}"
    )
    empty = sorted(key for key, value in hungarian.items() if not value.strip())
    assert not empty, f"empty in TEXTS.hu: {empty}"
    placeholders = {
        key: (re.findall(r"\{\w+\}", english[key]), re.findall(r"\{\w+\}", hungarian[key]))
        for key in english
        if sorted(re.findall(r"\{\w+\}", english[key])) != sorted(re.findall(r"\{\w+\}", hungarian[key]))
    }
    assert not placeholders, f"placeholders differ between TEXTS.en and TEXTS.hu: {placeholders}"
