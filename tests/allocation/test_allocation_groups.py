"""Places are spread over a workshop's groups as registration spreads them: emptiest group first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from app.allocation import Instance, MixRule, Objective, allocate, violations


def _people(n: int, city: str | None = None, prefix: str = "P") -> list[tuple[object, ...]]:
    return [(f"{prefix}{i}", "mayor", city, {0: ["W"]}) for i in range(n)]


@pytest.mark.parametrize("objective", list(Objective))
def test_six_people_in_two_groups_of_twelve_sit_three_and_three(
    objective: Objective, make_instance: Callable[..., Instance]
) -> None:
    # The issue: 6/12 and 0/12, where registration would have given 3/12 and 3/12.
    instance = make_instance([("W", 0, 24, None, [("g1", 12), ("g2", 12)])], _people(6))
    for seed in range(5):
        result = allocate(instance, objective, seed)
        assert Counter(a.group for a in result.assignments) == {"g1": 3, "g2": 3}


def test_most_free_places_first_then_the_first_group(make_instance: Callable[..., Instance]) -> None:
    # Free places 4 and 10 (the app gives the engine what is left): 6 go to g2 until both
    # have 4 free, then the tie goes to g1, the first, then they alternate.
    def sizes(people: int) -> Counter[str | None]:
        instance = make_instance([("W", 0, 14, None, [("g1", 4), ("g2", 10)])], _people(people))
        return Counter(a.group for a in allocate(instance, seed=3).assignments)

    assert sizes(6) == {"g2": 6}
    assert sizes(7) == {"g1": 1, "g2": 6}
    assert sizes(8) == {"g1": 1, "g2": 7}


def test_the_mix_rule_still_holds_while_groups_are_balanced(make_instance: Callable[..., Instance]) -> None:
    # Three from one city (at most 2 per group), four from elsewhere, two groups of 6.
    people = _people(3, city="X", prefix="X") + _people(4, city=None, prefix="O")
    instance = make_instance([("W", 0, 12, None, [("g1", 6), ("g2", 6)])], people, mixing=MixRule("city", 2))
    for seed in range(10):
        result = allocate(instance, Objective.FAIR, seed)
        assert violations(instance, result.assignments) == []
        sizes = Counter(a.group for a in result.assignments)
        assert sum(sizes.values()) == 7 and abs(sizes["g1"] - sizes["g2"]) <= 1
