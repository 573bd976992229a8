"""Certificates of attendance in a browser: checked in at the desk, then after the event the manage page's link
downloads the participant's PDF, the organiser downloads all of them and emails the links."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from e2e_support import Person, event_id_of, expect, flow_event_title, login, register, screenshot, unique_email
from pypdf import PdfReader


def _pdf_text(path: str | Path) -> str:
    """Return the text of every page of a downloaded PDF."""
    reader = PdfReader(io.BytesIO(Path(path).read_bytes()))
    return "\n".join(page.extract_text() for page in reader.pages)


def _end_the_event(database: Path, slug: str) -> None:
    """Move the event into the past (it ended an hour ago), as if the day had gone by."""
    from app import create_app
    from app.events.models import Event
    from app.extensions import db
    from config import DevelopmentConfig

    app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}", MAIL_SERVER=None)
    with app.app_context():
        event = db.session.execute(db.select(Event).where(Event.slug == slug)).scalar_one()
        now = datetime.now(UTC)
        event.starts_at = now - timedelta(hours=9)
        event.ends_at = now - timedelta(hours=1)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_after_the_event_the_manage_page_link_downloads_the_certificate(server, new_page) -> None:  # type: ignore[no-untyped-def]
    slug = "e2e-pl"
    person = Person(
        first_name="Żaneta",
        last_name="Świątkowska-Łęcka",
        email=unique_email("certificate"),
        organisation="Urząd Miasta Płocka",
        sessions=["Debata: transport publiczny"],
    )
    participant = new_page("phone")
    register(participant, slug, person)
    participant.wait_for_url("**/registered")
    participant.locator("a[href*='/r/']").first.click()
    participant.wait_for_url(re.compile(r"/r/[A-Za-z0-9_-]+$"))
    manage_url = participant.url
    code = participant.locator("#checkin-code strong").inner_text().strip()
    # Before the event nothing is offered.
    expect(participant.locator("#certificate")).to_have_count(0)

    desk = new_page("desktop")
    login(desk)
    event_id = event_id_of(desk, flow_event_title(slug))
    desk.goto(f"/admin/events/{event_id}/check-in")
    desk.locator("#checkin-code").fill(code)
    desk.locator("#checkin-form button[type=submit]").click()
    expect(desk.locator("#checkin-result")).to_contain_text("Świątkowska-Łęcka")
    participant.goto(manage_url)
    expect(participant.locator("#certificate")).to_contain_text("po zakończeniu wydarzenia")

    _end_the_event(server.database, slug)

    participant.goto(manage_url)
    link = participant.get_by_role("link", name="Pobierz zaświadczenie (PDF)")
    expect(link).to_be_visible()
    screenshot(participant, "certificate-manage-page")
    with participant.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"{slug}-certificate.pdf"
    text = _pdf_text(download.path())
    assert "ZAŚWIADCZENIE O UDZIALE" in text
    assert "Żaneta Świątkowska-Łęcka" in text
    assert "Debata: transport publiczny" in text
    assert "Płock" in text

    # The organiser: every certificate in one PDF, then the email with a link to it.
    desk.goto(f"/admin/events/{event_id}/dashboard")
    desk.get_by_role("link", name="Zaświadczenia o udziale").click()
    expect(desk.locator("table")).to_contain_text("Żaneta Świątkowska-Łęcka")
    with desk.expect_download() as download_info:
        desk.locator("#certificates-all").click()
    assert "Żaneta Świątkowska-Łęcka" in _pdf_text(download_info.value.path())
    before = server.mail_count(person.email)
    desk.locator("#certificates-send").click()
    expect(desk.locator(".alert-success")).to_be_visible()
    message = server.wait_for_mail(person.email, "Zaświadczenie o udziale", after=before)
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(re.escape(server.url) + r"/r/[A-Za-z0-9_-]+/certificate\.pdf", body)
    assert match, body
    # The email's link is the new private link: the old one no longer opens the page.
    assert participant.goto(manage_url).status == 404
    response = participant.request.get(match.group(0))
    assert response.ok and response.headers["content-type"] == "application/pdf"
