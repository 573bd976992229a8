"""Publishing publishes exactly the preview the organiser looked at, once, and only while it is current."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.allocation import allocate
from app.events.models import BookingMode
from app.events.services import ranked_blocks
from app.extensions import db as _db
from app.ranking import services as ranking
from app.ranking.errors import AlreadyPublished, PreviewOutdated
from app.ranking.models import AllocationRun, RunStatus
from app.registration import services
from app.registration.models import Booking, BookingStatus, Registration
from tests.conftest import csrf_token


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


def _rank(event, participant, *sessions):  # type: ignore[no-untyped-def]
    """Register someone with these ranked choices (best first); return the registration id."""
    key = ranked_blocks(list(event.sessions))[0].key
    choices = services.Choices(rankings={key: [s.id for s in sessions]})
    return services.register(event, participant(language="en"), choices).registration.id


def _contested(make_event, make_session, participant, people: int = 12):  # type: ignore[no-untyped-def]
    """An event where the lottery decides a lot: ``people`` rank three workshops of 2 places each."""
    event = make_event()
    a, b, c = _workshops(make_session, event, 2, 2, 2)
    for i in range(people):
        order = [(a, b, c), (b, c, a), (c, a, b)][i % 3]
        _rank(event, participant, *order)
    return event


def _places(db) -> set[tuple[int, int, int | None, int | None]]:  # type: ignore[no-untyped-def]
    """Return (registration, session, group, rank) of every confirmed booking."""
    db.session.rollback()
    return {
        (b.registration_id, b.session_id, b.group_id, b.rank)
        for b in db.session.execute(select(Booking).where(Booking.status == BookingStatus.CONFIRMED)).scalars()
    }


def _previewed_places(event, run) -> set[tuple[int, int, int | None, int | None]]:  # type: ignore[no-untyped-def]
    """Return the places the preview showed, computed again from its stored seed and settings."""
    problem = ranking.build_problem(event, ranking.run_options(run))
    result = allocate(problem.instance, ranking.run_options(run).objective, run.seed)
    return {
        (int(a.participant), int(a.workshop), int(a.group) if a.group else None, a.rank) for a in result.assignments
    }


def test_publish_gives_the_places_of_the_preview_not_of_a_new_lottery(
    db, make_event, make_session, participant, monkeypatch
):
    event = _contested(make_event, make_session, participant)
    seeds = iter([1234, 98765, 5555])
    monkeypatch.setattr(ranking.secrets, "randbelow", lambda limit: next(seeds))
    run = ranking.preview(event, ranking.Options())  # a random seed: 1234
    shown = _previewed_places(event, run)
    other = ranking.build_problem(event, ranking.run_options(run))
    assert shown != {
        (int(a.participant), int(a.workshop), None, a.rank)
        for a in allocate(other.instance, ranking.run_options(run).objective, 98765).assignments
    }
    published = ranking.publish(event, run.id)
    assert (published.id, published.status, published.seed) == (run.id, RunStatus.PUBLISHED, 1234)
    assert _places(db) == shown
    assert len(shown) == 6
    assert next(seeds) == 98765  # publishing drew no seed of its own


def test_a_registration_after_the_preview_blocks_publishing(
    db, client, make_event, make_session, participant, as_organiser, outbox
):
    event = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    for _ in range(2):
        _rank(event, participant, a, b)
    run = ranking.preview(event, ranking.Options(seed=42))
    late = _rank(event, participant, b, a)
    with pytest.raises(PreviewOutdated):
        ranking.publish(event, run.id)
    assert _places(db) == set() and outbox.messages(kind="ranked_result") == []
    assert db.session.get(AllocationRun, run.id).status == RunStatus.PREVIEW

    as_organiser("organiser", events=[event])
    confirm = f"/admin/events/{event.id}/allocation/runs/{run.id}/publish"
    page = client.get(confirm + "?lang=en")
    assert page.status_code == 200
    assert "have changed since this preview" in page.text and "Run a new preview" in page.text
    assert "Publish and email" not in page.text and 'id="publication-refused"' in page.text
    # A form sent anyway (opened before the registration came in) publishes nothing and says why.
    response = client.post(
        confirm + "?lang=en",
        data={"csrf_token": csrf_token(client.get(f"/admin/events/{event.id}/allocation").text)},
        follow_redirects=True,
    )
    assert "have changed since this preview" in response.get_data(as_text=True)
    assert _places(db) == set() and outbox.messages(kind="ranked_result") == []

    fresh = ranking.preview(event, ranking.Options(seed=42))
    ranking.publish(event, fresh.id)
    assert late in {registration for registration, *_ in _places(db)} | {
        m.registration_id for m in outbox.messages(kind="ranked_result")
    }
    assert len(outbox.messages(kind="ranked_result")) == 3


def test_a_cancellation_or_a_new_ranking_after_the_preview_also_blocks_it(db, make_event, make_session, participant):
    event = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    first, second = _rank(event, participant, a, b), _rank(event, participant, a, b)
    run = ranking.preview(event, ranking.Options(seed=1))
    registration = db.session.get(Registration, second)
    key = ranked_blocks(list(event.sessions))[0].key
    services.change_choices(registration, services.Choices(rankings={key: [b.id, a.id]}))
    with pytest.raises(PreviewOutdated):
        ranking.publish(event, run.id)
    run = ranking.preview(event, ranking.Options(seed=1))
    services.cancel_registration(db.session.get(Registration, first))
    with pytest.raises(PreviewOutdated):
        ranking.publish(event, run.id)
    assert _places(db) == set()


def test_a_preview_made_before_digests_were_kept_cannot_be_published(db, make_event, make_session, participant):
    event = make_event()
    (a,) = _workshops(make_session, event, 1)
    _rank(event, participant, a)
    run = ranking.preview(event, ranking.Options(seed=1))
    db.session.get(AllocationRun, run.id).problem_fingerprint = None
    db.session.commit()
    assert ranking.check_publication(event, db.session.get(AllocationRun, run.id)).refusal == PreviewOutdated.message
    with pytest.raises(PreviewOutdated):
        ranking.publish(event, run.id)


def test_the_page_and_the_confirmation_say_what_happens_to_late_registrations(
    db, client, make_event, make_session, participant, as_organiser
):
    event = make_event()
    (a,) = _workshops(make_session, event, 3)
    for _ in range(2):
        _rank(event, participant, a)
    run = ranking.preview(event, ranking.Options(seed=1))
    as_organiser("organiser", events=[event])
    line = "People who register after publication are not in the allocation"
    assert line in client.get(f"/admin/events/{event.id}/allocation?lang=en").text
    page = client.get(f"/admin/events/{event.id}/allocation/runs/{run.id}/publish?lang=en").text
    assert line in page and "2 participants are emailed their result at once." in page
    event.registration_closes_at = event.registration_opens_at
    db.session.commit()
    assert line not in client.get(f"/admin/events/{event.id}/allocation?lang=en").text


def test_publish_clicked_twice_publishes_once(db, client, make_event, make_session, participant, as_organiser, outbox):
    event = make_event()
    a, b = _workshops(make_session, event, 1, 1)
    for _ in range(3):
        _rank(event, participant, a, b)
    run = ranking.preview(event, ranking.Options(seed=3))
    as_organiser("organiser", events=[event])
    confirm = f"/admin/events/{event.id}/allocation/runs/{run.id}/publish"
    token = csrf_token(client.get(confirm + "?lang=en").text)
    first = client.post(confirm, data={"csrf_token": token})
    second = client.post(confirm + "?lang=en", data={"csrf_token": token}, follow_redirects=True)
    assert first.status_code == 303 and second.status_code == 200
    assert "This preview is already published." in second.get_data(as_text=True)
    assert len(outbox.messages(kind="ranked_result")) == 3
    assert len(_places(db)) == 2
    db.session.rollback()
    assert db.session.execute(select(AllocationRun.status)).scalars().all() == [RunStatus.PUBLISHED]


def test_two_publications_of_one_preview_at_once_publish_it_once(
    app, db, make_event, make_session, participant, outbox
):
    event = make_event()
    a, b = _workshops(make_session, event, 2, 2)
    for _ in range(6):
        _rank(event, participant, a, b)
    run_id = ranking.preview(event, ranking.Options(seed=9)).id
    event_id = event.id
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def click() -> None:
        with app.app_context():
            try:
                from app.events.models import Event

                mine = _db.session.get(Event, event_id)
                _ = list(mine.sessions)
                barrier.wait(timeout=30)
                outcomes.append(ranking.publish(mine, run_id).id)
            except BaseException as error:  # noqa: BLE001 - collected for the assertions
                outcomes.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyPublished", "int"], outcomes
    assert len(outbox.messages(kind="ranked_result")) == 6
    assert len(_places(db)) == 4
    db.session.rollback()
    assert db.session.get(AllocationRun, run_id).status == RunStatus.PUBLISHED
    assert isinstance(next(o for o in outcomes if not isinstance(o, int)), AlreadyPublished)
