"""Speakers and partners: the organiser's pages, photo uploads, the public event page, the calendar, copies."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from icalendar import Calendar
from PIL import Image
from sqlalchemy import select

from app.events.models import Event, EventStatus, Partner, Speaker
from app.registration.calendar import calendar_bookings, registration_calendar
from tests.conftest import csrf_token

PHOTO_URL = re.compile(r'/media/([A-Za-z0-9_-]{22}\.(?:jpg|png|webp))"')


@pytest.fixture
def uploads(app, tmp_path) -> Path:
    """Keep this test's uploads in its own folder."""
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


def _picture(fmt: str = "PNG", size: tuple[int, int] = (120, 90), exif: bool = False) -> bytes:
    """Return a small picture in ``fmt`` (a JPEG with a camera's GPS block when ``exif``)."""
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    if exif:
        data = Image.Exif()
        data[0x010F] = "Camera maker"  # Make
        data[0x8825] = {1: "N", 2: (51.0, 50.0, 0.0)}  # GPS position
        image.save(out, fmt, exif=data)
    else:
        image.save(out, fmt)
    return out.getvalue()


def _post(client, url: str, data: dict, photo: tuple[bytes, str] | None = None, field: str = "photo"):  # type: ignore[no-untyped-def]
    """GET the form, then POST it as multipart with the page's CSRF token and an optional file."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    form = {**data, "csrf_token": csrf_token(page.text)}
    if photo is not None:
        form[field] = (io.BytesIO(photo[0]), photo[1])
    return client.post(url, data=form, content_type="multipart/form-data")


def _speaker_form(**overrides) -> dict:  # type: ignore[no-untyped-def]
    values = {
        "name": "Paul Goedknegt",
        "organisation": "Gemeente Nijmegen",
        "role_pl": "planista miejski",
        "role_en": "urban planner",
        "bio_pl": "O **Zielonej Stolicy Europy 2018**: [Nijmegen](https://www.nijmegen.nl)",
        "bio_en": "On the **European Green Capital 2018**",
        "position": "0",
    }
    values.update(overrides)
    return values


def test_organiser_adds_a_speaker_with_a_photo_and_sessions(
    client, db, make_event, make_session, as_organiser, uploads
):
    event = make_event()
    technologies = make_session(event, start_hour=15, title_pl="Nowoczesne technologie", title_en="New technologies")
    other = make_session(event, start_hour=11)
    as_organiser("organiser", events=[event])

    response = _post(
        client,
        f"/admin/events/{event.id}/speakers/new",
        _speaker_form(session_ids=[str(technologies.id)]),
        photo=(_picture("JPEG", (2400, 1600), exif=True), "IMG_0001.jpg"),
    )
    assert response.status_code == 303, response.text
    speaker = db.session.execute(select(Speaker)).scalar_one()
    assert (speaker.name, speaker.role_en, speaker.organisation) == (
        "Paul Goedknegt",
        "urban planner",
        "Gemeente Nijmegen",
    )
    assert [s.id for s in speaker.sessions] == [technologies.id]
    # Stored under a random name, redrawn at most 800 pixels a side, without the camera's metadata.
    assert speaker.photo and re.fullmatch(r"[A-Za-z0-9_-]{22}\.jpg", speaker.photo) and "IMG_0001" not in speaker.photo
    stored = Image.open(uploads / speaker.photo)
    assert stored.format == "JPEG" and max(stored.size) == 800
    assert not stored.getexif()
    assert [p.name for p in uploads.iterdir()] == [speaker.photo]

    listing = client.get(f"/admin/events/{event.id}/speakers/")
    assert listing.status_code == 200 and "Paul Goedknegt" in listing.text and technologies.title_pl in listing.text

    served = client.get(f"/media/{speaker.photo}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert client.get("/media/..%2Finstance%2Fzapisy.sqlite").status_code == 404
    assert client.get("/media/" + "a" * 22 + ".html").status_code == 404

    # The edit page ticks the speaker's sessions; a new choice replaces them, and the photo stays.
    edit_url = f"/admin/events/{event.id}/speakers/{speaker.id}/edit"
    page = client.get(edit_url).text
    assert 'name="remove_photo"' in page and f"/media/{speaker.photo}" in page
    assert 'name="remove_photo"' not in client.get(f"/admin/events/{event.id}/speakers/new").text
    assert re.search(rf'value="{technologies.id}"[^>]*checked|checked[^>]*value="{technologies.id}"', page)
    response = _post(client, edit_url, _speaker_form(session_ids=[str(other.id), str(technologies.id)]))
    assert response.status_code == 303
    db.session.expire_all()
    speaker = db.session.get(Speaker, speaker.id)
    assert {s.id for s in speaker.sessions} == {other.id, technologies.id} and speaker.photo


def test_a_new_photo_replaces_the_old_file_and_deleting_removes_it(client, db, make_event, as_organiser, uploads):
    event = make_event()
    as_organiser("organiser", events=[event])
    assert (
        _post(client, f"/admin/events/{event.id}/speakers/new", _speaker_form(), (_picture(), "a.png")).status_code
        == 303
    )
    speaker = db.session.execute(select(Speaker)).scalar_one()
    first = speaker.photo
    edit_url = f"/admin/events/{event.id}/speakers/{speaker.id}/edit"
    assert _post(client, edit_url, _speaker_form(), (_picture("WEBP"), "b.webp")).status_code == 303
    db.session.expire_all()
    second = db.session.get(Speaker, speaker.id).photo
    assert second != first and second.endswith(".webp")
    assert [p.name for p in uploads.iterdir()] == [second]
    assert _post(client, edit_url, _speaker_form(remove_photo="y")).status_code == 303
    db.session.expire_all()
    assert db.session.get(Speaker, speaker.id).photo is None and list(uploads.iterdir()) == []

    assert _post(client, edit_url, _speaker_form(), (_picture(), "c.png")).status_code == 303
    token = csrf_token(client.get(f"/admin/events/{event.id}/speakers/").text)
    response = client.post(f"/admin/events/{event.id}/speakers/{speaker.id}/delete", data={"csrf_token": token})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.execute(select(Speaker)).first() is None and list(uploads.iterdir()) == []


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ((b"<html><script>alert(1)</script></html>", "photo.png"), "not a JPEG, PNG or WebP"),
        ((b"GIF89a" + b"\x00" * 40, "photo.gif"), "not a JPEG, PNG or WebP"),
        ((_picture("GIF"), "photo.gif"), "not a JPEG, PNG or WebP"),
        ((_picture()[:60], "cut.png"), "not a JPEG, PNG or WebP"),
        ((_picture("BMP"), "photo.jpg"), "not a JPEG, PNG or WebP"),
        ((b"%PDF-1.4 " + b"x" * 100, "cv.pdf"), "not a JPEG, PNG or WebP"),
    ],
)
def test_what_is_not_a_picture_is_refused_and_nothing_is_stored(
    client, db, make_event, as_organiser, uploads, upload, message
):
    event = make_event()
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    response = _post(client, f"/admin/events/{event.id}/speakers/new", _speaker_form(), upload)
    assert response.status_code == 422 and message in response.text
    assert db.session.execute(select(Speaker)).first() is None
    assert not uploads.exists() or list(uploads.iterdir()) == []


@pytest.mark.app_config(UPLOAD_MAX_BYTES=20_000, UPLOAD_MAX_PIXELS=1_000_000)
def test_too_large_pictures_are_refused_with_a_message(client, db, make_event, as_organiser, uploads):
    event = make_event()
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    noisy = Image.effect_noise((400, 400), 100).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 20_000
    response = _post(client, f"/admin/events/{event.id}/speakers/new", _speaker_form(), (out.getvalue(), "big.png"))
    assert response.status_code == 422 and "too large" in response.text
    response = _post(
        client, f"/admin/events/{event.id}/speakers/new", _speaker_form(), (_picture("PNG", (1200, 1000)), "wide.png")
    )
    assert response.status_code == 422 and "too many pixels" in response.text
    assert db.session.execute(select(Speaker)).first() is None


def test_the_polish_form_says_why_in_polish_and_keeps_the_fields(client, db, make_event, as_organiser, uploads):
    event = make_event()
    as_organiser("organiser", events=[event])
    response = _post(client, f"/admin/events/{event.id}/speakers/new", _speaker_form(), (b"nie obraz", "x.jpg"))
    assert response.status_code == 422
    assert "Plik nie jest obrazem JPEG, PNG ani WebP." in response.text
    assert 'value="Paul Goedknegt"' in response.text


def test_a_speaker_cannot_be_attached_to_another_events_session(client, db, make_event, make_session, as_organiser):
    mine, theirs = make_event(), make_event()
    foreign = make_session(theirs)
    as_organiser("organiser", events=[mine])
    from app.admin import lineup

    with pytest.raises(lineup.ManagementError):
        lineup.create_speaker(mine.id, lineup.SpeakerData(name="X", session_ids=[foreign.id]))
    assert db.session.execute(select(Speaker)).first() is None
    # Through the page, the other event's session is not even a choice.
    response = _post(client, f"/admin/events/{mine.id}/speakers/new", _speaker_form(session_ids=[str(foreign.id)]))
    assert response.status_code == 422


def test_organiser_manages_partners_by_kind_and_only_web_addresses(client, db, make_event, as_organiser, uploads):
    event = make_event()
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    new = f"/admin/events/{event.id}/partners/new"
    bad = _post(client, new, {"name": "Zły", "role": "partner", "url": "javascript:alert(1)", "position": "0"})
    assert bad.status_code == 422 and "https://" in bad.text
    bad_kind = _post(client, new, {"name": "Zły", "role": "sponsor", "url": "", "position": "0"})
    assert bad_kind.status_code == 422
    assert db.session.execute(select(Partner)).first() is None
    for name, role, position in (
        ("Siemens", "partner", 1),
        ("Forum Od-nowa", "content", 2),
        ("Prezydent Miasta Łodzi", "patron", 3),
    ):
        response = _post(
            client,
            new,
            {"name": name, "role": role, "url": "https://example.org/" + str(position), "position": str(position)},
            (_picture(), "logo.png") if role == "partner" else None,
            field="logo",
        )
        assert response.status_code == 303, response.text
    partner = db.session.execute(select(Partner).where(Partner.name == "Siemens")).scalar_one()
    assert partner.logo and (uploads / partner.logo).is_file()
    response = _post(
        client,
        f"/admin/events/{event.id}/partners/{partner.id}/edit",
        {"name": "Siemens", "role": "partner", "url": "", "position": "1", "remove_logo": "y"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Partner, partner.id).url is None and db.session.get(Partner, partner.id).logo is None
    assert list(uploads.iterdir()) == []

    page = client.get(f"/events/{event.slug}/").text
    partners = page[page.index('id="partners"') :]
    assert partners.index("Partners") < partners.index("Siemens") < partners.index("Substantive partners")
    assert partners.index("Forum Od-nowa") < partners.index("Patronage") < partners.index("Prezydent Miasta Łodzi")
    client.get("/language/pl")
    polish = client.get(f"/events/{event.slug}/").text
    assert "Partnerzy merytoryczni" in polish and "Patronat" in polish

    token = csrf_token(client.get(f"/admin/events/{event.id}/speakers/").text)
    assert (
        client.post(f"/admin/events/{event.id}/partners/{partner.id}/delete", data={"csrf_token": token}).status_code
        == 303
    )
    db.session.expire_all()
    assert db.session.get(Partner, partner.id) is None


def test_the_event_page_lists_speakers_per_session_in_both_languages(client, db, make_event, make_session):
    event = make_event(description_pl="Tematy:\n\n- **film**\n- media\n\n<script>alert(1)</script>")
    session = make_session(event, start_hour=15, description_pl="Trzy miasta, [program](https://example.org/p)")
    speakers = [
        Speaker(
            name="Paul Goedknegt",
            role_pl="planista miejski",
            role_en="urban planner",
            organisation="Gemeente Nijmegen",
            bio_pl="Ekologia *Nijmegen*",
            bio_en="*Nijmegen*'s ecology",
            position=1,
        ),
        Speaker(
            name="Marc de Wit",
            organisation="Circle Economy",
            bio_pl='<img src=x onerror="alert(1)"> [x](javascript:alert(1))',
            position=2,
        ),
    ]
    event.speakers.extend(speakers)
    session.speakers = speakers
    db.session.commit()

    page = client.get(f"/events/{event.slug}/").text
    assert "<li><strong>film</strong></li>" in page and "<script>alert(1)" not in page
    assert '<a href="https://example.org/p" rel="noopener noreferrer nofollow">program</a>' in page
    card = page[page.index(session.title_pl) : page.index('id="speakers"')]
    assert "Paul Goedknegt" in card and "planista miejski, Gemeente Nijmegen" in card and "Marc de Wit" in card
    speakers = page[page.index('id="speakers"') :]
    assert speakers.index("Paul Goedknegt") < speakers.index("Marc de Wit")
    assert "Ekologia <em>Nijmegen</em>" in speakers
    assert ">MW</span>" in speakers  # no photo: the initials
    assert "&lt;img src=x onerror" in speakers  # shown as text, never as a tag
    assert "<img src=x" not in speakers and 'href="javascript' not in speakers

    client.get("/language/en")
    english = client.get(f"/events/{event.slug}/").text
    assert "urban planner, Gemeente Nijmegen" in english and "<em>Nijmegen</em>'s ecology" in english
    assert "Speakers" in english and "Speaks at" in english


@pytest.mark.app_config(EVENT_PAGE_CACHE_SECONDS=60)
def test_the_kept_programme_shows_a_new_speaker_once_the_programme_changes(client, db, make_event, make_session):
    event = make_event()
    session = make_session(event)
    assert "Gilad Uziely" not in client.get(f"/events/{event.slug}/?lang=pl").text
    db.session.add(Speaker(event=event, name="Gilad Uziely", sessions=[session]))
    db.session.commit()
    make_session(event, start_hour=12)  # a changed set of sessions rebuilds the kept programme
    client.application.extensions.get("zapisy_page_cache", {}).clear()
    assert "Gilad Uziely" in client.get(f"/events/{event.slug}/?lang=pl").text


def test_the_calendar_names_the_speakers_and_gives_the_description_as_plain_text(
    db, make_event, make_session, register
):
    event = make_event()
    session = make_session(event, description_pl="**Trzy** miasta: [program](https://example.org/p)", description_en="")
    speakers = [
        Speaker(
            name="Paul Goedknegt",
            role_pl="planista miejski",
            role_en="urban planner",
            organisation="Gemeente Nijmegen",
        ),
        Speaker(name="Gilad Uziely", organisation="Urząd Miasta Tel Awiw", position=1),
    ]
    event.speakers.extend(speakers)
    session.speakers = speakers
    db.session.commit()
    registration = register(event, session)
    from app.db import utcnow

    for language, heading, role in (("pl", "Prelegenci", "planista miejski"), ("en", "Speakers", "urban planner")):
        written = registration_calendar(event, calendar_bookings(registration), language, "zapisy.test", utcnow())
        [entry] = [e for e in Calendar.from_ical(written).walk("VEVENT") if str(e["UID"]).startswith("registration-")]
        assert str(entry["DESCRIPTION"]) == (
            "Trzy miasta: program (https://example.org/p)\n\n"
            f"{heading}:\n- Paul Goedknegt — {role}, Gemeente Nijmegen\n- Gilad Uziely — Urząd Miasta Tel Awiw"
        )


def test_a_copied_event_has_its_own_speakers_photos_and_logos(
    client, db, make_event, make_session, as_organiser, uploads
):
    source = make_event()
    first = make_session(source, start_hour=9)
    second = make_session(source, start_hour=12)
    as_organiser("organiser", events=[source])
    _post(
        client,
        f"/admin/events/{source.id}/speakers/new",
        _speaker_form(session_ids=[str(second.id)]),
        (_picture(), "p.png"),
    )
    _post(
        client,
        f"/admin/events/{source.id}/partners/new",
        {"name": "Agora", "role": "organiser", "url": "", "position": "0"},
        (_picture(), "l.png"),
        field="logo",
    )
    response = client.post(
        f"/admin/events/{source.id}/clone",
        data={
            "slug": "pracownia-kutno",
            "city": "Kutno",
            "venue": "",
            "starts_on": "2031-05-05",
            "csrf_token": csrf_token(client.get(f"/admin/events/{source.id}/clone").text),
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    clone = db.session.execute(select(Event).where(Event.slug == "pracownia-kutno")).scalar_one()
    original = db.session.execute(select(Event).where(Event.id == source.id)).scalar_one()
    [copy] = clone.speakers
    assert copy.name == "Paul Goedknegt" and [s.title_pl for s in copy.sessions] == [second.title_pl]
    assert copy.sessions[0].event_id == clone.id and first.id not in {s.id for s in copy.sessions}
    assert copy.photo and copy.photo != original.speakers[0].photo
    assert (uploads / copy.photo).read_bytes() == (uploads / original.speakers[0].photo).read_bytes()
    assert clone.partners[0].logo and clone.partners[0].logo != original.partners[0].logo
    # Deleting the copy's speaker leaves the original's photo.
    token = csrf_token(client.get(f"/admin/events/{clone.id}/speakers/").text)
    client.post(f"/admin/events/{clone.id}/speakers/{copy.id}/delete", data={"csrf_token": token})
    assert (uploads / original.speakers[0].photo).is_file()


def test_the_demo_conference_has_its_speakers_and_the_dialogue_session_its_partners(runner, client, db):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    page = client.get("/events/pracownia-miast-sandomierz/?lang=pl").text
    for name, detail in (
        ("Paul Goedknegt", "planista miejski, Gemeente Nijmegen"),
        ("Gilad Uziely", "Urząd Miasta Tel Awiw"),
        ("Marc de Wit", "Circle Economy"),
    ):
        assert name in page and detail in page
    assert '<a href="https://www.circle-economy.com" rel="noopener noreferrer nofollow">Circle Economy</a>' in page
    english = client.get("/events/pracownia-miast-sandomierz/?lang=en").text
    assert "urban planner, Gemeente Nijmegen" in english and "European Green Capital 2018" in english
    lodz = client.get("/events/v-sesja-dialogu-lodz/?lang=pl").text
    partners = lodz[lodz.index('id="partners"') :]
    assert partners.index("Siemens") < partners.index("Partnerzy merytoryczni") < partners.index("Forum Od-nowa")
    assert partners.index("Patronat") < partners.index("Marszałek Województwa Łódzkiego")
    # Running it again adds no second set of speakers.
    runner.invoke(args=["seed-demo"])
    db.session.rollback()
    assert len(db.session.execute(select(Speaker)).all()) == 3


def test_speaker_and_partner_pages_are_for_the_events_organisers_only(
    client, db, make_event, make_session, as_organiser
):
    mine, theirs = make_event(), make_event()
    session = make_session(theirs)
    speaker = Speaker(name="Gilad Uziely")
    partner = Partner(name="Deloitte", role="partner")
    theirs.speakers.append(speaker)
    session.speakers.append(speaker)
    theirs.partners.append(partner)
    db.session.commit()
    paths = [
        f"/admin/events/{{event}}/speakers/{speaker.id}/edit",
        f"/admin/events/{{event}}/partners/{partner.id}/edit",
    ]
    posts = [
        f"/admin/events/{{event}}/speakers/{speaker.id}/delete",
        f"/admin/events/{{event}}/partners/{partner.id}/delete",
    ]
    assert client.get(f"/admin/events/{theirs.id}/speakers/").status_code == 302  # anonymous: the login page
    as_organiser("organiser", events=[mine])
    token = csrf_token(client.get("/admin/").text)
    for event_id, expected in ((theirs.id, (403, 404)), (mine.id, (404,))):  # theirs, or theirs through my event
        assert client.get(f"/admin/events/{theirs.id}/speakers/").status_code in (403, 404)
        for path in paths:
            assert client.get(path.format(event=event_id)).status_code in expected, path
        for path in posts:
            assert client.post(path.format(event=event_id), data={"csrf_token": token}).status_code in expected
    db.session.expire_all()
    assert db.session.get(Speaker, speaker.id) and db.session.get(Partner, partner.id)


def test_staff_of_the_event_cannot_change_speakers(client, db, make_event, as_organiser):
    event = make_event()
    event.speakers.append(Speaker(name="Marc de Wit"))
    db.session.commit()
    as_organiser("staff", events=[event])
    assert client.get(f"/admin/events/{event.id}/speakers/").status_code == 403
    assert client.get(f"/admin/events/{event.id}/speakers/new").status_code == 403
    assert client.get(f"/admin/events/{event.id}/partners/new").status_code == 403


def test_a_photo_larger_than_other_requests_may_be_is_accepted(client, db, make_event, as_organiser, uploads, app):
    event = make_event()
    as_organiser("organiser", events=[event])
    noisy = Image.merge("RGB", [Image.effect_noise((900, 700), 120) for _ in range(3)])
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert app.config["MAX_CONTENT_LENGTH"] < len(out.getvalue()) < app.config["UPLOAD_MAX_BYTES"]
    response = _post(client, f"/admin/events/{event.id}/speakers/new", _speaker_form(), (out.getvalue(), "big.png"))
    assert response.status_code == 303
    assert db.session.execute(select(Speaker)).scalar_one().photo
    # Any other page still refuses a body that large.
    token = csrf_token(client.get(f"/admin/events/{event.id}/speakers/").text)
    response = client.post(
        f"/admin/events/{event.id}/sessions/new", data={"csrf_token": token, "title_pl": "x" * len(out.getvalue())}
    )
    assert response.status_code == 413


def test_deleting_an_event_deletes_its_pictures(client, db, make_event, as_organiser, uploads):
    event = make_event(status=EventStatus.DRAFT)
    as_organiser("organiser", events=[event])
    _post(client, f"/admin/events/{event.id}/speakers/new", _speaker_form(), (_picture(), "p.png"))
    _post(
        client,
        f"/admin/events/{event.id}/partners/new",
        {"name": "Agora", "role": "organiser", "url": "", "position": "0"},
        (_picture(), "l.png"),
        field="logo",
    )
    assert len(list(uploads.iterdir())) == 2
    token = csrf_token(client.get(f"/admin/events/{event.id}/edit").text)
    assert client.post(f"/admin/events/{event.id}/delete", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Event, event.id) is None and list(uploads.iterdir()) == []
