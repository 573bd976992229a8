"""Fairness across a touring series: priority for those who missed out before, lower priority for no-shows."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

from sqlalchemy import select

from app.allocation import Objective, allocate, lottery_key, objective_value
from app.checkin.models import CheckIn, day_scope
from app.events.models import BookingMode, Event
from app.ranking import history
from app.ranking import services as ranking
from app.ranking.models import AllocationOutcome
from app.registration import services
from app.registration.admin_services import add_registration
from app.registration.models import Booking, BookingStatus, Registration
from tests.allocation.conftest import random_instance
from tests.allocation.test_allocation_bruteforce import brute_force_best
from tests.conftest import NOW, csrf_token


def _past(make_event, days_ago: int = 60, **extra) -> Event:  # type: ignore[no-untyped-def]
    """Return an earlier meeting of the series, already over (registration was open without an end)."""
    starts = NOW - timedelta(days=days_ago)
    return make_event(
        starts_at=starts,
        ends_at=starts + timedelta(days=1),
        registration_closes_at=None,
        registration_opens_at=starts - timedelta(days=30),
        **extra,
    )


def _workshop(make_session, event, capacity: int = 1):  # type: ignore[no-untyped-def]
    return make_session(
        event,
        start_hour=10,
        capacity=capacity,
        booking_mode=BookingMode.RANKED,
        title_pl="Warsztat",
        title_en="Workshop",
    )


def _rank(event, workshop, participant, email: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Register ``email`` ranking the one workshop; return (registration id, manage token)."""
    key = ranking.ranked_blocks(list(event.sessions))[0].key
    choices = services.Choices(rankings={key: [workshop.id]})
    result = services.register(event, participant(email=email, language="en"), choices)
    return result.registration.id, result.token


def _seed_favouring(winner: int, loser: int) -> int:
    """Return a lottery seed under which ``winner`` draws before ``loser``."""
    return next(s for s in range(1000) if lottery_key(s, str(winner)) < lottery_key(s, str(loser)))


def _placed(db, event_id: int) -> set[int]:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return set(
        db.session.execute(
            select(Booking.registration_id)
            .join(Registration)
            .where(Registration.event_id == event_id, Booking.status == BookingStatus.CONFIRMED)
        ).scalars()
    )


def _missed_out_earlier(db, make_event, make_session, participant, email: str) -> Event:  # type: ignore[no-untyped-def]
    """Return a past meeting where ``email`` was left without a place by its published allocation."""
    earlier = _past(make_event)
    workshop = _workshop(make_session, earlier)
    unlucky, _ = _rank(earlier, workshop, participant, email)
    lucky, _ = _rank(earlier, workshop, participant, "lucky@example.com")
    before = earlier.starts_at - timedelta(days=2)
    run = ranking.preview(earlier, ranking.Options(Objective.FAIR, seed=_seed_favouring(lucky, unlucky)), now=before)
    ranking.publish(earlier, run.id, now=before)
    assert _placed(db, earlier.id) == {lucky}
    return earlier


def _turn_priority(db, event: Event, enabled: bool) -> Event:  # type: ignore[no-untyped-def]
    ranking.set_series_priority(event, enabled)
    return db.session.get(Event, event.id)


def test_missed_out_before_wins_the_tie_only_with_the_option(db, make_event, make_session, participant, outbox, client):
    earlier = _missed_out_earlier(db, make_event, make_session, participant, "Ala@Example.com")
    event = make_event()
    workshop = _workshop(make_session, event)
    returning, token = _rank(event, workshop, participant, "ala@example.com")  # same person, other case
    newcomer, _ = _rank(event, workshop, participant, "new@example.com")
    seed = _seed_favouring(newcomer, returning)

    ranking.publish(event, ranking.preview(event, ranking.Options(Objective.FAIR, seed=seed)).id)
    assert _placed(db, event.id) == {newcomer}  # the option is off: the lottery decides
    first = {m.registration_id: m.body_text for m in outbox.messages(kind="ranked_result")}
    assert "priority" not in first[returning]

    ranking.reopen(event)
    event = _turn_priority(db, event, True)
    ranking.publish(event, ranking.preview(event, ranking.Options(Objective.FAIR, seed=seed)).id)
    assert _placed(db, event.id) == {returning}
    note = f"You had priority because you missed out on a workshop place at {earlier.title_en} (Łódź,"
    mails = [m for m in outbox.messages(kind="ranked_result") if m.registration_id == returning]
    assert note in mails[-1].body_text and note in mails[-1].body_html
    client.get("/language/en")
    page = client.get(f"/r/{token}")
    assert note in page.text
    reasons = (
        db.session.execute(select(AllocationOutcome.reasons).where(AllocationOutcome.registration_id == returning))
        .scalars()
        .all()[-1]
    )
    assert reasons[-1]["code"] == history.MISSED_OUT and reasons[-1]["params"]["event_id"] == earlier.id


def test_no_show_loses_the_tie_they_would_win(db, make_event, make_session, participant, outbox):
    earlier = _past(make_event)
    absent = services.register(earlier, participant(email="absent@example.com"), services.Choices()).registration
    present = services.register(earlier, participant(email="here@example.com"), services.Choices()).registration
    db.session.add(
        CheckIn(
            event_id=earlier.id,
            registration_id=present.id,
            day=earlier.starts_at.date(),
            scope=day_scope(earlier.starts_at.date()),
        )
    )
    db.session.commit()
    event = make_event()
    workshop = _workshop(make_session, event)
    no_show, _ = _rank(event, workshop, participant, "absent@example.com")
    other, _ = _rank(event, workshop, participant, "other@example.com")
    seed = _seed_favouring(no_show, other)
    assert absent.id != no_show

    ranking.publish(event, ranking.preview(event, ranking.Options(Objective.FAIR, seed=seed)).id)
    assert _placed(db, event.id) == {no_show}
    ranking.reopen(event)
    event = _turn_priority(db, event, True)
    ranking.publish(event, ranking.preview(event, ranking.Options(Objective.FAIR, seed=seed)).id)
    assert _placed(db, event.id) == {other}
    mail = [m for m in outbox.messages(kind="ranked_result") if m.registration_id == no_show][-1]
    assert f"You had lower priority because you did not attend {earlier.title_en} (Łódź," in mail.body_text


def test_meeting_without_check_in_data_punishes_nobody(db, make_event, make_session, participant):
    earlier = _past(make_event)
    services.register(earlier, participant(email="absent@example.com"), services.Choices())
    event = make_event(series_priority=True)
    workshop = _workshop(make_session, event)
    _rank(event, workshop, participant, "absent@example.com")
    problem = ranking.build_problem(event, ranking.Options())
    assert [p.tier for p in problem.instance.participants] == [0]
    assert problem.history == {}


def test_no_check_in_module_means_attendance_unknown(db, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_checkin(name, globals=None, locals=None, fromlist=(), level=0):  # type: ignore[no-untyped-def]
        if name.endswith("checkin.models"):
            raise ImportError(name)
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", without_checkin)
    assert history.attended([1, 2, 3]) == set()


def test_no_priority_when_the_option_is_off(db, make_event, make_session, participant):
    _missed_out_earlier(db, make_event, make_session, participant, "ala@example.com")
    event = make_event()
    workshop = _workshop(make_session, event)
    returning, _ = _rank(event, workshop, participant, "ala@example.com")
    assert {p.id: p.tier for p in ranking.build_problem(event, ranking.Options()).instance.participants} == {
        str(returning): 0
    }
    event = _turn_priority(db, event, True)
    assert {p.id: p.tier for p in ranking.build_problem(event, ranking.Options()).instance.participants} == {
        str(returning): 1
    }


def test_later_meetings_do_not_count(db, make_event, make_session, participant):
    # Missing out at a meeting held after this one gives no priority here.
    later = make_event(starts_at=NOW + timedelta(days=90), ends_at=NOW + timedelta(days=91))
    workshop = _workshop(make_session, later)
    _rank(later, workshop, participant, "ala@example.com")
    _rank(later, workshop, participant, "b@example.com")
    ranking.publish(later, ranking.preview(later, ranking.Options(seed=1)).id)
    event = make_event(series_priority=True)
    here = _workshop(make_session, event)
    _rank(event, here, participant, "ala@example.com")
    assert [p.tier for p in ranking.build_problem(event, ranking.Options()).instance.participants] == [0]


def test_engine_brute_force_with_tiers():
    rng = random.Random("series-tiers")
    for objective in Objective:
        for _ in range(25):
            base = random_instance(rng, max_people=5, max_workshops=3)
            instance = dataclasses.replace(
                base, participants=tuple(dataclasses.replace(p, tier=rng.choice([-1, 0, 1])) for p in base.participants)
            )
            result = allocate(instance, objective, seed=rng.randint(0, 99))
            assert objective_value(instance, result.assignments, objective) == brute_force_best(instance, objective)


def test_organiser_turns_the_option_on_from_the_allocation_page(db, client, make_event, as_organiser):
    event = make_event()
    as_organiser("admin")
    client.get("/language/en")
    page = client.get(f"/admin/events/{event.id}/allocation")
    assert "Priority for those who missed out before" in page.text
    response = client.post(
        f"/admin/events/{event.id}/allocation/series-priority",
        data={"priority-csrf_token": csrf_token(page.text), "priority-enabled": "y"},
    )
    assert response.status_code == 303
    db.session.rollback()
    assert db.session.get(Event, event.id).series_priority is True
    page = client.get(f"/admin/events/{event.id}/allocation")
    assert (
        'id="priority-enabled" name="priority-enabled" type="checkbox" value="y" checked' in page.text
        or "checked" in page.text
    )
    client.post(
        f"/admin/events/{event.id}/allocation/series-priority", data={"priority-csrf_token": csrf_token(page.text)}
    )
    db.session.rollback()
    assert db.session.get(Event, event.id).series_priority is False


def test_series_page_shows_returning_people_and_later_places(
    db, client, make_event, make_session, participant, as_organiser
):
    earlier = _missed_out_earlier(db, make_event, make_session, participant, "ala@example.com")
    _past(make_event, days_ago=30)  # a meeting without ranked workshops
    # A paper sign-up at the earlier meeting, for no workshop (after its allocation).
    add_registration(db.session.get(Event, earlier.id), participant(email="solo@example.com"), services.Choices())
    event = make_event(series_priority=True)
    workshop = _workshop(make_session, event, capacity=2)
    _rank(event, workshop, participant, "ala@example.com")
    _rank(event, workshop, participant, "lucky@example.com")
    ranking.publish(event, ranking.preview(event, ranking.Options(seed=5)).id)
    as_organiser("admin")
    client.get("/language/en")
    page = client.get(f"/admin/series/{earlier.series_id}/overview")
    assert page.status_code == 200
    assert "2 returning participants (registered at two or more meetings)" in page.text
    assert "1 person left without a workshop place at a meeting, of whom 1 got a place at a later meeting" in page.text
