"""The JSON API: its OpenAPI description, versioned paths, JSON errors and conditional requests."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email.utils import format_datetime

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.admin.programme import SessionData, change_event_status, update_session
from app.api_spec import openapi_document
from app.audit.models import AuditEntry
from app.demo import seed_demo_data
from app.events.models import EventStatus, Series
from app.events.services import get_public_event
from tests.conftest import NOW


def _validator(schema: str) -> Draft202012Validator:
    """Return a validator of the description's component ``schema`` (its references resolved)."""
    document = openapi_document()
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema}", "components": document["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _assert_valid(schema: str, payload: object) -> None:
    """Fail with every mismatch between ``payload`` and the description's ``schema``."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(schema).iter_errors(payload)]
    assert errors == []


def _problem(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    """Check that ``response`` is the JSON problem ``code`` with ``status``; return it."""
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    _assert_valid("Problem", body)
    assert body["status"] == status and body["code"] == code
    return body


def test_the_description_is_valid_openapi_and_served_on_both_paths(client):
    document = openapi_document()
    validate(document)  # raises on any error against the OpenAPI 3.1 schema
    assert document["openapi"].startswith("3.1")
    for path in ("/api/openapi.json", "/api/v1/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.get_json() == document


def test_every_documented_path_exists_and_every_api_route_is_documented(app):
    documented = set(openapi_document()["paths"])
    routes = {
        re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    assert documented == routes
    assert {"/api/v1/events", "/api/v1/events/{slug}", "/api/openapi.json"} <= documented
    for path, item in openapi_document()["paths"].items():
        # The unversioned paths are documented as deprecated, the /api/v1 ones are not.
        assert item["get"].get("deprecated", False) == (path.startswith("/api/events")), path


def test_the_answers_on_the_demo_data_match_the_description(client, db, register):
    seed_demo_data()
    listing = client.get("/api/v1/events")
    assert listing.status_code == 200
    _assert_valid("EventList", listing.get_json())
    slugs = [e["slug"] for e in listing.get_json()["events"]]
    assert "pracownia-miast-sandomierz" in slugs and len(slugs) > 2
    # Someone registered, so that the counts are not all zero.
    event = get_public_event("v-sesja-dialogu-lodz")
    session = next(s for s in event.sessions if s.capacity)
    register(event, session)
    for slug in slugs:
        detail = client.get(f"/api/v1/events/{slug}")
        assert detail.status_code == 200
        _assert_valid("EventDetail", detail.get_json())
    lodz = client.get("/api/v1/events/v-sesja-dialogu-lodz").get_json()
    row = next(s for s in lodz["sessions"] if s["id"] == session.id)
    assert row["confirmed"] == 1 and row["places_left"] == session.capacity - 1
    assert any(s["groups"] for s in lodz["sessions"])


def test_the_unversioned_paths_answer_the_same_marked_deprecated(client, make_event, make_session):
    event = make_event()
    make_session(event, capacity=5)
    for old, new in (("/api/events", "/api/v1/events"), (f"/api/events/{event.slug}", f"/api/v1/events/{event.slug}")):
        first, current = client.get(old), client.get(new)
        assert first.status_code == current.status_code == 200
        assert first.get_json() == current.get_json()
        assert first.headers["ETag"] == current.headers["ETag"]
        assert first.headers["Deprecation"] == "@1796428800"
        assert first.headers["Link"] == f'<{new}>; rel="successor-version"'
        assert "Deprecation" not in current.headers
    _problem(client.get("/api/events/no-such-event"), 404, "not_found")


def test_drafts_are_not_in_the_api(client, make_event):
    draft = make_event(status=EventStatus.DRAFT)
    assert draft.slug not in [e["slug"] for e in client.get("/api/v1/events").get_json()["events"]]
    _problem(client.get(f"/api/v1/events/{draft.slug}"), 404, "not_found")


def test_errors_under_api_are_json_and_elsewhere_html(client, make_event):
    event = make_event()
    body = _problem(client.get("/api/v1/events/no-such-event"), 404, "not_found")
    assert body["title"] == "Nie znaleziono strony"  # Polish by default, like the pages
    assert _problem(client.get("/api/v1/events/no-such-event?lang=en"), 404, "not_found")["title"] == "Page not found"
    _problem(client.get("/api/v1/no-such-path"), 404, "not_found")
    _problem(client.get("/api/v2/events"), 404, "not_found")
    _problem(client.get("/api"), 404, "not_found")
    not_allowed = client.post(f"/api/v1/events/{event.slug}")
    _problem(not_allowed, 405, "method_not_allowed")
    assert not_allowed.headers["Allow"] == "GET, HEAD, OPTIONS"
    _problem(client.get("/api/v1/events?x=%00"), 400, "bad_request")
    page = client.get("/events/no-such-event/")
    assert page.status_code == 404 and page.mimetype == "text/html"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("when=soon", "when"), ("when=", "when"), ("series=no-such-series", "series"), ("series=", "series")],
)
def test_a_bad_query_parameter_is_a_422_naming_it(client, make_event, query, parameter):
    make_event()
    body = _problem(client.get(f"/api/v1/events?{query}&lang=en"), 422, "invalid_parameter")
    assert [e["parameter"] for e in body["errors"]] == [parameter]
    assert body["title"] == "Invalid parameter"


def test_filters_by_series_and_time(client, db, make_event):
    upcoming = make_event()
    past = make_event(starts_at=NOW - timedelta(days=40), ends_at=NOW - timedelta(days=39))
    other = Series(slug="other-series", name_pl="Inny cykl")
    db.session.add(other)
    db.session.commit()
    elsewhere = make_event(series=other)

    def slugs(query: str) -> list[str]:
        response = client.get(f"/api/v1/events?{query}")
        assert response.status_code == 200, response.get_json()
        return [e["slug"] for e in response.get_json()["events"]]

    assert slugs("") == slugs("when=all") == [upcoming.slug, elsewhere.slug, past.slug]
    assert slugs("when=upcoming") == [upcoming.slug, elsewhere.slug]
    assert slugs("when=past") == [past.slug]
    assert slugs("series=other-series") == [elsewhere.slug]
    assert slugs("series=test-series&when=past") == [past.slug]
    assert slugs("unknown=ignored") == slugs("")


@pytest.mark.app_config(PROPAGATE_EXCEPTIONS=False)
def test_an_unexpected_error_under_api_is_a_json_500(client, make_event, monkeypatch):
    event = make_event()

    def broken(event):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr("app.api.event_availability", broken)
    _problem(client.get(f"/api/v1/events/{event.slug}"), 500, "internal_error")


def test_conditional_requests_and_a_registration_changes_the_etag(client, make_event, make_session, register):
    event = make_event()
    session = make_session(event, capacity=5)
    url = f"/api/v1/events/{event.slug}"
    first = client.get(url)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and last_modified.endswith("GMT")
    assert "no-cache" in first.headers["Cache-Control"]

    same = client.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.data == b""
    assert same.headers["ETag"] == etag
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    an_hour_before = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert client.get(url, headers={"If-Modified-Since": an_hour_before}).status_code == 200
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200

    register(event, session)
    after = client.get(url, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert next(s for s in after.get_json()["sessions"])["confirmed"] == 1
    assert client.get(url, headers={"If-None-Match": after.headers["ETag"]}).status_code == 304
    # The list shows no counts: its ETag stays, and it answers 304 on its own validators too.
    listing = client.get("/api/v1/events")
    assert client.get("/api/v1/events", headers={"If-None-Match": listing.headers["ETag"]}).status_code == 304


def test_an_organiser_edit_moves_last_modified(client, make_event, make_session):
    event = make_event()
    session = make_session(event, capacity=5)
    url = f"/api/v1/events/{event.slug}"
    before = client.get(url)
    time.sleep(1.1)  # Last-Modified counts whole seconds
    update_session(
        session.id,
        SessionData(
            kind=session.kind,
            title_pl="Nowy tytuł",
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            capacity=5,
        ),
    )
    after = client.get(url, headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200
    assert after.get_json()["sessions"][0]["title"]["pl"] == "Nowy tytuł"
    assert after.headers["Last-Modified"] != before.headers["Last-Modified"]
    assert client.get(url, headers={"If-Modified-Since": after.headers["Last-Modified"]}).status_code == 304


def test_publishing_an_event_moves_the_lists_last_modified(client, make_event):
    make_event()
    draft = make_event(status=EventStatus.DRAFT)
    before = client.get("/api/v1/events")
    time.sleep(1.1)  # Last-Modified counts whole seconds
    change_event_status(draft.id, "publish")
    after = client.get("/api/v1/events", headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200
    assert draft.slug in [e["slug"] for e in after.get_json()["events"]]


def test_an_event_leaving_the_list_moves_its_last_modified(client, db, make_event):
    make_event()
    leaving = make_event()
    before = client.get("/api/v1/events")
    time.sleep(1.1)
    # An event taken back from the public (as a status change would, with its audit entry).
    leaving.status = EventStatus.DRAFT
    db.session.add(AuditEntry(actor_label="organiser@zapisy.test", action="event.unpublish", event_id=leaving.id))
    db.session.commit()
    after = client.get("/api/v1/events", headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200
    assert leaving.slug not in [e["slug"] for e in after.get_json()["events"]]
