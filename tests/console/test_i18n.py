"""The console speaks Mongolian first: every UI string has a Mongolian translation, the committed compiled
catalogue matches its source, and pages come out in Mongolian unless English is chosen."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from wtforms.i18n import messages_path

CONSOLE = Path(__file__).resolve().parents[2] / "gateway" / "console"
CATALOGUE = CONSOLE / "translations" / "mn" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def source_messages() -> set:
    """Every string the console marks for translation, as pybabel would extract it (see babel.cfg)."""
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(CONSOLE), method_map,
                                                                         keywords=keywords):
        found.add(message)
    return found


def test_every_console_string_has_a_mongolian_translation():
    with open(CATALOGUE / "messages.po", "rb") as fh:
        catalogue = read_po(fh)
    missing = []
    for message in source_messages():
        entry = catalogue.get(message if isinstance(message, str) else message[0])
        translated = entry.string if entry else None
        if not translated or (isinstance(translated, tuple) and not all(translated)):
            missing.append(message)
            continue
        for source, target in zip(message if isinstance(message, tuple) else (message,),
                                  translated if isinstance(translated, tuple) else (translated,), strict=False):
            assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(target)), source
    assert not missing, f"untranslated (add them to {CATALOGUE / 'messages.po'}): {sorted(map(str, missing))}"


def test_the_compiled_catalogue_matches_its_source():
    """messages.mo is committed so a fresh `pip install -e .` needs no build step; it must not go stale.
    Recompile with: pybabel compile -d gateway/console/translations"""
    def entries(catalogue) -> dict:
        return {tuple(m.id) if isinstance(m.id, list | tuple) else m.id:
                tuple(m.string) if isinstance(m.string, list | tuple) else m.string for m in catalogue if m.id}

    with open(CATALOGUE / "messages.po", "rb") as fh:
        source = entries(read_po(fh))
    with open(CATALOGUE / "messages.mo", "rb") as fh:
        compiled = entries(read_mo(fh))
    assert compiled == source


def test_pages_are_mongolian_by_default_and_english_on_request(console):
    browser = console("staff")
    page = browser.get("/console/").get_data(as_text=True)
    assert '<html lang="mn">' in page and "Энэ 7 хоногийн тойм" in page and "This week at a glance" not in page
    browser.client.set_cookie("gw_lang", "en")
    page = browser.get("/console/").get_data(as_text=True)
    assert '<html lang="en">' in page and "This week at a glance" in page


def test_wtforms_own_messages_have_a_mongolian_catalogue():
    """WTForms ships no Mongolian: the console's wtforms catalogue covers every message of WTForms' template, and its
    compiled copy is current (pybabel compile -D wtforms -d gateway/console/translations)."""
    with open(Path(messages_path()) / "wtforms.pot", "rb") as fh:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    with open(CATALOGUE / "wtforms.po", "rb") as fh:
        ours = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in read_po(fh) if m.id}
    assert not wanted - {k for k, v in ours.items() if v and all(v if isinstance(v, tuple) else (v,))}
    with open(CATALOGUE / "wtforms.mo", "rb") as fh:
        compiled = {m.id if isinstance(m.id, str) else m.id[0] for m in read_mo(fh) if m.id}
    assert compiled == set(ours)

