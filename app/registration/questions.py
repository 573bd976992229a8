"""An event's own registration questions: the organiser's editing, the answers' rules, and their early erasure.

An organiser adds questions (dietary needs, invoice data …) with Polish and English
labels; participants answer them on the registration form and change the answers
from their private link while registration is open. Once a question has answers,
its kind stays and its answered options stay (labels may change: answers keep the
option ids); it is hidden instead of deleted. Answers to special-category questions
(health) are erased GDPR_SPECIAL_RETENTION_DAYS after the event ends, long before
the rest of the registration (GDPR_RETENTION_DAYS).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, exists, func, select

from ..audit.services import record
from ..db import utcnow, write_transaction
from ..events.models import Event
from ..extensions import db
from . import bookings
from .errors import RegistrationClosed, RegistrationError
from .models import Answer, Question, QuestionKind, Registration, RegistrationStatus

MAX_SHORT_ANSWER = 200
MAX_LONG_ANSWER = 2000
MAX_LABEL = 300
MAX_OPTIONS = 30
MAX_OPTION_LABEL = 150
MAX_QUESTIONS = 40
CHOICE_KINDS = (QuestionKind.CHOICE, QuestionKind.CHOICES)
YES, NO = "yes", "no"
# Markup in an answer is refused rather than stored: answers end up in spreadsheets and emails.
MARKUP = re.compile(r"<\s*[A-Za-z/!?]")


class QuestionError(RegistrationError):
    """Base of the refusals about questions; ``field`` names the organiser's form field."""

    message = _l("The question could not be saved.")


class QuestionNotFound(QuestionError):
    """The question does not exist (or belongs to another event)."""

    message = _l("This question no longer exists.")


class KindLocked(QuestionError):
    """The kind of an answered question cannot change (the answers would lose their meaning)."""

    message = _l(
        "People have answered this question, so its kind cannot change. Hide it and add a new question instead."
    )
    field = "kind"


class OptionAnswered(QuestionError):
    """An option somebody chose cannot be removed."""

    field = "options"

    def __init__(self, label: str) -> None:
        super().__init__(
            _l(
                "People chose “%(option)s”, so it cannot be removed. You may change its Polish or its English "
                "label (one at a time), or hide the whole question.",
                option=label,
            )
        )


class QuestionAnswered(QuestionError):
    """An answered question is hidden, not deleted (its answers stay with the registrations)."""

    message = _l("People have answered this question, so it cannot be deleted. Hide it instead: answers are kept.")


class InvalidOptions(QuestionError):
    """The options text is not one option per line, "Polish | English"."""

    field = "options"


class TooManyQuestions(QuestionError):
    """An event has a limit of questions."""

    message = _l("An event can have at most %(count)s questions.", count=MAX_QUESTIONS)


@dataclass
class QuestionData:
    """An organiser's question, already cleaned by the form; ``options`` as "Polish | English" lines."""

    kind: QuestionKind
    label_pl: str
    label_en: str = ""
    options_text: str = ""
    categories: list[str] = field(default_factory=list)
    is_required: bool = False
    is_special_category: bool = False
    is_active: bool = True


# --- reading -------------------------------------------------------------------------------


_EVENT_QUESTIONS = (
    select(Question)
    .where(Question.event_id == bindparam("event_id"), Question.is_active.is_(True))
    .order_by(Question.position, Question.id)
)


def event_questions(event_id: int, include_hidden: bool = False) -> list[Question]:
    """Return the event's questions in their order: one query (the form's only cost when there are none)."""
    if include_hidden:
        query = select(Question).where(Question.event_id == event_id).order_by(Question.position, Question.id)
        return list(db.session.execute(query).scalars())
    return list(db.session.execute(_EVENT_QUESTIONS, {"event_id": event_id}).scalars())


def answers_of(registration_id: int) -> dict[int, str]:
    """Return a registration's answers by question id."""
    rows = db.session.execute(
        select(Answer.question_id, Answer.value).where(Answer.registration_id == registration_id)
    ).all()
    return {question_id: value for question_id, value in rows}


def answers_for(registration_ids: Iterable[int]) -> dict[int, dict[int, str]]:
    """Return the answers of many registrations: registration id -> question id -> value."""
    ids = sorted(set(registration_ids))
    found: dict[int, dict[int, str]] = {}
    for start in range(0, len(ids), 500):  # bound the IN list
        rows = db.session.execute(
            select(Answer.registration_id, Answer.question_id, Answer.value).where(
                Answer.registration_id.in_(ids[start : start + 500])
            )
        ).all()
        for registration_id, question_id, value in rows:
            found.setdefault(registration_id, {})[question_id] = value
    return found


def display_value(question: Question, value: str | None, language: str | None = None) -> str:
    """Return an answer as people read it: option labels for choices, Yes/No, or the text."""
    if not value:
        return ""
    if question.kind in CHOICE_KINDS:
        return ", ".join(question.option_label(option_id, language) for option_id in split_choices(value))
    if question.kind == QuestionKind.YES_NO:
        if language is None:
            return str(_l("Yes") if value == YES else _l("No"))
        return {"pl": {YES: "Tak", NO: "Nie"}}.get(language, {YES: "Yes", NO: "No"}).get(value, value)
    return value


def split_choices(value: str) -> list[str]:
    """Return the option ids of a stored choice answer."""
    return [part for part in value.split(",") if part]


def question_label(question: Question, language: str) -> str:
    """Return the label in ``language``, falling back to the Polish one."""
    return (question.label_en if language == "en" else "") or question.label_pl


# --- answering -----------------------------------------------------------------------------


def markup_in(text: str) -> bool:
    """Tell whether the text looks like HTML (a tag's start), which answers may not hold."""
    return bool(MARKUP.search(text))


def save_answers(registration: Registration, answers: dict[int, str]) -> None:
    """Write a new registration's answers (flushes only; nothing to do, and no query, without answers)."""
    for question_id, value in sorted(answers.items()):
        if value:
            db.session.add(Answer(registration_id=registration.id, question_id=question_id, value=value))
    if answers:
        db.session.flush()


def change_answers(
    registration: Registration, questions: list[Question], answers: dict[int, str], now: datetime | None = None
) -> bool:
    """Replace the registration's answers to ``questions`` (the form's); tell whether anything changed.

    Answers to other questions (hidden ones, or those of another category) stay as they are.

    :raises RegistrationClosed: outside the registration window, or when the registration is cancelled.
    """
    now = now or utcnow()
    if not registration.event.is_registration_open(now):
        raise RegistrationClosed()
    with write_transaction():
        locked = bookings.lock_registration(registration.id)
        if locked.status != RegistrationStatus.ACTIVE or locked.anonymised_at is not None:
            raise RegistrationClosed()
        stored = {
            a.question_id: a
            for a in db.session.execute(select(Answer).where(Answer.registration_id == locked.id)).scalars()
        }
        changed = []
        for question in questions:
            value = answers.get(question.id, "")
            before = stored.get(question.id)
            if (before.value if before else "") == value:
                continue
            changed.append(question.id)
            if before is not None and not value:
                db.session.delete(before)
            elif before is not None:
                before.value = value
                before.updated_at = now
            else:
                db.session.add(Answer(registration_id=locked.id, question_id=question.id, value=value, updated_at=now))
        if changed:
            locked.updated_at = now
            record(
                "registration.answers_changed",
                event_id=locked.event_id,
                registration_id=locked.id,
                actor="participant",
                questions=changed,
            )
    return bool(changed)


# --- the organiser's editing ---------------------------------------------------------------


def parse_options(text: str, existing: list[dict[str, str]]) -> list[dict[str, str]]:
    """Turn "Polish | English" lines into options, keeping the id of an option whose Polish or English label stays.

    :raises InvalidOptions: for an empty line's label, too long labels, too many or duplicate options.
    """
    options: list[dict[str, str]] = []
    unused = list(existing)
    next_number = 1 + max((int(o["id"][1:]) for o in existing if o.get("id", "")[1:].isdigit()), default=0)
    for line in text.splitlines():
        if not line.strip():
            continue
        polish, _bar, english = (part.strip() for part in line.partition("|"))
        if not polish:
            raise InvalidOptions(_l("Each option needs a Polish label before the “|”."))
        if len(polish) > MAX_OPTION_LABEL or len(english) > MAX_OPTION_LABEL:
            raise InvalidOptions(_l("An option's label may have at most %(count)s characters.", count=MAX_OPTION_LABEL))
        if any(o["pl"].casefold() == polish.casefold() for o in options):
            raise InvalidOptions(_l("The option “%(option)s” is given twice.", option=polish))
        match = next(
            (
                o
                for o in unused
                if o["pl"].casefold() == polish.casefold()
                or (english and o.get("en", "").casefold() == english.casefold())
            ),
            None,
        )
        if match is not None:
            unused.remove(match)
            option_id = match["id"]
        else:
            option_id = f"o{next_number}"
            next_number += 1
        options.append({"id": option_id, "pl": polish, "en": english})
    if len(options) > MAX_OPTIONS:
        raise InvalidOptions(_l("A question may have at most %(count)s options.", count=MAX_OPTIONS))
    return options


def options_text(question: Question) -> str:
    """Return a question's options as the organiser edits them: "Polish | English" lines."""
    return "\n".join(f"{o['pl']} | {o.get('en', '')}" if o.get("en") else o["pl"] for o in question.options or [])


def _check_options(kind: QuestionKind, options: list[dict[str, str]]) -> None:
    """Refuse a choice question with fewer than two options."""
    if kind in CHOICE_KINDS and len(options) < 2:
        raise InvalidOptions(_l("A choice question needs at least two options, one per line."))


def create_question(event_id: int, data: QuestionData, actor: object = None) -> Question:
    """Add a question at the end of the event's form.

    :raises InvalidOptions, TooManyQuestions:
    """
    options = parse_options(data.options_text, []) if data.kind in CHOICE_KINDS else []
    _check_options(data.kind, options)
    with write_transaction():
        db.session.execute(select(Event.id).where(Event.id == event_id).with_for_update()).scalar_one()
        count, last = db.session.execute(
            select(func.count(Question.id), func.max(Question.position)).where(Question.event_id == event_id)
        ).one()
        if count >= MAX_QUESTIONS:
            raise TooManyQuestions()
        question = Question(
            event_id=event_id,
            position=(last or 0) + 1,
            kind=data.kind,
            label_pl=data.label_pl,
            label_en=data.label_en,
            options=options,
            categories=sorted(set(data.categories)),
            is_required=data.is_required,
            is_special_category=data.is_special_category,
            is_active=data.is_active,
        )
        db.session.add(question)
        db.session.flush()
        record("question.created", event_id=event_id, actor=actor, question_id=question.id, label=data.label_pl)
    return question


def update_question(event_id: int, question_id: int, data: QuestionData, actor: object = None) -> Question:
    """Change a question; answers keep their meaning.

    :raises QuestionNotFound:
    :raises KindLocked: changing the kind of an answered question.
    :raises OptionAnswered: removing an option somebody chose.
    :raises InvalidOptions:
    """
    with write_transaction():
        question = _question(event_id, question_id, lock=True)
        answered = _has_answers(question.id)
        if data.kind != question.kind and answered:
            raise KindLocked()
        options = parse_options(data.options_text, question.options or []) if data.kind in CHOICE_KINDS else []
        _check_options(data.kind, options)
        if answered and question.kind in CHOICE_KINDS:
            kept = {o["id"] for o in options}
            chosen = _chosen_options(question.id)
            for option in question.options or []:
                if option["id"] not in kept and option["id"] in chosen:
                    raise OptionAnswered(option["pl"])
        values = {
            "kind": data.kind,
            "label_pl": data.label_pl,
            "label_en": data.label_en,
            "options": options,
            "categories": sorted(set(data.categories)),
            "is_required": data.is_required,
            "is_special_category": data.is_special_category,
            "is_active": data.is_active,
        }
        changed = [name for name, value in values.items() if getattr(question, name) != value]
        for name in changed:
            setattr(question, name, values[name])
        if changed:
            record("question.updated", event_id=event_id, actor=actor, question_id=question.id, fields=changed)
    return question


def set_question_active(event_id: int, question_id: int, active: bool, actor: object = None) -> Question:
    """Show or hide a question on the forms (its answers stay either way).

    :raises QuestionNotFound:
    """
    with write_transaction():
        question = _question(event_id, question_id, lock=True)
        if question.is_active != active:
            question.is_active = active
            record(
                "question.shown" if active else "question.hidden",
                event_id=event_id,
                actor=actor,
                question_id=question.id,
            )
    return question


def move_question(event_id: int, question_id: int, step: int, actor: object = None) -> None:
    """Move a question one place up (``step`` -1) or down (+1) in the form; renumbers the positions 1, 2, ….

    :raises QuestionNotFound:
    """
    with write_transaction():
        db.session.execute(select(Event.id).where(Event.id == event_id).with_for_update()).scalar_one()
        ordered = event_questions(event_id, include_hidden=True)
        index = next((i for i, q in enumerate(ordered) if q.id == question_id), None)
        if index is None:
            raise QuestionNotFound()
        target = index + (1 if step > 0 else -1)
        if 0 <= target < len(ordered):
            ordered[index], ordered[target] = ordered[target], ordered[index]
            record("question.moved", event_id=event_id, actor=actor, question_id=question_id, position=target + 1)
        for position, question in enumerate(ordered, start=1):
            if question.position != position:
                question.position = position


def delete_question(event_id: int, question_id: int, actor: object = None) -> None:
    """Delete a question nobody answered.

    :raises QuestionNotFound:
    :raises QuestionAnswered: when it has answers (hide it instead).
    """
    with write_transaction():
        question = _question(event_id, question_id, lock=True)
        if _has_answers(question.id):
            raise QuestionAnswered()
        record("question.deleted", event_id=event_id, actor=actor, question_id=question.id, label=question.label_pl)
        db.session.delete(question)


def copy_questions(source_event_id: int, target_event_id: int) -> int:
    """Copy an event's questions (hidden ones too, in order, without answers) to another event (flushes only)."""
    copied = 0
    for question in event_questions(source_event_id, include_hidden=True):
        db.session.add(
            Question(
                event_id=target_event_id,
                position=question.position,
                kind=question.kind,
                label_pl=question.label_pl,
                label_en=question.label_en,
                options=[dict(o) for o in question.options or []],
                categories=list(question.categories or []),
                is_required=question.is_required,
                is_special_category=question.is_special_category,
                is_active=question.is_active,
            )
        )
        copied += 1
    if copied:
        db.session.flush()
    return copied


def answer_counts(event_id: int) -> dict[int, Counter[str]]:
    """Count the live registrations' answers per option (and yes/no) of the event's questions: catering needs numbers."""
    rows = db.session.execute(
        select(Answer.question_id, Answer.value)
        .join(Question, Question.id == Answer.question_id)
        .join(Registration, Registration.id == Answer.registration_id)
        .where(
            Question.event_id == event_id,
            Question.kind.in_([*CHOICE_KINDS, QuestionKind.YES_NO]),
            Registration.status == RegistrationStatus.ACTIVE,
        )
    ).all()
    counts: dict[int, Counter[str]] = {}
    for question_id, value in rows:
        counts.setdefault(question_id, Counter()).update(split_choices(value))
    return counts


def answered_question_ids(event_id: int) -> set[int]:
    """Return the ids of the event's questions that have answers (the editor marks them)."""
    query = select(Answer.question_id).join(Question, Question.id == Answer.question_id)
    return set(db.session.execute(query.where(Question.event_id == event_id).distinct()).scalars())


def _question(event_id: int, question_id: int, lock: bool = False) -> Question:
    """Load the event's question afresh inside the transaction.

    :raises QuestionNotFound:
    """
    query = select(Question).where(Question.id == question_id, Question.event_id == event_id)
    if lock:
        query = query.with_for_update()
    question = db.session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()
    if question is None:
        raise QuestionNotFound()
    return question


def _has_answers(question_id: int) -> bool:
    """Tell whether anybody answered the question."""
    return bool(db.session.execute(select(exists().where(Answer.question_id == question_id))).scalar())


def _chosen_options(question_id: int) -> set[str]:
    """Return the option ids chosen in the answers to a choice question."""
    values = db.session.execute(select(Answer.value).where(Answer.question_id == question_id)).scalars()
    return {option_id for value in values for option_id in split_choices(value)}


# --- early erasure of special-category answers ---------------------------------------------


def special_cutoff(now: datetime | None = None) -> datetime:
    """Return the end before which an event's special-category answers are past retention.

    ``GDPR_SPECIAL_RETENTION_DAYS`` counts from the event's end (0: as soon as it ends).
    """
    days = max(int(current_app.config.get("GDPR_SPECIAL_RETENTION_DAYS") or 0), 0)
    return (now or utcnow()) - timedelta(days=days)


def purge_special_answers(
    before: datetime, dry_run: bool = False, now: datetime | None = None, actor: str = "cli"
) -> int:
    """Erase the answers to special-category questions of events that ended before ``before``; return how many.

    Idempotent. The registrations and their other answers stay until the general purge.
    """
    ended = select(Event.id).where(Event.ends_at < before)
    special = select(Question.id).where(Question.is_special_category.is_(True), Question.event_id.in_(ended))
    condition = Answer.question_id.in_(special)
    if dry_run:
        return int(db.session.execute(select(func.count(Answer.id)).where(condition)).scalar_one())
    with write_transaction():
        count = int(db.session.execute(select(func.count(Answer.id)).where(condition)).scalar_one())
        if count:
            db.session.execute(delete(Answer).where(condition).execution_options(synchronize_session=False))
            record("gdpr_special_purge", actor=actor, before=before.isoformat(), answers=count)
    return count


def purge_special_past_retention(now: datetime | None = None) -> int:
    """Erase special-category answers past GDPR_SPECIAL_RETENTION_DAYS (the worker's task); logs one line."""
    cutoff = special_cutoff(now)
    count = purge_special_answers(cutoff, now=now, actor="retention")
    if count:
        current_app.logger.info(
            "GDPR special-category purge: erased %d answers of events that ended before %s UTC.",
            count,
            f"{cutoff:%Y-%m-%d %H:%M}",
        )
    return count


def erase_answers(registration_id: int) -> None:
    """Delete all of a registration's answers (flushes only; part of its erasure)."""
    db.session.execute(
        delete(Answer).where(Answer.registration_id == registration_id).execution_options(synchronize_session=False)
    )
