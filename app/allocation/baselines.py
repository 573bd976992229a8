"""Greedy baselines to compare the optimiser with, on the same data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from app.allocation.algorithm import eligible_choices, lottery_order
from app.allocation.model import Assignment, Instance, Participant, Result, units


def first_come(instance: Instance) -> Result:
    """Serve participants in registration (input) order, each taking the best place left per slot."""
    return Result(_greedy(instance, instance.participants), method="first-come")


def serial_dictatorship(instance: Instance, seed: int = 0) -> Result:
    """Serve participants in a seeded random order, each taking the best place left per slot."""
    return Result(_greedy(instance, lottery_order(instance, seed)), method="serial-dictatorship", seed=seed)


def _greedy(instance: Instance, order: Iterable[Participant]) -> tuple[Assignment, ...]:
    """Give each participant in turn their best available eligible choice in every slot."""
    by_id = instance.workshop_by_id
    mixing = instance.mixing
    taken: Counter[tuple[str, str | None]] = Counter()
    mixed: Counter[tuple[str, str | None, str]] = Counter()
    result = []
    for person in order:
        value = person.attribute(mixing.attribute) if mixing else None
        for slot in instance.slots:
            placed = False
            for rank, wid in eligible_choices(instance, person, slot):
                for gid, capacity in units(by_id[wid]):
                    if taken[(wid, gid)] >= capacity:
                        continue
                    if mixing and value is not None and mixed[(wid, gid, value)] >= mixing.max_per_group:
                        continue
                    taken[(wid, gid)] += 1
                    if value is not None:
                        mixed[(wid, gid, value)] += 1
                    result.append(Assignment(person.id, wid, gid, slot, rank))
                    placed = True
                    break
                if placed:
                    break
    result.sort(key=lambda a: (a.participant, a.slot))
    return tuple(result)
