"""Ranked workshops in the app: preview, publication, results, waiting lists and expiring offers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.allocation import Objective
from app.events.models import BookingMode, Session
from app.events.services import ranked_blocks
from app.ranking import services as ranking
from app.ranking.errors import AlreadyPublished
from app.ranking.models import AllocationRun, RunStatus
from app.registration import offers, services
from app.registration.errors import RankingClosed
from app.registration.models import Booking, BookingStatus, Registration
from tests.conftest import NOW, csrf_token


def _workshops(make_session, event, *capacities, **extra):  # type: ignore[no-untyped-def]
    """Add ranked workshops at the same time, titled A, B, C…; return them."""
    return [
        make_session(
            event,
            start_hour=10,
            capacity=c,
            booking_mode=BookingMode.RANKED,
            title_pl=f"Warsztat {chr(65 + i)}",
            title_en=f"Workshop {chr(65 + i)}",
            **extra,
        )
        for i, c in enumerate(capacities)
    ]


def _key(event) -> str:  # type: ignore[no-untyped-def]
    return ranked_blocks(list(event.sessions))[0].key


def _rank(event, participant, *sessions, **person):  # type: ignore[no-untyped-def]
    """Register someone with these ranked choices (best first); return (registration id, token)."""
    choices = services.Choices(rankings={_key(event): [s.id for s in sessions]})
    result = services.register(event, participant(language="en", **person), choices)
    return result.registration.id, result.token


def _bookings(db, session_id=None):  # type: ignore[no-untyped-def]
    db.session.rollback()
    query = select(Booking).order_by(Booking.id)
    if session_id is not None:
        query = query.where(Booking.session_id == session_id)
    return list(db.session.execute(query).scalars())


def _taken(db, session_id: int) -> int:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return db.session.get(Session, session_id).taken


def _live(db, registration_id: int) -> list[Booking]:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return db.session.get(Registration, registration_id).live_bookings


def test_preview_changes_nothing(db, make_event, make_session, participant, outbox):
    event = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    for _ in range(3):
        _rank(event, participant, a, b)
    emails = len(outbox.messages())
    run = ranking.preview(event, ranking.Options(Objective.FAIR, seed=7))
    assert run.status == RunStatus.PREVIEW and run.seed == 7
    assert set(run.figures) == {"optimal", "first_come", "lottery"}
    assert run.figures["optimal"]["overall"]["places"] == 2
    assert _bookings(db) == []
    assert _taken(db, a.id) == 0 and _taken(db, b.id) == 0
    assert len(outbox.messages()) == emails


def test_publish_books_waitlists_and_emails_everyone(db, make_event, make_session, participant, outbox):
    event = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    people = [_rank(event, participant, a, b)[0] for _ in range(3)]
    run = ranking.publish(event, ranking.preview(event, ranking.Options(Objective.FAIR, seed=3)).id)
    assert run.status == RunStatus.PUBLISHED and run.published_at is not None
    assert _taken(db, a.id) == 1 and _taken(db, b.id) == 1
    confirmed = {bk.registration_id: bk for bk in _bookings(db) if bk.status == BookingStatus.CONFIRMED}
    assert len(confirmed) == 2
    (left_out,) = set(people) - set(confirmed)
    waiting = [bk for bk in _bookings(db) if bk.status == BookingStatus.WAITLISTED]
    assert [(bk.registration_id, bk.session_id, bk.rank) for bk in waiting] == [
        (left_out, a.id, 1),
        (left_out, b.id, 2),
    ]
    results = outbox.messages(kind="ranked_result")
    assert sorted(m.registration_id for m in results) == sorted(people)
    by_person = {m.registration_id: m.body_text for m in results}
    for registration_id, booking in confirmed.items():
        body = by_person[registration_id]
        title = "Workshop A" if booking.session_id == a.id else "Workshop B"
        assert title in body and f"your {'1st' if booking.rank == 1 else '2nd'} choice" in body
        if booking.rank == 2:
            assert "Your 1st choice was full with participants who ranked it at least as high as you." in body
    assert "You are on the waiting lists of: Workshop A, Workshop B." in by_person[left_out]
    assert "Your 1st and 2nd choices were full" in by_person[left_out]


def test_publish_is_atomic(db, make_event, make_session, participant, outbox, monkeypatch):
    event = make_event()
    a, b = _workshops(make_session, event, 2, 2, groups=None)
    for _ in range(4):
        _rank(event, participant, a, b)
    emails = len(outbox.messages())
    real = ranking.queue_message
    calls = {"n": 0}

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the process died")
        return real(*args, **kwargs)

    run = ranking.preview(event, ranking.Options(seed=1))
    monkeypatch.setattr(ranking, "queue_message", failing)
    with pytest.raises(RuntimeError):
        ranking.publish(event, run.id)
    assert _bookings(db) == []
    assert _taken(db, a.id) == 0 and _taken(db, b.id) == 0
    assert db.session.execute(select(AllocationRun.status)).scalars().all() == [RunStatus.PREVIEW]
    assert len(outbox.messages()) == emails


def test_second_publish_is_refused_and_nothing_duplicated(db, make_event, make_session, participant, outbox):
    event = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    for _ in range(2):
        _rank(event, participant, a, b)
    first = ranking.preview(event, ranking.Options(seed=1))
    other = ranking.preview(event, ranking.Options(seed=2))
    ranking.publish(event, first.id)
    before = (len(_bookings(db)), len(outbox.messages()))
    with pytest.raises(AlreadyPublished):
        ranking.publish(event, other.id)
    with pytest.raises(AlreadyPublished):  # the same preview again (a second click)
        ranking.publish(event, first.id)
    with pytest.raises(AlreadyPublished):
        ranking.preview(event, ranking.Options(seed=2))
    assert (len(_bookings(db)), len(outbox.messages())) == before
    assert _taken(db, a.id) == 1


def test_groups_are_filled_within_capacity(db, make_event, make_session, participant):
    event = make_event()
    (a,) = _workshops(make_session, event, None, groups=[1, 2])
    for _ in range(4):
        _rank(event, participant, a)
    ranking.publish(event, ranking.preview(event, ranking.Options(seed=5)).id)
    db.session.rollback()
    session = db.session.get(Session, a.id)
    assert session.taken == 3 and sorted(g.taken for g in session.groups) == [1, 2]
    assert all(bk.group_id for bk in _bookings(db, a.id) if bk.status == BookingStatus.CONFIRMED)


def test_allocated_places_are_spread_over_the_groups_like_registration(db, make_event, make_session, participant):
    event = make_event()
    (a,) = _workshops(make_session, event, None, groups=[12, 12])
    for _ in range(6):
        _rank(event, participant, a)
    ranking.publish(event, ranking.preview(event, ranking.Options(seed=5)).id)
    db.session.rollback()
    # The emptiest group first (as registration does), not 6/12 and 0/12.
    assert [g.taken for g in db.session.get(Session, a.id).groups] == [3, 3]


def _contest(event, make_session, participant):  # type: ignore[no-untyped-def]
    """A (1 place) wanted 1st by two people and 2nd by an earlier one; B has no place."""
    a, b = _workshops(make_session, event, 1, 0)
    early, _ = _rank(event, participant, b, a)
    first = _rank(event, participant, a, b)
    second = _rank(event, participant, a, b)
    ranking.publish(event, ranking.preview(event, ranking.Options(seed=11)).id)
    return a, b, early, first, second


def test_freed_place_is_offered_to_the_highest_rank_then_accepted(
    app, db, client, make_event, make_session, participant, outbox
):
    event = make_event()
    a, b, early, first, second = _contest(event, make_session, participant)
    waiting = [bk for bk in _bookings(db, a.id) if bk.status == BookingStatus.WAITLISTED]
    holder = next(r for r in (first, second) if any(bk.status == BookingStatus.CONFIRMED for bk in _live(db, r[0])))
    waiter = first if holder is second else second
    # Waiting list of A in rank order: the later registration ranked it 1st, the earlier one 2nd.
    assert [(bk.registration_id, bk.rank) for bk in waiting] == [(waiter[0], 1), (early, 2)]

    holder_booking = next(bk for bk in _live(db, holder[0]) if bk.session_id == a.id)
    services.cancel_booking(db.session.get(Registration, holder[0]), holder_booking.id)
    offer = next(bk for bk in _live(db, waiter[0]) if bk.session_id == a.id)
    assert offer.status == BookingStatus.OFFERED and offer.offer_expires_at is not None
    assert _taken(db, a.id) == 1  # held while offered
    assert [bk.status for bk in _live(db, early) if bk.session_id == a.id] == [BookingStatus.WAITLISTED]
    assert outbox.messages(kind="ranked_offer", to=None)[-1].registration_id == waiter[0]

    page = client.get(f"/r/{waiter[1]}?lang=en")
    assert "A place in “Workshop A” is offered to you." in page.text
    response = client.post(f"/r/{waiter[1]}/offers/{offer.id}/accept", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    statuses = {bk.session_id: bk.status for bk in _live(db, waiter[0])}
    assert statuses == {a.id: BookingStatus.CONFIRMED}  # left B's waiting list of the same time
    assert _taken(db, a.id) == 1


def test_offer_without_csrf_is_refused(client, db, make_event, make_session, participant):
    event = make_event()
    a, b, early, first, second = _contest(event, make_session, participant)
    response = client.post(f"/r/{first[1]}/offers/1/accept", data={})
    assert response.status_code == 400


def test_expired_offer_passes_on(app, db, make_event, make_session, participant, runner):
    event = make_event()
    a, b, early, first, second = _contest(event, make_session, participant)
    holder = next(r for r in (first, second) if any(bk.status == BookingStatus.CONFIRMED for bk in _live(db, r[0])))
    waiter = first if holder is second else second
    holder_booking = next(bk for bk in _live(db, holder[0]) if bk.session_id == a.id)
    services.cancel_booking(db.session.get(Registration, holder[0]), holder_booking.id)
    assert offers.expire_offers(NOW + timedelta(hours=47)) == 0
    assert offers.expire_offers(NOW + timedelta(hours=49)) == 1
    assert [bk.session_id for bk in _live(db, waiter[0]) if bk.session_id == a.id] == []
    passed = next(bk for bk in _live(db, early) if bk.session_id == a.id)
    assert passed.status == BookingStatus.OFFERED
    assert _taken(db, a.id) == 1
    result = runner.invoke(args=["offers", "expire"])
    assert result.exit_code == 0 and "Expired 0 offers." in result.output


def test_manage_page_shows_the_result(client, db, make_event, make_session, participant):
    event = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    people = [_rank(event, participant, a, b) for _ in range(3)]
    ranking.publish(event, ranking.preview(event, ranking.Options(seed=4)).id)
    pages = [client.get(f"/r/{token}?lang=en").text for _, token in people]
    assert all("Your workshop places" in page for page in pages)
    assert sum("your 1st choice" in p for p in pages) == 1
    assert sum("your 2nd choice" in p for p in pages) == 1
    assert sum("No place could be given." in p for p in pages) == 1
    # Those with a place keep it (no workshop to pick at that time); the one left out may take
    # what is left first come, first served (here nothing is free: a waiting list).
    given = [p for p in pages if "No place could be given." not in p]
    assert all("You already have a place in a workshop at this time." in p and 'name="rank_' not in p for p in given)
    (left_out,) = [p for p in pages if "No place could be given." in p]
    assert "remaining places are given first come, first served" in left_out
    assert f'name="rank_{_key(event)}_1"' in left_out and f'name="rank_{_key(event)}_2"' not in left_out


def test_manage_page_offers_only_eligible_workshops(client, make_event, make_session, participant):
    event = make_event()
    a, b = _workshops(make_session, event, 5, 5)
    (mayors,) = _workshops(make_session, event, 5, eligible_categories=["mayor"])
    _, token = _rank(event, participant, a, category="ngo")
    page = client.get(f"/r/{token}").text
    assert f'<option value="{a.id}"' in page and f'<option value="{mayors.id}"' not in page


def test_ranks_cannot_change_after_the_deadline(client, db, make_event, make_session, participant):
    event = make_event(preference_deadline=NOW + timedelta(days=1))
    a, b = _workshops(make_session, event, 5, 5)
    registration_id, token = _rank(event, participant, a, b)
    db.session.rollback()
    event.preference_deadline = NOW - timedelta(minutes=1)
    db.session.commit()
    registration = db.session.get(Registration, registration_id)
    with pytest.raises(RankingClosed):
        services.change_choices(registration, services.Choices(rankings={_key(event): [b.id, a.id]}))
    page = client.get(f"/r/{token}?lang=en")
    assert "The deadline for ranking workshops has passed" in page.text
    assert f'name="rank_{_key(event)}_1"' not in page.text
    response = client.post(
        f"/r/{token}?lang=en",
        data={"csrf_token": csrf_token(page.text), f"rank_{_key(event)}_1": b.id, f"rank_{_key(event)}_2": a.id},
    )
    assert response.status_code == 422 and "The deadline for ranking workshops has passed" in response.text
    # A change without the ranked fields keeps the ranks.
    response = client.post(f"/r/{token}", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    db.session.rollback()
    assert [
        p.session_id for p in sorted(db.session.get(Registration, registration_id).preferences, key=lambda p: p.rank)
    ] == [a.id, b.id]
    # New registrations cannot rank either.
    with pytest.raises(RankingClosed):
        _rank(event, participant, a)


def test_reopen_withdraws_places_and_allows_a_new_run(db, make_event, make_session, participant):
    event = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    for _ in range(3):
        _rank(event, participant, a, b)
    ranking.publish(event, ranking.preview(event, ranking.Options(seed=1)).id)
    run = ranking.reopen(event)
    assert run.status == RunStatus.REOPENED
    assert _taken(db, a.id) == 0 and _taken(db, b.id) == 0
    assert all(bk.status == BookingStatus.CANCELLED for bk in _bookings(db))
    ranking.publish(event, ranking.preview(event, ranking.Options(seed=2)).id)
    assert _taken(db, a.id) == 1 and _taken(db, b.id) == 1


def test_admin_pages_preview_publish_and_access(
    client, db, make_event, make_session, participant, as_organiser, make_organiser, outbox
):
    from tests.conftest import login

    event = make_event()
    other = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    for _ in range(3):
        _rank(event, participant, a, b)
    url = f"/admin/events/{event.id}/allocation"
    as_organiser("organiser", events=[other])
    assert client.get(url).status_code == 404
    page = client.get(f"/admin/events/{other.id}/allocation")
    assert (
        client.post(url + "/preview", data={"csrf_token": csrf_token(page.text), "objective": "fair"}).status_code
        == 404
    )

    client.post("/admin/logout", data={"csrf_token": csrf_token(page.text)})
    staff = make_organiser("staff", events=[event])
    login(client, staff)
    page = client.get(url)
    assert page.status_code == 200
    assert (
        client.post(url + "/preview", data={"csrf_token": csrf_token(page.text), "objective": "fair"}).status_code
        == 403
    )

    client.post("/admin/logout", data={"csrf_token": csrf_token(page.text)})
    as_organiser("organiser", events=[event])
    page = client.get(url + "?lang=en")
    assert "Workshop allocation" in page.text
    token = csrf_token(page.text)
    response = client.post(
        url + "/preview",
        data={"csrf_token": token, "objective": "linear", "seed": "42", "mix_attribute": "city", "max_per_group": "2"},
    )
    assert response.status_code == 303
    shown = client.get(response.headers["Location"] + "&lang=en").text
    assert "First come (registration time)" in shown and "Plain lottery" in shown and "<code>42</code>" in shown
    assert _bookings(db) == []
    assert client.post(url + "/publish", data={"csrf_token": token, "objective": "fair"}).status_code in (404, 405)
    run_id = int(response.headers["Location"].rsplit("run=", 1)[1])
    confirm = f"{url}/runs/{run_id}/publish"
    assert f'href="{confirm}"' in shown and "Publish this preview" in shown
    page = client.get(confirm + "?lang=en")
    assert page.status_code == 200
    assert "3 participants are emailed their result at once." in page.text
    assert "Publish and email 3 participants" in page.text
    # A plain form: no inline script (no onclick, no confirm()), which the CSP would block anyway.
    assert not re.search(r"<script(?![^>]*\bsrc=)|\bon(click|submit)=", page.text)
    assert _bookings(db) == [] and outbox.messages(kind="ranked_result") == []  # asking books and sends nothing
    response = client.post(confirm, data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert len(outbox.messages(kind="ranked_result")) == 3
    published = db.session.get(AllocationRun, run_id)
    assert (published.status, published.seed, published.objective, published.mix_max_per_group) == (
        RunStatus.PUBLISHED,
        42,
        "linear",
        2,
    )
    assert "Reopen the allocation" in client.get(url + "?lang=en").text
    index = client.get("/admin/").text
    assert url in index


def test_cli_preview_publish_and_errors(runner, db, make_event, make_session, participant):
    event = make_event()
    plain = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    for _ in range(3):
        _rank(event, participant, a, b)
    result = runner.invoke(args=["allocate", event.slug, "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "(preview)" in result.output and "seed 5" in result.output and "first-come" in result.output
    assert _bookings(db) == []
    result = runner.invoke(args=["allocate", event.slug, "--publish", "--objective", "rank-maximal"])
    assert result.exit_code != 0 and "give the settings to the preview" in result.output
    assert _bookings(db) == []
    result = runner.invoke(args=["allocate", event.slug, "--objective", "rank-maximal", "--seed", "8"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["allocate", event.slug, "--publish"])
    assert result.exit_code == 0, result.output
    assert "(published)" in result.output and "objective rank-maximal, seed 8" in result.output
    result = runner.invoke(args=["allocate", event.slug, "--publish"])
    assert result.exit_code != 0 and "already published" in result.output
    result = runner.invoke(args=["allocate", "no-such-event"])
    assert result.exit_code != 0 and "No event has the slug" in result.output
    result = runner.invoke(args=["allocate", plain.slug])
    assert result.exit_code != 0 and "no ranked workshops" in result.output
