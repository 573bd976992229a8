"""Hostile input: arbitrary text, lengths and unicode into every public form field and URL.

No answer is a 5xx, and a refused form stores nothing.
"""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.registration.models import Registration
from tests.conftest import FORM_DEFAULTS, csrf_token

FIELDS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "organisation",
    "position",
    "city",
    "category",
    "language",
    "consent",
    "marketing_consent",
    "sessions",
]
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400) | st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\u202e",
        "a" * 5000,
        "=1+2",
        "<script>alert(1)</script>",
        "Łódź",
        "' OR 1=1 --",
        "%00",
        "\r\nBcc: x@y",
    ]
)
FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _event(db, make_event):  # type: ignore[no-untyped-def]
    """Return the test's event, made on the first example (fixtures outlive examples)."""
    from app.events.models import Event

    db.session.rollback()
    return db.session.execute(select(Event)).scalars().first() or make_event()


def _count(db) -> int:  # type: ignore[no-untyped-def]
    """Return the number of registrations."""
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(Registration)).scalar_one()


@FAST
@given(field=st.sampled_from(FIELDS), value=text)
def test_registration_form_survives_anything(client, db, make_event, make_session, field, value):
    event = _event(db, make_event)
    if not event.sessions:
        make_session(event, capacity=5)
    page = client.get(f"/events/{event.slug}/register")
    before = _count(db)
    data = {**FORM_DEFAULTS, "email": f"fuzz{before}@example.com", field: value}
    response = client.post(f"/events/{event.slug}/register", data={**data, "csrf_token": csrf_token(page.text)})
    assert response.status_code < 500
    if response.status_code != 303:
        assert _count(db) == before


@FAST
@given(value=text)
def test_resend_link_form_survives_anything(client, db, make_event, value):
    event = _event(db, make_event)
    page = client.get(f"/events/{event.slug}/resend-link")
    response = client.post(
        f"/events/{event.slug}/resend-link", data={"email": value, "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code < 500


@FAST
@given(
    token=text, suffix=st.sampled_from(["", "/calendar.ics", "/cancel", "/data.json", "/erase", "/bookings/1/cancel"])
)
def test_manage_urls_survive_anything(client, token, suffix):
    for method in (client.get, client.post):
        response = method("/r/" + quote(token, safe="") + suffix)
        assert response.status_code < 500


@FAST
@given(value=text)
def test_language_switch_and_event_slugs_survive_anything(client, value):
    assert client.get("/language/en?next=" + quote(value, safe="")).status_code < 500
    assert client.get("/events/" + quote(value, safe="") + "/").status_code < 500
    assert client.get("/api/events/" + quote(value, safe="")).status_code < 500
