"""Machine-readable reasons why a participant did not get a higher-ranked choice.

Codes (the app translates them):
  not_ranked   nothing was ranked in this slot
  ineligible   the workshop is not open to the participant's category
  full         every place is taken by people who ranked it at least as high
  full_mixed   every place is taken, some by people who ranked it lower
  mix_rule     places are left, but every group with room already has the
               maximum number of people with the participant's attribute value
  had_room     the workshop could have taken them (never true of an optimal
               allocation or of the greedy baselines)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.allocation.model import Assignment, Instance, Participant, Result, Workshop, units


@dataclass(frozen=True)
class Reason:
    """Why one better-ranked workshop was not given: a code and its parameters."""

    code: str
    workshop: str | None = None
    rank: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Explanation:
    """What a participant got in a slot, why not better, and where to wait."""

    participant: str
    slot: int
    workshop: str | None
    rank: int | None
    reasons: tuple[Reason, ...]
    waitlist: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the explanation as JSON-ready data."""
        return {
            "participant": self.participant,
            "slot": self.slot,
            "workshop": self.workshop,
            "rank": self.rank,
            "reasons": [
                {"code": r.code, "workshop": r.workshop, "rank": r.rank, "params": dict(r.params)} for r in self.reasons
            ],
            "waitlist": list(self.waitlist),
        }


def explain(instance: Instance, result: Result) -> list[Explanation]:
    """Explain, for every participant and slot, why no higher-ranked choice was given."""
    given = {(a.participant, a.slot): a for a in result.assignments}
    seated: dict[str, list[Assignment]] = defaultdict(list)
    for a in result.assignments:
        seated[a.workshop].append(a)
    explanations = []
    for person in sorted(instance.participants, key=lambda p: p.id):
        for slot in instance.slots:
            ranked = person.ranked(slot)
            got = given.get((person.id, slot))
            if not ranked:
                explanations.append(Explanation(person.id, slot, None, None, (Reason("not_ranked"),)))
                continue
            better = ranked[: got.rank - 1] if got else ranked
            reasons = tuple(
                _reason(instance, person, instance.workshop_by_id[wid], rank, seated[wid])
                for rank, wid in enumerate(better, start=1)
            )
            waitlist = () if got else tuple(w for w in ranked if instance.workshop_by_id[w].admits(person.category))
            explanations.append(
                Explanation(
                    person.id, slot, got.workshop if got else None, got.rank if got else None, reasons, waitlist
                )
            )
    return explanations


def _reason(instance: Instance, person: Participant, workshop: Workshop, rank: int, seated: list[Assignment]) -> Reason:
    """Return the true reason why a workshop ranked at rank was not given."""
    if not workshop.admits(person.category):
        return Reason(
            "ineligible", workshop.id, rank, {"category": person.category, "eligible": sorted(workshop.eligible or ())}
        )
    counts = Counter(a.group for a in seated)
    open_groups = [gid for gid, capacity in units(workshop) if counts[gid] < capacity]
    if not open_groups:
        lower = sum(1 for a in seated if a.rank > rank)
        if lower:
            return Reason("full_mixed", workshop.id, rank, {"capacity": workshop.capacity, "ranked_lower": lower})
        return Reason("full", workshop.id, rank, {"capacity": workshop.capacity})
    mixing = instance.mixing
    value = person.attribute(mixing.attribute) if mixing else None
    if mixing and value is not None:
        people = instance.participant_by_id
        same = Counter(a.group for a in seated if people[a.participant].attribute(mixing.attribute) == value)
        if all(same[gid] >= mixing.max_per_group for gid in open_groups):
            return Reason(
                "mix_rule",
                workshop.id,
                rank,
                {"attribute": mixing.attribute, "value": value, "max_per_group": mixing.max_per_group},
            )
    return Reason("had_room", workshop.id, rank, {"free": workshop.capacity - len(seated)})
