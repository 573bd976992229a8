"""Plain data of an allocation run: the instance, the rules and the result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

MIX_ATTRIBUTES = ("city", "category", "sector")


class Objective(str, Enum):
    """What the optimiser maximises."""

    FAIR = "fair"
    LINEAR = "linear"
    RANK_MAXIMAL = "rank-maximal"


@dataclass(frozen=True)
class Group:
    """A small group (or round table) inside a workshop."""

    id: str
    capacity: int


@dataclass(frozen=True)
class Workshop:
    """A workshop held in one slot, optionally split into groups."""

    id: str
    slot: int
    capacity: int
    eligible: frozenset[str] | None = None
    groups: tuple[Group, ...] = ()

    def admits(self, category: str) -> bool:
        """Tell whether a participant of this category may attend."""
        return self.eligible is None or category in self.eligible


@dataclass(frozen=True)
class Participant:
    """A participant with ranked workshop choices per slot.

    ``tier`` is a priority class: every objective is optimised for the highest
    tier first, then the next, … (0 is the usual tier; negative tiers come last).
    """

    id: str
    category: str
    city: str | None = None
    sector: str | None = None
    prefs: Mapping[int, tuple[str, ...]] = field(default_factory=dict, hash=False)
    tier: int = 0

    def ranked(self, slot: int) -> tuple[str, ...]:
        """Return the workshops ranked for a slot, best first."""
        return self.prefs.get(slot, ())

    def attribute(self, name: str) -> str | None:
        """Return the value of a mixing attribute."""
        value: str | None = getattr(self, name)
        return value


@dataclass(frozen=True)
class MixRule:
    """At most max_per_group participants sharing an attribute value in one group."""

    attribute: str
    max_per_group: int


@dataclass(frozen=True)
class Instance:
    """Everything the allocation needs to know."""

    n_choices: int
    slots: tuple[int, ...]
    workshops: tuple[Workshop, ...]
    participants: tuple[Participant, ...]
    mixing: MixRule | None = None

    @cached_property
    def workshop_by_id(self) -> dict[str, Workshop]:
        """Index workshops by id."""
        return {w.id: w for w in self.workshops}

    @cached_property
    def participant_by_id(self) -> dict[str, Participant]:
        """Index participants by id."""
        return {p.id: p for p in self.participants}


@dataclass(frozen=True)
class Assignment:
    """One place given: a participant in a workshop (and group) in a slot."""

    participant: str
    workshop: str
    group: str | None
    slot: int
    rank: int


@dataclass(frozen=True)
class Result:
    """The places given by one run, with the method and lottery seed used."""

    assignments: tuple[Assignment, ...]
    method: str
    seed: int | None = None


def units(workshop: Workshop) -> tuple[tuple[str | None, int], ...]:
    """Return (group id, capacity) per group; a workshop without groups is one group with id None."""
    if workshop.groups:
        return tuple((g.id, g.capacity) for g in workshop.groups)
    return ((None, workshop.capacity),)
