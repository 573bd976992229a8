"""Refusals of the allocation use cases; messages are translatable."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import DomainError


class RankingError(DomainError):
    """Base of the refusals an organiser can get from the allocation."""

    message = _l("The allocation could not be run.")


class NoRankedSessions(RankingError):
    """The event has no session in ranked mode."""

    message = _l("This event has no ranked workshops to allocate.")


class AlreadyPublished(RankingError):
    """An allocation of this event is published; it must be reopened first."""

    message = _l("The allocation of this event is already published. Reopen it first to run it again.")


class NotPublished(RankingError):
    """There is no published allocation to reopen."""

    message = _l("No allocation of this event is published.")


class TooLateToReopen(RankingError):
    """The event has started: published places are no longer withdrawn."""

    message = _l("The event has started: the allocation can no longer be reopened.")


class InvalidInstance(RankingError):
    """The data of the event does not make a valid allocation problem."""


class NotAPreview(RankingError):
    """Only a stored preview of this event can be published."""

    message = _l(
        "This run is not a preview of this event's allocation, so it cannot be published. Run a preview first."
    )


class PreviewOutdated(RankingError):
    """Registrations, ranked choices or free places changed since the preview: it would no longer be what was shown."""

    message = _l(
        "Registrations, ranked choices or free places have changed since this preview, so publishing it would "
        "give a different allocation from the one shown. Run a new preview, check it and publish that one."
    )


class PreviewNotReproduced(RankingError):
    """The same problem, seed and settings no longer give the preview's places (the engine changed)."""

    message = _l(
        "This preview cannot be reproduced exactly (the allocation software changed since). "
        "Run a new preview, check it and publish that one."
    )
