"""Translatable labels of the domain's enums, kept in one place."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .events.models import EventStatus, ParticipantCategory, SessionKind
from .registration.models import BookingStatus

CATEGORY_LABELS = {
    ParticipantCategory.MAYOR: _l("Mayor (president, mayor, wójt, burmistrz)"),
    ParticipantCategory.DEPUTY_MAYOR: _l("Deputy mayor"),
    ParticipantCategory.CITY_OFFICIAL: _l("City official"),
    ParticipantCategory.COUNCILLOR: _l("Councillor"),
    ParticipantCategory.BUSINESS: _l("Business"),
    ParticipantCategory.NGO: _l("NGO"),
    ParticipantCategory.ACADEMIA: _l("Academia / expert"),
    ParticipantCategory.MEDIA: _l("Media"),
    ParticipantCategory.OTHER: _l("Other"),
}

CATEGORY_SHORT_LABELS = {
    ParticipantCategory.MAYOR: _l("mayors"),
    ParticipantCategory.DEPUTY_MAYOR: _l("deputy mayors"),
    ParticipantCategory.CITY_OFFICIAL: _l("city officials"),
    ParticipantCategory.COUNCILLOR: _l("councillors"),
    ParticipantCategory.BUSINESS: _l("business"),
    ParticipantCategory.NGO: _l("NGOs"),
    ParticipantCategory.ACADEMIA: _l("academia and experts"),
    ParticipantCategory.MEDIA: _l("media"),
    ParticipantCategory.OTHER: _l("others"),
}

SESSION_KIND_LABELS = {
    SessionKind.PLENARY: _l("Plenary"),
    SessionKind.DIALOGUE: _l("Dialogue session"),
    SessionKind.ROUND_TABLE: _l("Round table"),
    SessionKind.PROFESSIONAL_GROUP: _l("Professional group meeting"),
    SessionKind.WORKSHOP: _l("Workshop"),
}

BOOKING_STATUS_LABELS = {
    BookingStatus.CONFIRMED: _l("Confirmed"),
    BookingStatus.WAITLISTED: _l("Waiting list"),
    BookingStatus.REQUESTED: _l("Awaiting organiser approval"),
    BookingStatus.CANCELLED: _l("Cancelled"),
    BookingStatus.OFFERED: _l("Place offered — accept it"),
}

LANGUAGE_LABELS = {"pl": "Polski", "en": "English"}


class TranslatedLabels(Mapping[Any, str]):
    """Labels translated once per locale, for templates that print one per row.

    Reads the locale on every lookup (emails are rendered under ``force_locale``),
    but translates each label only once per locale and process.
    """

    def __init__(self, labels: Mapping[Any, Any]) -> None:
        self._labels = labels
        self._by_locale: dict[str, dict[Any, str]] = {}

    def _translated(self) -> dict[Any, str]:
        """Return the labels in the current locale."""
        locale = str(get_locale())
        labels = self._by_locale.get(locale)
        if labels is None:
            labels = self._by_locale[locale] = {key: str(label) for key, label in self._labels.items()}
        return labels

    def __getitem__(self, key: Any) -> str:
        return self._translated()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


def category_label(value: str | ParticipantCategory) -> str:
    """Return the label of a participant category."""
    return str(CATEGORY_LABELS[ParticipantCategory(value)])


def eligible_label(categories: list[str]) -> str:
    """Return a short phrase naming who may book a restricted session."""
    return ", ".join(str(CATEGORY_SHORT_LABELS[ParticipantCategory(c)]) for c in categories)


# The headings of the event page's partner groups, by Partner.role (events.models.PARTNER_KINDS).
PARTNER_KIND_LABELS = {
    "organiser": _l("Organiser"),
    "partner": _l("Partners"),
    "content": _l("Substantive partners"),
    "patron": _l("Patronage"),
}

# Back-office labels of event statuses, allocation runs and objectives.
EVENT_STATUS_LABELS = {
    EventStatus.DRAFT: _l("Draft"),
    EventStatus.PUBLISHED: _l("Published"),
    EventStatus.CLOSED: _l("Registration closed"),
}
RUN_STATUS_LABELS = {
    "preview": _l("preview"),
    "published": _l("published"),
    "reopened": _l("reopened"),
}
OBJECTIVE_LABELS = {
    "fair": _l("fair (most people first, then best ranks)"),
    "linear": _l("linear (total score)"),
    "rank-maximal": _l("rank-maximal (most 1st choices, then 2nd…)"),
}


# How the audit log names each action (tests/test_audit_labels.py checks every recorded one has a name).
AUDIT_ACTION_LABELS = {
    "registration.added": _l("Added by an organiser"),
    "registration.request_approved": _l("Request approved"),
    "registration.request_declined": _l("Request declined"),
    "registration.group_moved": _l("Moved to another group"),
    "registration.booking_cancelled": _l("Place cancelled"),
    "registration.cancelled": _l("Registration cancelled"),
    "registration.promoted": _l("Promoted from the waiting list"),
    "registration.link_reissued": _l("New private link sent"),
    "registration.marketing_consent_given": _l("Consent to news given"),
    "registration.marketing_consent_withdrawn": _l("Consent to news withdrawn"),
    "session.capacity_raised": _l("One place added to the session (override)"),
    "registration.imported": _l("Participants imported from a file"),
    "gdpr_erase": _l("Personal data erased"),
    "gdpr_purge": _l("Old registrations anonymised"),
    "account.login": _l("Logged in"),
    "account.login_failed": _l("Failed login"),
    "account.logout": _l("Logged out"),
    "account.created": _l("Account created"),
    "account.enabled": _l("Account enabled"),
    "account.disabled": _l("Account disabled"),
    "account.event_assigned": _l("Event assigned to an account"),
    "account.event_unassigned": _l("Event taken from an account"),
    "account.password_changed": _l("Password changed"),
    "account.password_set": _l("Password set from the command line"),
    "account.password_reset_requested": _l("Link to set a new password asked for"),
    "account.password_reset": _l("New password set from an emailed link"),
    "series.created": _l("Series created"),
    "series.updated": _l("Series changed"),
    "event.created": _l("Event created"),
    "event.updated": _l("Event changed"),
    "event.cloned": _l("Event copied"),
    "event.deleted": _l("Event deleted"),
    "event.publish": _l("Event published"),
    "event.close": _l("Registration closed"),
    "event.reopen": _l("Registration reopened"),
    "session.created": _l("Session created"),
    "session.updated": _l("Session changed"),
    "session.deleted": _l("Session deleted"),
    "group.created": _l("Group created"),
    "group.updated": _l("Group changed"),
    "group.deleted": _l("Group deleted"),
    "session.counter_repaired": _l("Session's place counter repaired"),
    "group.counter_repaired": _l("Group's place counter repaired"),
    "invitation.created": _l("Invitation code created"),
    "invitation.revoked": _l("Invitation code revoked"),
    "offer_accepted": _l("Offered place accepted"),
    "offer_declined": _l("Offered place declined"),
    "offer_expired": _l("Offered place expired"),
    "allocation_published": _l("Workshop allocation published"),
    "allocation_reopened": _l("Workshop allocation reopened"),
    "series_priority_changed": _l("Series priority changed"),
    "checkin.undone": _l("Check-in undone"),
    "certificates.offered": _l("Certificates of attendance emailed"),
    "bulk_email": _l("Email sent to participants"),
    "email_retry": _l("Email sent again"),
    "export": _l("List exported"),
    "speaker.created": _l("Speaker added"),
    "speaker.updated": _l("Speaker changed"),
    "speaker.deleted": _l("Speaker deleted"),
    "partner.created": _l("Partner added"),
    "partner.updated": _l("Partner changed"),
    "partner.deleted": _l("Partner deleted"),
    "registration.answers_changed": _l("Answers to the event's questions changed"),
    "question.created": _l("Question added"),
    "question.updated": _l("Question changed"),
    "question.hidden": _l("Question hidden"),
    "question.shown": _l("Question shown again"),
    "question.moved": _l("Question moved"),
    "question.deleted": _l("Question deleted"),
    "gdpr_special_purge": _l("Special-category answers erased"),
}

# How the audit log names the details it keeps; the ids of rows are not shown.
AUDIT_DETAIL_LABELS = {
    "fields": _l("fields"),
    "slug": _l("address"),
    "title": _l("title"),
    "name": _l("name"),
    "capacity": _l("capacity"),
    "status": _l("status"),
    "previous_status": _l("previous status"),
    "reason": _l("reason"),
    "recipients": _l("recipients"),
    "subject": _l("subject"),
    "format": _l("format"),
    "places": _l("places"),
    "waitlisted": _l("on waiting lists"),
    "promoted": _l("promoted"),
    "seed": _l("seed"),
    "objective": _l("objective"),
    "enabled": _l("on"),
    "role": _l("role"),
    "ip": _l("IP address"),
    "days": _l("days"),
    "scope": _l("scope"),
    "override": _l("override"),
    "emailed": _l("emailed"),
    "session_id": _l("session"),
    "group_id": _l("group"),
    "from_group_id": _l("from group"),
    "to_group_id": _l("to group"),
    "mode": _l("imported as"),
    "rows": _l("rows"),
    "imported": _l("imported"),
    "skipped": _l("left out"),
    "requested": _l("requests"),
    "file_sha256": _l("file (SHA-256)"),
    "label": _l("question"),
    "position": _l("position"),
    "answers": _l("answers"),
}
HIDDEN_AUDIT_DETAILS = {
    "booking_id",
    "booking_ids",
    "registration_id",
    "event_id",
    "actor_id",
    "account_id",
    "account",
    "run_id",
    "code_id",
    "message_id",
    "series_id",
    "source_event_id",
    "deleted_event_id",
    "deleted_session_id",
    "deleted_group_id",
    "question_id",
    "questions",
}


def audit_details(details: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Return an audit entry's details as (label, value) pairs to show: ids of sessions and groups
    named from ``names`` ("session:<id>", "group:<id>" -> title), row ids left out, lists joined."""
    shown = []
    for key, value in sorted((details or {}).items()):
        if key in HIDDEN_AUDIT_DETAILS or value is None or value == "":
            continue
        label = str(AUDIT_DETAIL_LABELS.get(key, key.replace("_", " ")))
        kind = "session" if key == "session_id" else "group" if key.endswith("group_id") else None
        if kind and names is not None:
            value = names.get(f"{kind}:{value}", f"#{value}")
        elif isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "✓" if value else "—"
        shown.append((label, str(value)))
    return shown
