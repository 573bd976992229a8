"""Checks of instances (before a run) and of results (hard constraints)."""

from __future__ import annotations

from collections import Counter

from app.allocation.errors import Problems
from app.allocation.model import MIX_ATTRIBUTES, Assignment, Instance, units


def validate(instance: Instance) -> None:
    """Check an instance, naming every offending participant, workshop or field.

    :raises InstanceError: if anything is wrong.
    """
    problems = Problems()
    if instance.n_choices < 1:
        problems.add("bad_value", "n_choices", "n_choices must be at least 1")
    for slot, count in Counter(instance.slots).items():
        if count > 1:
            problems.add("duplicate_id", "slots", f"slot {slot} is listed twice")
    slots = set(instance.slots)
    for wid, count in Counter(w.id for w in instance.workshops).items():
        if count > 1:
            problems.add("duplicate_id", f"workshop {wid}", f"workshop {wid}: id used {count} times")
    group_ids = Counter(g.id for w in instance.workshops for g in w.groups)
    for gid, count in group_ids.items():
        if count > 1:
            problems.add("duplicate_id", f"group {gid}", f"group {gid}: id used {count} times")
    for w in instance.workshops:
        if w.slot not in slots:
            problems.add("unknown_slot", f"workshop {w.id}.slot", f"workshop {w.id}: slot {w.slot} is not in slots")
        if w.capacity < 0:
            problems.add(
                "negative_capacity", f"workshop {w.id}.capacity", f"workshop {w.id}: capacity {w.capacity} is negative"
            )
        for g in w.groups:
            if g.capacity < 0:
                problems.add(
                    "negative_capacity",
                    f"group {g.id}.capacity",
                    f"group {g.id} of workshop {w.id}: capacity {g.capacity} is negative",
                )
        if w.groups and sum(g.capacity for g in w.groups) != w.capacity:
            problems.add(
                "group_capacity_mismatch",
                f"workshop {w.id}.groups",
                f"workshop {w.id}: group capacities sum to {sum(g.capacity for g in w.groups)}, not {w.capacity}",
            )
    for pid, count in Counter(p.id for p in instance.participants).items():
        if count > 1:
            problems.add("duplicate_id", f"participant {pid}", f"participant {pid}: id used {count} times")
    by_id = instance.workshop_by_id
    for p in instance.participants:
        if not isinstance(p.tier, int) or isinstance(p.tier, bool):
            problems.add("bad_type", f"participant {p.id}.tier", f"participant {p.id}: tier must be an integer")
        for slot, ranked in p.prefs.items():
            where = f"participant {p.id}.prefs.{slot}"
            if slot not in slots:
                problems.add("unknown_slot", where, f"participant {p.id}: slot {slot} is not in slots")
            if len(ranked) > instance.n_choices:
                problems.add(
                    "too_many_choices",
                    where,
                    f"participant {p.id}: {len(ranked)} choices in slot {slot}, at most {instance.n_choices}",
                )
            for wid, count in Counter(ranked).items():
                if count > 1:
                    problems.add(
                        "ranked_twice", where, f"participant {p.id}: workshop {wid} ranked {count} times in slot {slot}"
                    )
            for wid in dict.fromkeys(ranked):
                workshop = by_id.get(wid)
                if workshop is None:
                    problems.add(
                        "unknown_workshop", where, f"participant {p.id}: unknown workshop {wid} in slot {slot}"
                    )
                elif workshop.slot != slot:
                    problems.add(
                        "slot_mismatch",
                        where,
                        f"participant {p.id}: workshop {wid} is in slot {workshop.slot}, ranked in slot {slot}",
                    )
    if instance.mixing is not None:
        if instance.mixing.attribute not in MIX_ATTRIBUTES:
            problems.add(
                "bad_value",
                "mixing.attribute",
                f"mixing.attribute {instance.mixing.attribute!r} is not one of {', '.join(MIX_ATTRIBUTES)}",
            )
        if instance.mixing.max_per_group < 1:
            problems.add("bad_value", "mixing.max_per_group", "mixing.max_per_group must be at least 1")
    problems.raise_if_any()


def violations(instance: Instance, assignments: tuple[Assignment, ...] | list[Assignment]) -> list[str]:
    """Return every hard constraint the assignments break (empty when feasible)."""
    found: list[str] = []
    by_id = instance.workshop_by_id
    people = instance.participant_by_id
    per_slot: Counter[tuple[str, int]] = Counter()
    per_group: Counter[tuple[str, str | None]] = Counter()
    per_value: Counter[tuple[tuple[str, str | None], str]] = Counter()
    mixing = instance.mixing
    for a in assignments:
        p = people.get(a.participant)
        w = by_id.get(a.workshop)
        if p is None or w is None:
            found.append(f"{a}: unknown participant or workshop")
            continue
        ranked = p.ranked(a.slot)
        if w.slot != a.slot or a.workshop not in ranked:
            found.append(f"{a}: workshop not ranked by the participant for this slot")
        elif ranked.index(a.workshop) + 1 != a.rank:
            found.append(f"{a}: wrong rank")
        if not w.admits(p.category):
            found.append(f"{a}: participant not eligible")
        unit = (w.id, a.group)
        if a.group not in dict(units(w)):
            found.append(f"{a}: group does not belong to the workshop")
            continue
        per_slot[(a.participant, a.slot)] += 1
        per_group[unit] += 1
        if mixing is not None:
            value = p.attribute(mixing.attribute)
            if value is not None:
                per_value[(unit, value)] += 1
    for (pid, slot), count in per_slot.items():
        if count > 1:
            found.append(f"participant {pid}: {count} workshops in slot {slot}")
    capacities = {(w.id, gid): capacity for w in instance.workshops for gid, capacity in units(w)}
    for unit, count in per_group.items():
        if count > capacities[unit]:
            found.append(f"group {unit}: {count} places given, capacity {capacities[unit]}")
    if mixing is not None:
        for (unit, value), count in per_value.items():
            if count > mixing.max_per_group:
                found.append(f"group {unit}: {count} with {mixing.attribute}={value}, at most {mixing.max_per_group}")
    return found
