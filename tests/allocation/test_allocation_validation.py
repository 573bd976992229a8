"""validate() names each problem of an instance built in code, for the app to reuse."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.allocation import Instance, InstanceError, MixRule, validate


def test_valid_instance_passes(make_instance: Callable[..., Instance]) -> None:
    validate(make_instance([("W1", 0, 2, None, [("a", 1), ("b", 1)])], [("P1", "other", None, {0: ["W1"]})]))


def test_every_problem_is_reported_with_code_and_place(make_instance: Callable[..., Instance]) -> None:
    instance = make_instance(
        [("W1", 0, 2), ("W2", 1, -1), ("W1", 0, 1)],
        [("P1", "other", None, {0: ["W1", "W2"], 1: ["W9"]}), ("P1", "other", None, {})],
        n_choices=1,
        slots=(0, 1),
        mixing=MixRule("city", 0),
    )
    with pytest.raises(InstanceError) as caught:
        validate(instance)
    codes = {(p.code, p.where) for p in caught.value.problems}
    assert ("duplicate_id", "workshop W1") in codes
    assert ("duplicate_id", "participant P1") in codes
    assert ("negative_capacity", "workshop W2.capacity") in codes
    assert ("too_many_choices", "participant P1.prefs.0") in codes
    assert ("slot_mismatch", "participant P1.prefs.0") in codes
    assert ("unknown_workshop", "participant P1.prefs.1") in codes
    assert ("bad_value", "mixing.max_per_group") in codes
