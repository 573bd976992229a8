"""JSON forms of instances and results."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.allocation.errors import Problems
from app.allocation.model import Group, Instance, MixRule, Participant, Result, Workshop
from app.allocation.validation import validate


def instance_from_dict(data: Any) -> Instance:
    """Build and validate an instance from its JSON form.

    :raises InstanceError: naming every problem found.
    """
    problems = Problems()
    if not isinstance(data, dict):
        problems.add("bad_type", "instance", "the instance must be a JSON object")
        problems.raise_if_any()
    n_choices = data.get("n_choices")
    if not _is_int(n_choices) or n_choices < 1:
        problems.add("bad_value", "n_choices", "n_choices must be a positive integer")
        n_choices = 1
    raw_slots = data.get("slots")
    slots: list[int] = []
    if not isinstance(raw_slots, list) or not all(_is_int(s) for s in raw_slots):
        problems.add("bad_type", "slots", "slots must be a list of integers")
    else:
        slots = list(raw_slots)
    workshops = [_workshop(w, i, problems) for i, w in enumerate(_list(data, "workshops", problems))]
    participants = [_participant(p, i, problems) for i, p in enumerate(_list(data, "participants", problems))]
    mixing = _mixing(data.get("mixing"), problems)
    problems.raise_if_any()
    instance = Instance(
        n_choices=n_choices,
        slots=tuple(slots),
        workshops=tuple(w for w in workshops if w is not None),
        participants=tuple(p for p in participants if p is not None),
        mixing=mixing,
    )
    validate(instance)
    return instance


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    """Return the JSON form of an instance."""
    return {
        "n_choices": instance.n_choices,
        "slots": list(instance.slots),
        "workshops": [
            {
                "id": w.id,
                "slot": w.slot,
                "capacity": w.capacity,
                "eligible": sorted(w.eligible) if w.eligible is not None else None,
                "groups": [{"id": g.id, "capacity": g.capacity} for g in w.groups],
            }
            for w in instance.workshops
        ],
        "participants": [
            {
                "id": p.id,
                "category": p.category,
                "city": p.city,
                "sector": p.sector,
                "prefs": {str(s): list(ws) for s, ws in p.prefs.items()},
                **({"tier": p.tier} if p.tier else {}),
            }
            for p in instance.participants
        ],
        "mixing": (
            {"attribute": instance.mixing.attribute, "max_per_group": instance.mixing.max_per_group}
            if instance.mixing
            else None
        ),
    }


def result_to_dict(result: Result) -> dict[str, Any]:
    """Return the JSON form of a result (without figures)."""
    return {
        "method": result.method,
        "seed": result.seed,
        "assignments": [
            {"participant": a.participant, "workshop": a.workshop, "group": a.group, "slot": a.slot, "rank": a.rank}
            for a in result.assignments
        ],
    }


def instance_fingerprint(instance: Instance) -> str:
    """Return a digest of everything the allocation of ``instance`` depends on (sha256, hex).

    Two instances with the same fingerprint give the same result for the same
    objective and seed, so a stored preview can be recognised as still current.
    """
    return _digest(instance_to_dict(instance))


def result_digest(result: Result) -> str:
    """Return a digest of a result's places (sha256, hex), independent of their order."""
    places = sorted((a.participant, a.slot, a.workshop, a.group or "", a.rank) for a in result.assignments)
    return _digest(places)


def _digest(data: Any) -> str:
    """Return the sha256 of the canonical JSON form of ``data``."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _list(data: dict[str, Any], key: str, problems: Problems) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        problems.add("bad_type", key, f"{key} must be a list")
        return []
    return value


def _workshop(raw: Any, index: int, problems: Problems) -> Workshop | None:
    where = f"workshops[{index}]"
    if not isinstance(raw, dict) or not _is_str(raw.get("id")):
        problems.add("bad_type", where, f"{where} must be an object with a non-empty string id")
        return None
    wid = raw["id"]
    ok = True
    if not _is_int(raw.get("slot")):
        problems.add("bad_type", f"workshop {wid}.slot", f"workshop {wid}: slot must be an integer")
        ok = False
    if not _is_int(raw.get("capacity")):
        problems.add("bad_type", f"workshop {wid}.capacity", f"workshop {wid}: capacity must be an integer")
        ok = False
    eligible = raw.get("eligible")
    if eligible is not None and (not isinstance(eligible, list) or not all(_is_str(c) for c in eligible)):
        problems.add(
            "bad_type", f"workshop {wid}.eligible", f"workshop {wid}: eligible must be null or a list of categories"
        )
        ok = False
    groups: list[Group] = []
    raw_groups = raw.get("groups") or []
    if not isinstance(raw_groups, list):
        problems.add("bad_type", f"workshop {wid}.groups", f"workshop {wid}: groups must be a list")
        ok = False
    else:
        for g in raw_groups:
            if not isinstance(g, dict) or not _is_str(g.get("id")) or not _is_int(g.get("capacity")):
                problems.add(
                    "bad_type",
                    f"workshop {wid}.groups",
                    f"workshop {wid}: each group needs a string id and an integer capacity",
                )
                ok = False
            else:
                groups.append(Group(g["id"], g["capacity"]))
    if not ok:
        return None
    return Workshop(
        id=wid,
        slot=raw["slot"],
        capacity=raw["capacity"],
        eligible=frozenset(eligible) if eligible is not None else None,
        groups=tuple(groups),
    )


def _participant(raw: Any, index: int, problems: Problems) -> Participant | None:
    where = f"participants[{index}]"
    if not isinstance(raw, dict) or not _is_str(raw.get("id")):
        problems.add("bad_type", where, f"{where} must be an object with a non-empty string id")
        return None
    pid = raw["id"]
    ok = True
    if not _is_str(raw.get("category")):
        problems.add(
            "bad_type", f"participant {pid}.category", f"participant {pid}: category must be a non-empty string"
        )
        ok = False
    for key in ("city", "sector"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            problems.add("bad_type", f"participant {pid}.{key}", f"participant {pid}: {key} must be a string or null")
            ok = False
    tier = raw.get("tier", 0)
    if not _is_int(tier):
        problems.add("bad_type", f"participant {pid}.tier", f"participant {pid}: tier must be an integer")
        ok = False
    raw_prefs = raw.get("prefs", {})
    prefs: dict[int, tuple[str, ...]] = {}
    if not isinstance(raw_prefs, dict):
        problems.add("bad_type", f"participant {pid}.prefs", f"participant {pid}: prefs must be an object")
        ok = False
    else:
        for key, ranked in raw_prefs.items():
            try:
                slot = int(key)
            except (TypeError, ValueError):
                problems.add(
                    "bad_type", f"participant {pid}.prefs", f"participant {pid}: slot key {key!r} is not an integer"
                )
                ok = False
                continue
            if not isinstance(ranked, list) or not all(_is_str(w) for w in ranked):
                problems.add(
                    "bad_type",
                    f"participant {pid}.prefs.{key}",
                    f"participant {pid}: prefs for slot {key} must be a list of ids",
                )
                ok = False
                continue
            if slot in prefs:
                problems.add(
                    "duplicate_slot", f"participant {pid}.prefs", f"participant {pid}: slot {slot} given twice"
                )
                ok = False
            prefs[slot] = tuple(ranked)
    if not ok:
        return None
    return Participant(
        id=pid, category=raw["category"], city=raw.get("city"), sector=raw.get("sector"), prefs=prefs, tier=tier
    )


def _mixing(raw: Any, problems: Problems) -> MixRule | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not _is_str(raw.get("attribute")) or not _is_int(raw.get("max_per_group")):
        problems.add("bad_type", "mixing", "mixing must be null or {attribute, max_per_group}")
        return None
    return MixRule(raw["attribute"], raw["max_per_group"])
