"""Benchmark the allocation engine against first-come and random serial dictatorship.

Run as: .venv/bin/python bench/allocation.py [--sizes 500 5000 50000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.allocation import (  # noqa: E402
    Figures,
    Group,
    Instance,
    MixRule,
    Objective,
    Participant,
    Result,
    Workshop,
    allocate,
    figures,
    first_come,
    serial_dictatorship,
    violations,
)

SLOTS = (0, 1, 2)
N_CHOICES = 3
MAYOR_SHARE = 0.05
SEATS_PER_PERSON = 1.05


def make_instance(n_people: int, seed: int = 1, mixing: MixRule | None = None) -> Instance:
    """Generate a seeded instance with skewed popularity, mayors-only workshops and groups."""
    rng = random.Random(seed)
    workshops: list[Workshop] = []
    open_by_slot: dict[int, tuple[list[str], list[float]]] = {}
    mayors_by_slot: dict[int, tuple[list[str], list[float]]] = {}
    for slot in SLOTS:
        seats, number = 0, 0
        ids: list[str] = []
        mayor_ids: list[str] = []
        n_mayor_workshops = max(1, round(n_people * MAYOR_SHARE / 17.5 / 2))
        while seats < n_people * SEATS_PER_PERSON:
            number += 1
            wid = f"S{slot}-W{number}"
            capacity = rng.randint(10, 25)
            for_mayors = len(mayor_ids) < n_mayor_workshops
            groups: tuple[Group, ...] = ()
            if capacity >= 12:
                parts = math.ceil(capacity / 10)
                groups = tuple(
                    Group(f"{wid}-{chr(97 + g)}", capacity // parts + (1 if g < capacity % parts else 0))
                    for g in range(parts)
                )
            workshops.append(Workshop(wid, slot, capacity, frozenset({"mayor"}) if for_mayors else None, groups))
            (mayor_ids if for_mayors else ids).append(wid)
            seats += capacity
        # Popularity follows a Zipf-like law, so the first few workshops are heavily oversubscribed.
        open_by_slot[slot] = (ids, [1 / (i + 1) ** 0.9 for i in range(len(ids))])
        mayors_by_slot[slot] = (mayor_ids, [1 / (i + 1) for i in range(len(mayor_ids))])
    cities = [f"City-{i}" for i in range(1, 301)]
    city_weights = [1 / i for i in range(1, 301)]
    participants = []
    for i in range(n_people):
        mayor = rng.random() < MAYOR_SHARE
        prefs: dict[int, tuple[str, ...]] = {}
        for slot in SLOTS:
            if rng.random() > 0.85:
                continue
            ids, weights = open_by_slot[slot]
            picked: list[str] = []
            if mayor and rng.random() < 0.7:
                m_ids, m_weights = mayors_by_slot[slot]
                picked.append(rng.choices(m_ids, m_weights)[0])
            while len(picked) < N_CHOICES:
                for wid in rng.choices(ids, weights, k=N_CHOICES * 2):
                    if wid not in picked and len(picked) < N_CHOICES:
                        picked.append(wid)
            prefs[slot] = tuple(picked)
        participants.append(
            Participant(
                id=f"P{i}",
                category="mayor" if mayor else "other",
                city=rng.choices(cities, city_weights)[0],
                sector=rng.choice(("public", "private", "ngo")),
                prefs=prefs,
            )
        )
    return Instance(N_CHOICES, SLOTS, tuple(workshops), tuple(participants), mixing)


METHODS = ("first-come", "serial dictatorship", "optimal (fair)")


def measure(size: int, seed: int, mixing: MixRule | None) -> list[tuple[str, float, float, Figures, bool]]:
    """Generate one instance and return (method, seconds, peak MiB growth, figures, feasible) per method.

    Meant to run in a fresh process, so that ru_maxrss growth is this run's own.
    """
    instance = make_instance(size, seed, mixing)
    rows = []
    for method in METHODS:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        result = _run(instance, method, seed)
        elapsed = time.perf_counter() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        rows.append((method, elapsed, grown, figures(instance, result), not violations(instance, result.assignments)))
    return rows


def _run(instance: Instance, method: str, seed: int) -> Result:
    """Run one allocation method."""
    if method == "first-come":
        return first_come(instance)
    if method == "serial dictatorship":
        return serial_dictatorship(instance, seed=seed)
    return allocate(instance, Objective.FAIR, seed=seed)


def _child(size: int, seed: int, mixing: MixRule | None, queue: Any) -> None:
    """Measure in a child process and send the rows back."""
    queue.put(measure(size, seed, mixing))


def main(argv: list[str] | None = None) -> None:
    """Print one table per size and mix setting."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000, 50000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("fork")
    for size in args.sizes:
        for mixing in (None, MixRule("city", 3)):
            queue = context.Queue()
            process = context.Process(target=_child, args=(size, args.seed, mixing, queue))
            process.start()
            rows = queue.get()
            process.join()
            rule = (
                f"mix rule: at most {mixing.max_per_group} per {mixing.attribute} per group"
                if mixing
                else "no mix rule"
            )
            print(f"\n{size} participants, {rule}")
            print(
                f"{'method':<22}{'time s':>8}{'peak MiB':>10}{'1st choice':>12}{'any choice':>12}"
                f"{'nothing':>9}{'mayors 1st/any':>16}{'others 1st/any':>16}{'ok':>4}"
            )
            for method, elapsed, peak, f, ok in sorted(rows, key=lambda row: row[0] != "optimal (fair)"):
                print(
                    f"{method:<22}{elapsed:>8.2f}{peak:>10.0f}{f.overall.first_choice_share:>12.1%}"
                    f"{f.overall.any_choice_share:>12.1%}{f.overall.left_with_nothing:>9}"
                    f"{_pair(f.categories.get('mayor')):>16}{_pair(f.categories.get('other')):>16}{'yes' if ok else 'NO':>4}"
                )


def _pair(group: Any) -> str:
    """Format first-choice and any-choice shares of a category."""
    if group is None:
        return "-"
    return f"{group.first_choice_share:.0%}/{group.any_choice_share:.0%}"


if __name__ == "__main__":
    main()
