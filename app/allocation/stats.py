"""Figures describing an allocation: who got what, how full, how oversubscribed."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from app.allocation.algorithm import score
from app.allocation.model import Instance, Result


@dataclass(frozen=True)
class WorkshopFigures:
    """Fill and first-choice demand of one workshop."""

    id: str
    slot: int
    capacity: int
    assigned: int
    fill: float
    first_choice_demand: int
    oversubscription: float | None


@dataclass(frozen=True)
class GroupFigures:
    """Results of one set of participants (everyone, or one category)."""

    participants: int
    requests: int
    places: int
    first_choices: int
    first_choice_share: float
    any_choice_share: float
    left_with_nothing: int


@dataclass(frozen=True)
class Figures:
    """All figures of one run."""

    method: str
    seed: int | None
    overall: GroupFigures
    total_score: int
    rank_counts: tuple[int, ...]
    categories: dict[str, GroupFigures]
    workshops: tuple[WorkshopFigures, ...]

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as JSON-ready data."""
        return asdict(self)


def figures(instance: Instance, result: Result) -> Figures:
    """Compute the figures of a result on its instance."""
    per_person = Counter(a.participant for a in result.assignments)
    first = Counter(a.participant for a in result.assignments if a.rank == 1)
    by_category = defaultdict(list)
    for p in instance.participants:
        by_category[p.category].append(p.id)
    requests = {p.id: sum(1 for s in instance.slots if p.ranked(s)) for p in instance.participants}

    def summary(ids: list[str]) -> GroupFigures:
        asked = sum(requests[i] for i in ids)
        places = sum(per_person[i] for i in ids)
        firsts = sum(first[i] for i in ids)
        return GroupFigures(
            participants=sum(1 for i in ids if requests[i]),
            requests=asked,
            places=places,
            first_choices=firsts,
            first_choice_share=firsts / asked if asked else 0.0,
            any_choice_share=places / asked if asked else 0.0,
            left_with_nothing=sum(1 for i in ids if requests[i] and not per_person[i]),
        )

    filled = Counter(a.workshop for a in result.assignments)
    demand = Counter(p.ranked(s)[0] for p in instance.participants for s in instance.slots if p.ranked(s))
    ranks = Counter(a.rank for a in result.assignments)
    return Figures(
        method=result.method,
        seed=result.seed,
        overall=summary([p.id for p in instance.participants]),
        total_score=sum(score(instance, a.rank) for a in result.assignments),
        rank_counts=tuple(ranks[r] for r in range(1, instance.n_choices + 1)),
        categories={c: summary(ids) for c, ids in sorted(by_category.items())},
        workshops=tuple(
            WorkshopFigures(
                id=w.id,
                slot=w.slot,
                capacity=w.capacity,
                assigned=filled[w.id],
                fill=filled[w.id] / w.capacity if w.capacity else 0.0,
                first_choice_demand=demand[w.id],
                oversubscription=demand[w.id] / w.capacity if w.capacity else None,
            )
            for w in sorted(instance.workshops, key=lambda w: (w.slot, w.id))
        ),
    )
