"""Translatable labels of the domain's enums, kept in one place."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .events.models import ParticipantCategory, SessionKind
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


def category_label(value: str | ParticipantCategory) -> str:
    """Return the label of a participant category."""
    return str(CATEGORY_LABELS[ParticipantCategory(value)])


def eligible_label(categories: list[str]) -> str:
    """Return a short phrase naming who may book a restricted session."""
    return ", ".join(str(CATEGORY_SHORT_LABELS[ParticipantCategory(c)]) for c in categories)
