"""Domain errors of registration; each carries a translatable message and a form field."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l


class RegistrationError(Exception):
    """Base of the refusals a participant can get; ``field`` names the form field."""

    message = _l("The registration could not be saved.")
    field: str | None = None

    def __init__(self, message: object | None = None, field: str | None = None) -> None:
        if message is not None:
            self.message = message  # type: ignore[assignment]
        if field is not None:
            self.field = field
        super().__init__(str(self.message))


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


class TimeClash(RegistrationError):
    """Two chosen sessions overlap in time."""

    field = "sessions"


class InvalidChoice(RegistrationError):
    """A choice that is not on offer (unknown, duplicated or not allowed)."""

    message = _l("This choice is not available.")
    field = "sessions"


class NotCancellable(RegistrationError):
    """The booking cannot be cancelled (already cancelled or event over)."""

    message = _l("This place can no longer be cancelled.")
