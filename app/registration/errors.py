"""Domain errors of registration; each carries a translatable message and a form field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import DomainError


class RegistrationError(DomainError):
    """Base of the refusals a participant can get; ``field`` names the form field."""

    message = _l("The registration could not be saved.")


class RegistrationClosed(RegistrationError):
    """The event does not accept registrations or changes now."""

    message = _l("Registration for this event is closed.")


class RegistrationNotOpenYet(RegistrationClosed):
    """The registration window has not started."""

    message = _l("Registration for this event has not opened yet.")


class AlreadyRegistered(RegistrationError):
    """A live registration with this email exists for the event."""

    message = _l(
        "A registration with this email address already exists for this event. "
        "Use the private link from your confirmation email to change it; "
        "we can send the link to that address again."
    )
    field = "email"


class RegistrationRefused(RegistrationError):
    """The neutral answer to an address registered already, once it was told so often enough (refusal_for_duplicate)."""

    message = _l(
        "We could not register this email address for this event. "
        "If you have registered before, we can send your private link to that address again."
    )
    field = "email"


class TimeClash(RegistrationError):
    """Two chosen sessions overlap in time."""

    field = "sessions"


class InvalidChoice(RegistrationError):
    """A choice that is not on offer (unknown, duplicated or not allowed)."""

    message = _l("This choice is not available.")
    field = "sessions"


class NothingChosen(InvalidChoice):
    """A registration must name at least one session or ranked workshop (where the event has any)."""

    message = _l("Choose at least one session or rank at least one workshop.")


class NotCancellable(RegistrationError):
    """The booking cannot be cancelled (already cancelled or event over)."""

    message = _l("This place can no longer be cancelled.")


class ActionRefused(RegistrationError):
    """An organiser's action that does not fit the registration's current state."""

    message = _l("This action is not possible for this registration now.")


class BookingNotFound(ActionRefused):
    """The booking is not one of this registration's."""

    message = _l("This booking does not belong to this registration.")


class GroupNotFound(ActionRefused):
    """The target group is not a group of the booking's session."""

    message = _l("Choose another group of the same session.")


class GroupFull(ActionRefused):
    """The target group has no free place and no override was given."""

    message = _l("This group is full. Tick “Add a place if the group is full” to add one place to it.")


class SessionFull(ActionRefused):
    """No place is free for a promotion and no override was given."""

    message = _l("No place is free in this session. Tick “Add a place if the session is full” to add one place.")


class RegistrationIsCancelled(ActionRefused):
    """The registration is cancelled: its places cannot be changed."""

    message = _l("This registration is cancelled.")


class PlaceClash(ActionRefused):
    """The participant already holds a confirmed place at the same time."""

    message = _l("This participant has a confirmed place at the same time.")


class WrongBookingState(ActionRefused):
    """The booking's state does not allow the action (e.g. approving a confirmed place)."""

    MESSAGES = {
        "confirmed": _l("This place is already confirmed."),
        "waitlisted": _l("This place is on the waiting list."),
        "requested": _l("This place awaits approval."),
        "cancelled": _l("This place is cancelled."),
    }

    def __init__(self, status: str) -> None:
        super().__init__(self.MESSAGES.get(status, ActionRefused.message))


class ConfirmationExpired(RegistrationError):
    """The time to confirm the registration by email is over (or it was cancelled)."""

    message = _l("The time to confirm this registration is over: its places have been released.")


class RankingClosed(RegistrationError):
    """Ranked choices can no longer be changed."""

    message = _l("Your ranked choices can no longer be changed.")


class OfferUnavailable(RegistrationError):
    """The offered place is not (or no longer) offered to this registration."""

    message = _l("This place is no longer offered to you.")


class RegistrationErased(RegistrationError):
    """The registration's personal data has been erased: nothing about the person can change any more."""

    message = _l("The personal data of this registration has been erased.")


class ConsentNotRenewable(RegistrationError):
    """Consent to news cannot be given again from a cancelled registration (withdrawing it still works)."""

    message = _l(
        "This registration is cancelled, so consent to news about future events can no longer be given from it."
    )
