"""Both catalogs are complete, and pages speak Polish by default and English on request."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from app.i18n import TIMEZONE

ROOT = Path(__file__).resolve().parent.parent


def _catalog(language: str):  # type: ignore[no-untyped-def]
    """Read a language's catalog."""
    with (ROOT / "app" / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _texts(value) -> list[str]:  # type: ignore[no-untyped-def]
    """Return a message id or string as a list (plural forms are tuples)."""
    return [value] if isinstance(value, str) else list(value)


def test_every_message_in_the_code_is_translated_in_polish_with_the_same_placeholders(tmp_path):
    """The .po files are the only source of translations: every extracted message has a Polish
    translation (not fuzzy) using the same placeholders; English, the source language, may leave
    msgstr empty (gettext then shows the msgid), but what it fills in keeps the placeholders too."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "N_",
            "-o",
            str(pot),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        extracted = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(handle) if m.id}
    assert extracted, "extraction found no messages"
    for language in ("pl", "en"):
        catalog = _catalog(language)
        by_id = {(m.id if isinstance(m.id, str) else tuple(m.id)): m for m in catalog if m.id}
        missing = sorted(map(str, extracted - set(by_id)))
        assert not missing, f"{language}: not in the catalog (run make extract-messages) {missing[:10]}"
        for msgid in extracted:
            message = by_id[msgid]
            strings = [t for t in _texts(message.string) if t]
            if language == "pl":
                assert strings and len(strings) == len(_texts(message.string)), f"pl: untranslated {msgid!r}"
                assert "fuzzy" not in message.flags, f"pl: fuzzy, to be checked {msgid!r}"
            wanted = set(PLACEHOLDER.findall(" ".join(_texts(msgid))))
            for text in strings:
                assert set(PLACEHOLDER.findall(text)) <= wanted | {"num"}, f"{language}: placeholders of {msgid!r}"
                assert wanted - {"num"} <= set(PLACEHOLDER.findall(text)) or not wanted, (
                    f"{language}: placeholders of {msgid!r} missing in {text!r}"
                )


def test_missing_compiled_catalogs_are_said_in_the_log(tmp_path, caplog):
    from app import check_compiled_catalogs

    (tmp_path / "pl" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "pl" / "LC_MESSAGES" / "messages.po").write_text("")
    with caplog.at_level("WARNING"):
        assert check_compiled_catalogs(tmp_path, ["pl"]) == ["pl"]
    assert "pl" in caplog.text and "make translations" in caplog.text
    assert check_compiled_catalogs(ROOT / "app" / "translations", ["pl", "en"]) == []


def test_pages_are_polish_by_default_and_english_on_request(client, make_event):
    event = make_event()
    polish = client.get(f"/events/{event.slug}/").text
    assert "Zapisz się" in polish and "Program" in polish
    client.get("/language/en")
    english = client.get(f"/events/{event.slug}/").text
    assert "Register" in english and "Programme" in english


def test_polish_plural_forms(client, make_event, make_session):
    event = make_event()
    make_session(event, start_hour=9, capacity=2)
    make_session(event, start_hour=11, capacity=5)
    make_session(event, start_hour=13, capacity=22)
    page = client.get(f"/events/{event.slug}/").text
    assert "Zostały 2 miejsca" in page and "Zostało 5 miejsc" in page and "Zostały 22 miejsca" in page


def test_template_gettext_escapes_variables_and_follows_forced_locale(app):
    from flask import render_template_string
    from flask_babel import force_locale

    source = (
        '{{ _("Hello %(name)s,", name=who) }}|{{ ngettext("%(num)d event", "%(num)d events", 2) }}|{{ _("Language") }}'
    )
    with app.test_request_context("/"):
        polish = render_template_string(source, who="<b>Ala</b>")
        with force_locale("en"):
            english = render_template_string(source, who="<b>Ala</b>")
        again = render_template_string(source, who="<b>Ala</b>")
    assert english == "Hello &lt;b&gt;Ala&lt;/b&gt;,|2 events|Language"
    assert polish == again and polish == "Dzień dobry, &lt;b&gt;Ala&lt;/b&gt;,|2 wydarzenia|Język"
    assert "<b>" not in polish


def test_times_are_on_the_24_hour_clock_and_dates_in_one_style_in_english(
    app, db, client, make_event, make_session, register, outbox
):
    """No "3:00 PM" next to "13:30", no "January 4, 2027" next to "4 Jan 2027": pages and emails alike."""
    event = make_event()
    day = event.starts_at.astimezone(TIMEZONE)
    starts = day.replace(hour=13, minute=30, second=0, microsecond=0)
    talk = make_session(event, starts_at=starts, ends_at=starts.replace(hour=15, minute=0), title_en="Afternoon talk")
    morning = day.replace(hour=9, minute=0, second=0, microsecond=0)
    make_session(event, starts_at=morning, ends_at=morning.replace(hour=19), title_en="Long day")
    register(event, talk, language="en")
    [email] = [m for m in outbox.messages() if m.recipient_email]
    manage = re.search(r"http://zapisy\.test(/r/[\w-]+)", email.body_text).group(1)
    client.get("/language/en")
    pages = {
        "event": client.get(f"/events/{event.slug}/").text,
        "form": client.get(f"/events/{event.slug}/register").text,
        "manage": client.get(manage).text,
        "email text": email.body_text,
        "email html": email.body_html,
    }
    for name, text in pages.items():
        assert not re.search(r"\d\s?(AM|PM)\b", text), name
        assert "13:30" in text and "15:00" in text, name
    assert "09:00" in pages["event"] and "19:00" in pages["event"]
    # One date style: day, month's name, year (no "January 4, 2027").
    long_day = f"{day.day} {day.strftime('%B')} {day.year}"
    assert f"{day.strftime('%A')}, {long_day}" in pages["event"]
    assert not re.search(r"[A-Z][a-z]+ \d{1,2}, \d{4}", " ".join(pages.values()))
