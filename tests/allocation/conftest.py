"""Factories of allocation instances for the engine's tests (no app, no database)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from app.allocation import Group, Instance, MixRule, Participant, Workshop


def build(
    workshops: list[tuple[Any, ...]],
    participants: list[tuple[Any, ...]],
    n_choices: int = 3,
    slots: tuple[int, ...] = (0,),
    mixing: MixRule | None = None,
) -> Instance:
    """Build an instance from terse tuples.

    workshops: (id, slot, capacity[, eligible[, [(group id, capacity), ...]]])
    participants: (id, category, city, {slot: [workshop ids]})
    """
    ws = []
    for w in workshops:
        wid, slot, capacity = w[:3]
        eligible = frozenset(w[3]) if len(w) > 3 and w[3] is not None else None
        groups = tuple(Group(g, c) for g, c in w[4]) if len(w) > 4 else ()
        ws.append(Workshop(wid, slot, capacity, eligible, groups))
    ps = [
        Participant(pid, category, city, None, {s: tuple(r) for s, r in prefs.items()})
        for pid, category, city, prefs in participants
    ]
    return Instance(n_choices, slots, tuple(ws), tuple(ps), mixing)


def random_instance(rng: random.Random, max_people: int = 4, max_workshops: int = 4) -> Instance:
    """Return a small random valid instance with groups, eligibility and maybe a mix rule."""
    slots = tuple(range(rng.randint(1, 2)))
    n_choices = rng.randint(1, 3)
    workshops = []
    for i in range(rng.randint(1, max_workshops)):
        capacity = rng.randint(0, 3)
        groups: tuple[Group, ...] = ()
        if capacity >= 2 and rng.random() < 0.4:
            first = rng.randint(1, capacity - 1)
            groups = (Group(f"W{i}a", first), Group(f"W{i}b", capacity - first))
        eligible = frozenset({"mayor"}) if rng.random() < 0.2 else None
        workshops.append(Workshop(f"W{i}", rng.choice(slots), capacity, eligible, groups))
    people = []
    for j in range(rng.randint(1, max_people)):
        prefs = {}
        for slot in slots:
            here = [w.id for w in workshops if w.slot == slot]
            rng.shuffle(here)
            ranked = here[: rng.randint(0, min(n_choices, len(here)))]
            if ranked:
                prefs[slot] = tuple(ranked)
        people.append(
            Participant(f"P{j}", rng.choice(["mayor", "other"]), rng.choice(["A", "B", None]), "public", prefs)
        )
    mixing = MixRule(rng.choice(["city", "category"]), rng.randint(1, 2)) if rng.random() < 0.5 else None
    return Instance(n_choices, slots, tuple(workshops), tuple(people), mixing)


@pytest.fixture
def make_instance() -> Callable[..., Instance]:
    """Return the terse instance builder."""
    return build


@pytest.fixture
def make_random_instance() -> Callable[..., Instance]:
    """Return the small random instance generator."""
    return random_instance
