"""Explanations state only what is true of the result."""

from __future__ import annotations

from collections.abc import Callable

from app.allocation import (
    Explanation,
    Instance,
    MixRule,
    Objective,
    allocate,
    explain,
    figures,
    first_come,
)


def for_person(explanations: list[Explanation], pid: str, slot: int = 0) -> Explanation:
    return next(e for e in explanations if e.participant == pid and e.slot == slot)


def test_full_with_people_who_ranked_it_as_high(make_instance: Callable[..., Instance]) -> None:
    instance = make_instance(
        [("W1", 0, 1), ("W2", 0, 1)],
        [("A", "other", None, {0: ["W1", "W2"]}), ("B", "other", None, {0: ["W1", "W2"]})],
    )
    result = allocate(instance, seed=4)
    loser = next(a.participant for a in result.assignments if a.workshop == "W2")
    why = for_person(explain(instance, result), loser)
    assert (why.workshop, why.rank) == ("W2", 2)
    assert [(r.code, r.workshop, r.rank, dict(r.params)) for r in why.reasons] == [("full", "W1", 1, {"capacity": 1})]
    assert why.waitlist == ()


def test_full_mixed_when_the_optimum_seats_someone_who_ranked_it_lower(make_instance: Callable[..., Instance]) -> None:
    # B can only be served by W1 (D holds W2), so the fair optimum gives W1 to
    # B, who ranked it 2nd, and sends A to their 2nd choice W3.
    instance = make_instance(
        [("W1", 0, 1), ("W2", 0, 1), ("W3", 0, 1)],
        [
            ("A", "other", None, {0: ["W1", "W3"]}),
            ("B", "other", None, {0: ["W2", "W1"]}),
            ("D", "other", None, {0: ["W2"]}),
        ],
        n_choices=2,
    )
    for seed in range(5):
        result = allocate(instance, Objective.FAIR, seed=seed)
        got = {a.participant: a.workshop for a in result.assignments}
        assert got == {"A": "W3", "B": "W1", "D": "W2"}
        why = for_person(explain(instance, result), "A")
        assert [(r.code, dict(r.params)) for r in why.reasons] == [("full_mixed", {"capacity": 1, "ranked_lower": 1})]
        assert [r.code for r in for_person(explain(instance, result), "B").reasons] == ["full"]


def test_mix_rule_when_places_are_left(make_instance: Callable[..., Instance]) -> None:
    instance = make_instance(
        [("W1", 0, 2), ("W2", 0, 1)],
        [("A", "other", "Łódź", {0: ["W1", "W2"]}), ("B", "other", "Łódź", {0: ["W1", "W2"]})],
        mixing=MixRule("city", 1),
    )
    result = allocate(instance, seed=0)
    loser = next(a.participant for a in result.assignments if a.workshop == "W2")
    reason = for_person(explain(instance, result), loser).reasons[0]
    assert (reason.code, reason.workshop) == ("mix_rule", "W1")
    assert dict(reason.params) == {"attribute": "city", "value": "Łódź", "max_per_group": 1}
    assert figures(instance, result).workshops[0].assigned == 1


def test_mix_rule_per_group(make_instance: Callable[..., Instance]) -> None:
    instance = make_instance(
        [("W1", 0, 4, None, [("W1-a", 2), ("W1-b", 2)]), ("W2", 0, 5)],
        [(f"P{i}", "other", "X", {0: ["W1", "W2"]}) for i in range(3)] + [("Q", "other", "Y", {0: ["W1"]})],
        mixing=MixRule("city", 1),
    )
    result = allocate(instance, seed=2)
    in_w1 = [a for a in result.assignments if a.workshop == "W1"]
    assert len(in_w1) == 3 and {a.group for a in in_w1} == {"W1-a", "W1-b"}
    loser = next(a.participant for a in result.assignments if a.workshop == "W2")
    assert [r.code for r in for_person(explain(instance, result), loser).reasons] == ["mix_rule"]


def test_ineligible_not_ranked_and_waitlist(make_instance: Callable[..., Instance]) -> None:
    instance = make_instance(
        [("W1", 0, 1), ("WM", 0, 5, ["mayor"]), ("W2", 0, 0), ("W3", 1, 4)],
        [
            ("A", "other", None, {0: ["W1", "WM", "W2"]}),
            ("B", "other", None, {0: ["W1", "WM", "W2"], 1: ["W3"]}),
        ],
        slots=(0, 1),
    )
    result = allocate(instance, seed=1)
    explanations = explain(instance, result)
    winner = next(a.participant for a in result.assignments if a.workshop == "W1")
    loser = "A" if winner == "B" else "B"
    why = for_person(explanations, loser)
    assert why.workshop is None and why.rank is None
    assert [(r.code, r.workshop, r.rank) for r in why.reasons] == [
        ("full", "W1", 1),
        ("ineligible", "WM", 2),
        ("full", "W2", 3),
    ]
    assert dict(why.reasons[1].params) == {"category": "other", "eligible": ["mayor"]}
    assert why.waitlist == ("W1", "W2")
    assert [r.code for r in for_person(explanations, "A", slot=1).reasons] == ["not_ranked"]
    assert for_person(explanations, winner).reasons == ()


def test_first_come_explained_as_full_mixed_when_an_earlier_registrant_ranked_lower(
    make_instance: Callable[..., Instance],
) -> None:
    instance = make_instance(
        [("W1", 0, 1), ("W2", 0, 1)],
        [
            ("Early", "other", None, {0: ["W2", "W1"]}),
            ("Other", "other", None, {0: ["W2"]}),
            ("Late", "other", None, {0: ["W1", "W2"]}),
        ],
    )
    result = first_come(instance)
    assert {a.participant: a.workshop for a in result.assignments} == {"Early": "W2"} | {"Late": "W1"}
    assert [r.code for r in for_person(explain(instance, result), "Other").reasons] == ["full"]


def test_figures_on_a_hand_built_case(make_instance: Callable[..., Instance]) -> None:
    instance = make_instance(
        [("W1", 0, 1), ("W2", 0, 2)],
        [
            ("A", "mayor", None, {0: ["W1", "W2"]}),
            ("B", "other", None, {0: ["W1"]}),
            ("C", "other", None, {0: ["W1", "W2"]}),
            ("D", "other", None, {}),
        ],
        n_choices=2,
    )
    result = allocate(instance, seed=0)
    f = figures(instance, result)
    assert f.overall.requests == 3 and f.overall.places == 3 and f.overall.left_with_nothing == 0
    assert f.overall.first_choices == 1 and f.rank_counts == (1, 2)
    assert f.categories["mayor"].any_choice_share == 1.0
    w1 = f.workshops[0]
    assert (w1.id, w1.assigned, w1.fill, w1.first_choice_demand, w1.oversubscription) == ("W1", 1, 1.0, 3, 3.0)
    assert f.as_dict()["overall"]["participants"] == 3
