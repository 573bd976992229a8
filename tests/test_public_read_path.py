"""The public read path (issue 8): constant queries per page, the programme and page caches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event

from app.events.models import BookingMode, EventStatus, Session
from app.extensions import db as _db
from app.registration.models import Registration
from tests.conftest import FORM_DEFAULTS, csrf_token, submit

CACHED = pytest.mark.app_config(EVENT_PAGE_CACHE_SECONDS=60)


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """Collect the SQL statements the app sends while the block runs."""
    statements: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa_event.listen(_db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        sa_event.remove(_db.engine, "before_cursor_execute", before_cursor_execute)


def _programme(event, make_session, register, sessions: int) -> None:  # type: ignore[no-untyped-def]
    """Give the event ``sessions`` sessions with two groups each, the first one full with a waiting list."""
    made = []
    for n in range(sessions):
        starts = event.starts_at.replace(hour=8, minute=0) + timedelta(minutes=10 * n)
        made.append(
            make_session(
                event,
                groups=[1, 1] if n == 0 else [5, 5],
                starts_at=starts,
                ends_at=starts + timedelta(minutes=10),
                title_pl=f"Sesja {n}",
                title_en=f"Session {n}",
            )
        )
    for n in range(3):  # two take the first session's places, the third waits
        register(event, made[0], email=f"person{n}@example.com")
    register(event, *made[1:3], email="other@example.com")


def _queries(client, path: str) -> int:  # type: ignore[no-untyped-def]
    """Return the number of statements one GET of ``path`` sends (and check it answers 200)."""
    with counted_statements() as statements:
        page = client.get(path)
    assert page.status_code == 200
    return len(statements)


@pytest.mark.parametrize("page", ["/events/{slug}/", "/events/{slug}/register"])
def test_public_page_queries_do_not_grow_with_the_programme(client, make_event, make_session, register, page):
    small, large = make_event(), make_event()
    _programme(small, make_session, register, 5)
    _programme(large, make_session, register, 50)
    counts = [_queries(client, page.format(slug=event.slug)) for event in (small, large)]
    assert counts[0] == counts[1], counts
    assert counts[1] <= 10, counts  # event, counters, programme (uncached here), waiting lists, partners


def test_success_page_queries_do_not_grow_with_the_bookings(client, make_event, make_session):
    event = make_event()
    sessions = [make_session(event, start_hour=8 + n, groups=[3, 3]) for n in range(4)]
    counts = []
    for n, picked in enumerate((sessions[:1], sessions)):
        data = {**FORM_DEFAULTS, "email": f"success{n}@example.com", "sessions": [str(s.id) for s in picked]}
        assert submit(client, f"/events/{event.slug}/register", data).status_code == 303
        counts.append(_queries(client, f"/events/{event.slug}/registered"))
    assert counts[0] == counts[1], counts
    assert counts[1] == 1, counts  # the registration with its event, bookings and ranked choices


def test_success_page_shows_only_the_visitors_registration_of_a_public_event(client, db, make_event, make_session):
    event, other = make_event(), make_event()
    session = make_session(event, start_hour=9, title_pl="Okrągły stół", capacity=5)
    data = {**FORM_DEFAULTS, "email": "ala@example.com", "sessions": [str(session.id)]}
    assert submit(client, f"/events/{event.slug}/register", data).status_code == 303
    page = client.get(f"/events/{event.slug}/registered")
    assert page.status_code == 200 and "Okrągły stół" in page.text and "/r/" in page.text
    # Another event's address: that event's page, not this registration.
    elsewhere = client.get(f"/events/{other.slug}/registered")
    assert elsewhere.status_code == 302 and elsewhere.headers["Location"].endswith(f"/events/{other.slug}/")
    assert client.get("/events/no-such-event/registered").status_code == 404
    # A visitor without the registration in their session is sent to the event page.
    stranger = client.application.test_client()
    assert stranger.get(f"/events/{event.slug}/registered").status_code == 302
    # The event taken down (a draft again): its address is gone, registration or not.
    event.status = EventStatus.DRAFT
    db.session.commit()
    assert client.get(f"/events/{event.slug}/registered").status_code == 404


@CACHED
def test_event_page_is_kept_per_language_and_served_without_queries(client, make_event, make_session):
    event = make_event()
    make_session(event, title_pl="Warsztat", title_en="Workshop", capacity=4)
    polish = client.get(f"/events/{event.slug}/")
    assert "Warsztat" in polish.text and "Zostały 4 miejsca" in polish.text
    with counted_statements() as statements:
        again = client.get(f"/events/{event.slug}/")
    assert again.text == polish.text and statements == []
    english = client.get(f"/events/{event.slug}/?lang=en")
    assert "Workshop" in english.text and "4 places left" in english.text


@CACHED
def test_event_page_with_a_flashed_message_is_not_kept(app, client, make_event):
    event = make_event()
    client.get(f"/events/{event.slug}/")
    with client.session_transaction() as cookie_session:
        cookie_session["_flashes"] = [("info", "Only for this visitor")]
    assert "Only for this visitor" in client.get(f"/events/{event.slug}/").text
    assert "Only for this visitor" not in client.get(f"/events/{event.slug}/").text


@CACHED
def test_event_page_with_another_query_is_not_kept(app, client, make_event):
    event = make_event()
    client.get(f"/events/{event.slug}/?utm_source=x")
    client.get(f"/events/{event.slug}/?lang=xx")
    client.get(f"/events/{event.slug}/?lang=en")
    kept = app.extensions.get("zapisy_page_cache", {})
    assert kept and all(query in ("", "lang=pl", "lang=en") for _name, _slug, _language, query in kept)


@CACHED
def test_cached_programme_shows_live_counters_and_new_sessions(client, make_event, make_session, register, db):
    event = make_event()
    first = make_session(event, start_hour=9, capacity=2, title_pl="Pierwsza")
    form = client.get(f"/events/{event.slug}/register").text
    assert "Pierwsza" in form and "Zostały 2 miejsca" in form
    register(event, first)
    make_session(event, start_hour=11, capacity=1, title_pl="Dodana", booking_mode=BookingMode.INSTANT)
    form = client.get(f"/events/{event.slug}/register").text
    assert "Zostało 1 miejsce" in form  # the counter is read on every request
    assert "Dodana" in form  # a new session rebuilds the cached programme at once
    db.session.delete(db.session.get(Session, first.id))
    db.session.commit()
    assert "Pierwsza" not in client.get(f"/events/{event.slug}/register").text


def test_refused_registration_re_renders_the_programme(client, make_event, make_session):
    event = make_event()
    session = make_session(event, title_pl="Jedyna", capacity=3)
    data = {**FORM_DEFAULTS, "category": "", "sessions": [str(session.id)]}
    page = submit(client, f"/events/{event.slug}/register", data)
    assert page.status_code == 422
    assert "Jedyna" in page.text and f'value="{session.id}" id="sessions-{session.id}" checked' in page.text


@pytest.mark.parametrize("bad_id", ["999999", "2147483648", "99999999999999999999999", "-1", "0"])
def test_a_session_id_no_session_has_is_refused_with_a_message(client, db, make_event, make_session, bad_id):
    event = make_event()
    make_session(event)
    data = {**FORM_DEFAULTS, "sessions": [bad_id]}
    page = submit(client, f"/events/{event.slug}/register", data)
    assert page.status_code == 422 and "Ten wybór jest niedostępny." in page.text
    assert db.session.execute(db.select(db.func.count()).select_from(Registration)).scalar_one() == 0


def test_a_wrong_session_shows_together_with_the_other_mistakes(client, make_event, make_session):
    event = make_event()
    make_session(event)
    data = {**FORM_DEFAULTS, "email": "not-an-address", "sessions": ["999999"]}
    page = submit(client, f"/events/{event.slug}/register", data)
    assert page.status_code == 422
    assert "Ten wybór jest niedostępny." in page.text and 'id="email-error"' in page.text


FORM_CACHED = pytest.mark.app_config(FORM_PAGE_CACHE_SECONDS=60)


@FORM_CACHED
def test_kept_registration_form_gives_each_visitor_a_token_of_their_own(app, make_event, make_session):
    event = make_event()
    session = make_session(event, title_pl="Warsztat", capacity=5)
    path = f"/events/{event.slug}/register"
    first, second = app.test_client(), app.test_client()
    first.get(path)  # rendered and kept
    with counted_statements() as statements:
        pages = [client.get(path) for client in (first, second)]
    assert statements == []  # both served from the kept page
    tokens = [csrf_token(page.text) for page in pages]
    assert tokens[0] != tokens[1] and "csrf-placeholder" not in pages[1].text
    assert "Warsztat" in pages[1].text and re.search(r'<option selected value="pl">', pages[1].text)
    # Each token works for its own visitor only.
    data = {**FORM_DEFAULTS, "sessions": [str(session.id)]}
    crossed = first.post(path, data={**data, "csrf_token": tokens[1]})
    assert crossed.status_code == 400
    for n, (client, token) in enumerate(zip((first, second), tokens)):
        answer = client.post(path, data={**data, "email": f"kept{n}@example.com", "csrf_token": token})
        assert answer.status_code == 303, answer.text[:500]


@FORM_CACHED
def test_registration_form_with_an_invitation_code_is_not_kept(app, client, make_event, make_session):
    event = make_event()
    make_session(event)
    assert 'value="CODE-1"' in client.get(f"/events/{event.slug}/register?code=CODE-1").text
    assert 'value="CODE-2"' in client.get(f"/events/{event.slug}/register?code=CODE-2").text
    assert "CODE-1" not in client.get(f"/events/{event.slug}/register").text
    assert all(name != "register" or query == "" for name, _slug, _lang, query in app.extensions["zapisy_page_cache"])


@FORM_CACHED
def test_kept_form_leaves_the_session_a_rendered_one_would(app, make_event, make_session):
    # A double click sends the form's cookie twice: whichever answer's cookie the browser keeps,
    # it names the one registration, and its success page shows the same private link.
    event = make_event()
    session = make_session(event)
    path = f"/events/{event.slug}/register"
    app.test_client().get(path)  # rendered and kept
    browser = app.test_client(use_cookies=False)
    page = browser.get(path)  # served from the kept page
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    data = {**FORM_DEFAULTS, "sessions": [str(session.id)], "csrf_token": csrf_token(page.text)}
    first = browser.post(path, data=data, headers={"Cookie": cookie})
    second = browser.post(path, data=data, headers={"Cookie": cookie})
    assert first.status_code == second.status_code == 303 and "Set-Cookie" in first.headers
    links = []
    for answer in (first, second):
        kept = answer.headers.get("Set-Cookie", first.headers["Set-Cookie"]).split(";", 1)[0]
        success = browser.get(answer.headers["Location"], headers={"Cookie": kept}).text
        links.append(re.search(r'href="(http://zapisy.test/r/[A-Za-z0-9_-]+)"', success).group(1))
    assert links[0] == links[1]


def test_a_registration_post_reads_the_sessions_once(client, make_event, make_session):
    event = make_event()
    picked = [make_session(event, start_hour=8 + n, groups=[3, 3]) for n in range(3)]
    make_session(event, start_hour=15, booking_mode=BookingMode.RANKED, capacity=5)
    url = f"/events/{event.slug}/register"
    page = client.get(url)
    data = {
        **FORM_DEFAULTS,
        "email": "once@example.com",
        "sessions": [str(s.id) for s in picked],
        "csrf_token": csrf_token(page.text),
    }
    with counted_statements() as statements:
        assert client.post(url, data=data).status_code == 303
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and re.search(r"\bFROM session\b", s)]
    assert len(reads) == 1, reads  # the posted sessions and the ranked workshops, with their groups
    assert len(statements) <= 20, statements
