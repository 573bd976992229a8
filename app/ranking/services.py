"""Allocation use cases: build the problem from the database, preview, publish, reopen, show results.

Public functions own their transaction (``write_transaction``); private helpers only flush.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from ..allocation import (
    Group as AGroup,
)
from ..allocation import (
    Instance,
    InstanceError,
    MixRule,
    Objective,
    Participant,
    Result,
    Workshop,
    allocate,
    explain,
    figures,
    first_come,
    instance_fingerprint,
    lottery_key,
    result_digest,
    serial_dictatorship,
    validate,
)
from ..audit.services import record
from ..db import utcnow, write_transaction
from ..events.models import BookingMode, Event, Group, Session
from ..events.services import RankedBlock, ranked_blocks
from ..extensions import db
from ..notifications.models import MessageKind
from ..registration import capacity
from ..registration.bookings import book_allocated, change_status, wait_ranked
from ..registration.emails import queue_message
from ..registration.models import (
    LIVE_BOOKING_STATUSES,
    PLACE_HOLDING_STATUSES,
    Booking,
    BookingStatus,
    Registration,
    RegistrationStatus,
)
from ..registration.ranked import published_run
from .errors import (
    AlreadyPublished,
    InvalidInstance,
    NoRankedSessions,
    NotAPreview,
    NotPublished,
    PreviewNotReproduced,
    PreviewOutdated,
    RankingError,
    TooLateToReopen,
)
from .history import SeriesHistory, series_history
from .models import AllocationOutcome, AllocationRun, RunStatus
from .outcomes import SlotOutcome

MIX_ATTRIBUTES = ("city", "category")
SEED_LIMIT = 2**31


@dataclass
class Options:
    """How to run the allocation: objective, lottery seed (random when None) and mix rule."""

    objective: Objective = Objective.FAIR
    seed: int | None = None
    mix_attribute: str | None = None
    max_per_group: int | None = None

    def mix_rule(self) -> MixRule | None:
        """Return the mix rule, or None when none is asked for."""
        if self.mix_attribute and self.max_per_group:
            return MixRule(self.mix_attribute, self.max_per_group)
        return None


@dataclass
class Problem:
    """The instance built from the database, and the rows its ids stand for."""

    instance: Instance
    blocks: list[RankedBlock]
    sessions: dict[int, Session]
    registrations: dict[int, Registration]
    order: list[str] = field(default_factory=list)  # participant ids by registration time
    # Series history that set a participant's tier (only with the event's series priority), by participant id
    history: dict[str, SeriesHistory] = field(default_factory=dict)


def build_problem(event: Event, options: Options, now: datetime | None = None) -> Problem:
    """Build the allocation instance of an event's ranked workshops from the database.

    Participants are the active registrations with preferences; a slot where a
    registration already holds a live booking of a ranked workshop is left out
    for it. Capacities are what is still free (capacity minus taken). With the
    event's series priority on, each participant's tier comes from their history
    at earlier meetings of the series (``history.series_history``).

    :raises NoRankedSessions: when the event has no ranked session.
    :raises InvalidInstance: when the data does not validate.
    """
    blocks = ranked_blocks(list(event.sessions))
    if not blocks:
        raise NoRankedSessions()
    slot_of = {s.id: i for i, block in enumerate(blocks) for s in block.sessions}
    sessions = {s.id: s for block in blocks for s in block.sessions}
    registrations = list(
        db.session.execute(
            select(Registration)
            .where(Registration.event_id == event.id, Registration.status == RegistrationStatus.ACTIVE)
            .options(selectinload(Registration.preferences), selectinload(Registration.bookings))
            .order_by(Registration.created_at, Registration.id)
        ).scalars()
    )
    k = event.max_ranked_choices
    past = series_history(event, {r.email_normalized for r in registrations}, now) if event.series_priority else {}
    histories: dict[str, SeriesHistory] = {}
    participants = []
    for registration in registrations:
        held = {slot_of[b.session_id] for b in registration.live_bookings if b.session_id in slot_of}
        prefs: dict[int, list[str]] = defaultdict(list)
        for preference in sorted(registration.preferences, key=lambda p: p.rank):
            slot = slot_of.get(preference.session_id)
            if slot is None or slot in held or len(prefs[slot]) >= k:
                continue
            prefs[slot].append(str(preference.session_id))
        if not prefs:
            continue
        history = past.get(registration.email_normalized)
        if history is not None and history.tier:
            histories[str(registration.id)] = history
        participants.append(
            Participant(
                id=str(registration.id),
                category=registration.category.value,
                city=registration.city.strip().casefold() or None,
                prefs={slot: tuple(ids) for slot, ids in prefs.items()},
                tier=history.tier if history is not None else 0,
            )
        )
    workshops = [_workshop(session, slot_of[session.id], len(participants)) for session in sessions.values()]
    instance = Instance(
        n_choices=k,
        slots=tuple(range(len(blocks))),
        workshops=tuple(workshops),
        participants=tuple(participants),
        mixing=options.mix_rule(),
    )
    try:
        validate(instance)
    except InstanceError as error:
        raise InvalidInstance("; ".join(p.message for p in error.problems)) from error
    return Problem(
        instance=instance,
        blocks=blocks,
        sessions=sessions,
        registrations={r.id: r for r in registrations},
        order=[p.id for p in participants],
        history=histories,
    )


def _workshop(session: Session, slot: int, unlimited: int) -> Workshop:
    """Describe a ranked session to the engine with its free places (and groups)."""
    eligible = frozenset(session.eligible_categories) if session.eligible_categories else None
    if session.groups:
        groups = tuple(AGroup(str(g.id), max(g.capacity - g.taken, 0)) for g in session.groups)
        return Workshop(str(session.id), slot, sum(g.capacity for g in groups), eligible, groups)
    free = unlimited if session.capacity is None else max(session.capacity - session.taken, 0)
    return Workshop(str(session.id), slot, free, eligible)


def _run_all(problem: Problem, options: Options, seed: int) -> tuple[Result, dict[str, Any]]:
    """Run the optimiser and the two baselines; return the optimal result and all figures."""
    instance = problem.instance
    result = allocate(instance, options.objective, seed)
    return result, {
        "optimal": figures(instance, result).as_dict(),
        "first_come": figures(instance, first_come(instance)).as_dict(),
        "lottery": figures(instance, serial_dictatorship(instance, seed)).as_dict(),
    }


def _actor_label(actor: Any) -> str:
    """Name who acted: an account's email, a given label ("cli"), or "system"."""
    return getattr(actor, "email", None) or (actor if isinstance(actor, str) else "system")


def _new_run(
    event: Event,
    options: Options,
    seed: int,
    status: RunStatus,
    stats: dict[str, Any],
    actor: Any,
    now: datetime,
    **digests: str,
) -> AllocationRun:
    """Add a run row (flushes only); ``digests``: its problem fingerprint and result digest."""
    run = AllocationRun(
        event_id=event.id,
        status=status,
        objective=options.objective.value,
        seed=seed,
        mix_attribute=options.mix_attribute if options.mix_rule() else None,
        mix_max_per_group=options.max_per_group if options.mix_rule() else None,
        figures=stats,
        created_by_id=getattr(actor, "id", None),
        created_by_label=_actor_label(actor),
        created_at=now,
        **digests,
    )
    db.session.add(run)
    db.session.flush()
    return run


def run_options(run: AllocationRun) -> Options:
    """Return the options a run was computed with (its own seed included)."""
    return Options(
        objective=Objective(run.objective),
        seed=run.seed,
        mix_attribute=run.mix_attribute,
        max_per_group=run.mix_max_per_group,
    )


def _seed(options: Options) -> int:
    """Return the asked seed, or a fresh random one."""
    return options.seed if options.seed is not None else secrets.randbelow(SEED_LIMIT)


def preview(event: Event, options: Options, actor: Any = None, now: datetime | None = None) -> AllocationRun:
    """Run the allocation and the baselines without booking anything; store the run as a preview.

    The run keeps its seed, options, figures and the digests of its problem and
    result, so that :func:`publish` can publish exactly it later.

    :raises AlreadyPublished: when a published run exists.
    :raises NoRankedSessions, InvalidInstance:
    """
    now = now or utcnow()
    seed = _seed(options)
    with write_transaction():
        if published_run(event.id) is not None:
            raise AlreadyPublished()
        problem = build_problem(event, options, now)
        result, stats = _run_all(problem, options, seed)
        run = _new_run(
            event,
            options,
            seed,
            RunStatus.PREVIEW,
            stats,
            actor,
            now,
            problem_fingerprint=instance_fingerprint(problem.instance),
            result_digest=result_digest(result),
        )
    return run


@dataclass
class PublicationCheck:
    """What publishing a preview would do now, or why it cannot be published."""

    run: AllocationRun
    emails: int = 0  # participants emailed their result (everyone in the allocation)
    places: int = 0  # places the preview gives
    refusal: object | None = None  # why it cannot be published (a translatable message), or None

    @property
    def can_publish(self) -> bool:
        """Tell whether the preview can be published as it is."""
        return self.refusal is None


def check_publication(event: Event, run: AllocationRun, now: datetime | None = None) -> PublicationCheck:
    """Tell what publishing the preview ``run`` would do now, without writing anything.

    Compares the problem as it is now with the one the preview solved; the final
    check (and the reproduction of the places) happens again in :func:`publish`.
    """
    check = PublicationCheck(run=run, places=int(run.figures.get("optimal", {}).get("overall", {}).get("places", 0)))
    try:
        _check_publishable(event, run)
        problem = build_problem(event, run_options(run), now or utcnow())
    except RankingError as error:
        check.refusal = error.message
        return check
    check.emails = len(problem.order)
    if instance_fingerprint(problem.instance) != run.problem_fingerprint:
        check.refusal = PreviewOutdated.message
    return check


def _check_publishable(event: Event, run: AllocationRun) -> None:
    """Refuse a run that is not a publishable preview of the event.

    :raises NotAPreview, AlreadyPublished, PreviewOutdated:
    """
    if run.event_id != event.id:
        raise NotAPreview()
    if run.status == RunStatus.PUBLISHED or published_run(event.id) is not None:
        raise AlreadyPublished()
    if run.status != RunStatus.PREVIEW:
        raise NotAPreview()
    if run.problem_fingerprint is None or run.result_digest is None:
        raise PreviewOutdated()  # made before previews kept their digests


def publish(event: Event, run_id: int, actor: Any = None, now: datetime | None = None) -> AllocationRun:
    """Publish the preview ``run_id`` exactly as shown: write its places, waiting lists, outcomes and emails.

    Everything happens in one transaction, under the ranked workshops' locks: the
    problem is built again and must have the preview's fingerprint (nobody
    registered, cancelled or re-ranked meanwhile), and the allocation, run again
    with the preview's seed and options, must give the preview's places. The
    preview's row becomes the published run (a conditional update: a second
    submission publishes nothing). Places are taken with conditional updates
    (never beyond capacity); those left without a place in a slot join the
    waiting lists of their eligible ranked workshops of that slot, with the
    rank kept on the booking.

    :raises NotAPreview: when the run is not a preview of the event.
    :raises AlreadyPublished: when a run of the event is published (this one too, on a second submission).
    :raises PreviewOutdated: when the problem changed since the preview.
    :raises PreviewNotReproduced: when the same problem no longer gives the same places.
    :raises NoRankedSessions, InvalidInstance:
    :raises capacity.Full: should a place vanish meanwhile (nothing is written).
    """
    now = now or utcnow()
    with write_transaction():
        blocks = ranked_blocks(list(event.sessions))
        for session_id in sorted(s.id for b in blocks for s in b.sessions):
            capacity.lock_session(session_id)
        # Read under the sessions' locks: a concurrent publication has committed or not started.
        run = db.session.execute(
            select(AllocationRun).where(AllocationRun.id == run_id).execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if run is None:
            raise NotAPreview()
        _check_publishable(event, run)
        options = run_options(run)
        problem = build_problem(event, options, now)
        if instance_fingerprint(problem.instance) != run.problem_fingerprint:
            raise PreviewOutdated()
        result = allocate(problem.instance, options.objective, run.seed)
        if result_digest(result) != run.result_digest:
            raise PreviewNotReproduced()
        marked = db.session.execute(
            update(AllocationRun)
            .where(AllocationRun.id == run.id, AllocationRun.status == RunStatus.PREVIEW)
            .values(status=RunStatus.PUBLISHED, published_at=now, published_by_label=_actor_label(actor))
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount != 1:  # pragma: no cover - read under the sessions' locks
            raise AlreadyPublished()
        db.session.refresh(run)
        placed, waiting = _write_bookings(problem, result, run.seed, now)
        _write_outcomes_and_emails(problem, result, run, now)
        record(
            "allocation_published",
            event_id=event.id,
            actor=actor,
            run_id=run.id,
            objective=run.objective,
            seed=run.seed,
            mix_attribute=run.mix_attribute,
            mix_max_per_group=run.mix_max_per_group,
            places=placed,
            waitlisted=waiting,
            emails=len(problem.order),
            series_priority=event.series_priority,
            tiers_raised=sum(h.tier > 0 for h in problem.history.values()),
            tiers_lowered=sum(h.tier < 0 for h in problem.history.values()),
        )
        db.session.flush()
    return run


def _write_bookings(problem: Problem, result: Result, seed: int, now: datetime) -> tuple[int, int]:
    """Book every assignment and the waiting lists; return (places, waiting bookings). Flushes only."""
    registrations = problem.registrations
    for a in sorted(result.assignments, key=lambda a: (int(a.workshop), a.group or "", int(a.participant))):
        session_id = int(a.workshop)
        group_id = int(a.group) if a.group is not None else None
        book_allocated(registrations[int(a.participant)], session_id, group_id, a.rank, now)
    given = {(a.participant, a.slot) for a in result.assignments}
    entries = []
    instance = problem.instance
    for person in instance.participants:
        for slot in instance.slots:
            if (person.id, slot) in given:
                continue
            for rank, wid in enumerate(person.ranked(slot), start=1):
                if instance.workshop_by_id[wid].admits(person.category):
                    entries.append((int(wid), rank, lottery_key(seed, person.id), int(person.id)))
    # Inserted in waiting-list order (rank, then the run's lottery), so that id order matches it.
    for session_id, rank, _key, registration_id in sorted(entries):
        wait_ranked(registrations[registration_id], session_id, rank, now)
    db.session.flush()
    return len(result.assignments), len(entries)


def _write_outcomes_and_emails(problem: Problem, result: Result, run: AllocationRun, now: datetime) -> None:
    """Store each participant's outcome per slot and queue one result email each (flushes only)."""
    by_person: dict[str, list[AllocationOutcome]] = defaultdict(list)
    given = {(a.participant, a.slot): a for a in result.assignments}
    for item in explain(problem.instance, result):
        if item.reasons and item.reasons[0].code == "not_ranked":
            continue
        a = given.get((item.participant, item.slot))
        history = problem.history.get(item.participant)
        outcome = AllocationOutcome(
            run_id=run.id,
            registration_id=int(item.participant),
            slot_starts_at=problem.blocks[item.slot].starts_at,
            session_id=int(item.workshop) if item.workshop else None,
            group_id=int(a.group) if a and a.group is not None else None,
            rank=item.rank,
            reasons=[
                {
                    "code": r.code,
                    "session_id": int(r.workshop) if r.workshop else None,
                    "rank": r.rank,
                    "params": dict(r.params),
                }
                for r in item.reasons
            ]
            + (history.reasons() if history is not None else []),
            waitlist=[int(w) for w in item.waitlist],
        )
        db.session.add(outcome)
        by_person[item.participant].append(outcome)
    db.session.flush()
    for participant_id in problem.order:
        registration = problem.registrations[int(participant_id)]
        queue_message(
            MessageKind.RANKED_RESULT,
            registration,
            now,
            outcomes=_views(problem.blocks, by_person[participant_id]),
        )


def set_series_priority(event: Event, enabled: bool, actor: Any = None) -> None:
    """Turn the event's "priority for those who missed out before" on or off (applies to later runs)."""
    with write_transaction():
        if event.series_priority != enabled:
            event.series_priority = enabled
            record("series_priority_changed", event_id=event.id, actor=actor, enabled=enabled)
        db.session.flush()


def reopen(event: Event, actor: Any = None, now: datetime | None = None) -> AllocationRun:
    """Withdraw a published allocation so that it can be run again.

    Every live booking the allocation made (ranked sessions, with a rank: places,
    offers and waiting lists) is cancelled and its place given back, so counters
    stay exact; the run is marked reopened. Participants are not emailed now:
    the next publication tells everyone their new result.

    :raises NotPublished, TooLateToReopen:
    """
    now = now or utcnow()
    with write_transaction():
        run = published_run(event.id)
        if run is None:
            raise NotPublished()
        if now >= event.starts_at:
            raise TooLateToReopen()
        ranked = db.session.execute(
            select(Session.id).where(Session.event_id == event.id, Session.booking_mode == BookingMode.RANKED)
        ).scalars()
        for session_id in sorted(ranked):
            capacity.lock_session(session_id)
        # Read under the sessions' locks: no cancel or offer changes them any more.
        bookings = list(
            db.session.execute(
                select(Booking)
                .join(Session, Session.id == Booking.session_id)
                .where(
                    Session.event_id == event.id,
                    Session.booking_mode == BookingMode.RANKED,
                    Booking.rank.is_not(None),
                    Booking.status.in_(LIVE_BOOKING_STATUSES),
                )
                .order_by(Booking.session_id, Booking.id)
                .execution_options(populate_existing=True)
            ).scalars()
        )
        for booking in bookings:
            previous = booking.status
            if not change_status(booking, previous, BookingStatus.CANCELLED, now, offer_expires_at=None):
                continue  # pragma: no cover (read under the sessions' locks)
            if previous in PLACE_HOLDING_STATUSES:
                capacity.release_place(booking.session_id, booking.group_id)
        run.status = RunStatus.REOPENED
        run.reopened_at = now
        record("allocation_reopened", event_id=event.id, actor=actor, run_id=run.id, bookings_cancelled=len(bookings))
        db.session.flush()
    return run


def runs(event_id: int, limit: int = 20) -> list[AllocationRun]:
    """Return the event's newest runs."""
    return list(
        db.session.execute(
            select(AllocationRun)
            .where(AllocationRun.event_id == event_id)
            .order_by(AllocationRun.created_at.desc(), AllocationRun.id.desc())
            .limit(limit)
        ).scalars()
    )


def results_for(registration: Registration) -> list[SlotOutcome] | None:
    """Return the registration's outcomes of the published run by slot, or None before publication."""
    run = published_run(registration.event_id)
    if run is None:
        return None
    outcomes = list(
        db.session.execute(
            select(AllocationOutcome)
            .where(AllocationOutcome.run_id == run.id, AllocationOutcome.registration_id == registration.id)
            .order_by(AllocationOutcome.slot_starts_at, AllocationOutcome.id)
        ).scalars()
    )
    return _views(ranked_blocks(list(registration.event.sessions)), outcomes)


def _views(blocks: list[RankedBlock], outcomes: list[AllocationOutcome]) -> list[SlotOutcome]:
    """Turn stored outcomes into what pages and emails show."""
    sessions = {s.id: s for b in blocks for s in b.sessions}
    ends = {b.starts_at: b.ends_at for b in blocks}
    views = []
    for outcome in sorted(outcomes, key=lambda o: o.slot_starts_at):
        session = sessions.get(outcome.session_id) if outcome.session_id else None
        group = db.session.get(Group, outcome.group_id) if outcome.group_id else None
        views.append(
            SlotOutcome(
                starts_at=outcome.slot_starts_at,
                ends_at=ends.get(outcome.slot_starts_at, outcome.slot_starts_at),
                session=session,
                group=group,
                rank=outcome.rank,
                reasons=list(outcome.reasons or []),
                waitlist=[sessions[i] for i in outcome.waitlist or [] if i in sessions],
            )
        )
    return views


def find_event(slug: str) -> Event | None:
    """Return the event with ``slug`` (any status), or None."""
    return db.session.execute(select(Event).where(Event.slug == slug)).scalar_one_or_none()
