"""Exactly optimal allocation of ranked workshop choices as a min-cost flow.

The network, with S the source, T the sink and F the "first place" node:

    S -> F               free; F also holds a fixed supply C (see below)
    F -> P               capacity 1: the participant's first place
    S -> P               capacity (slots ranked - 1): further places
    P -> PS              capacity 1 per slot: at most one workshop per slot
    PS -> W  (or WV)     capacity 1 per eligible ranked workshop, costed by rank
    W -> T               capacity of the workshop (no mix rule)
    WV -> G              capacity k: mix rule, participants of value V in group G
    G -> T               capacity of the group (mix rule)
    S -> T               free bypass, so routing all supply never forces a place

The bypass makes every flow feasible, so the solver only minimises cost and
never trades the objective for more flow.  Integral capacities give an
integral optimum, and every integral flow is an allocation that meets all hard
constraints and vice versa (a WV -> G arc of capacity k is exactly "at most k of
value V in group G"), so the optimum of the flow is the optimum allocation.

Objectives are lexicographic vectors of "levels" (linear arc costs).  Levels are
packed into one cost by mixed-radix weights while that fits int64 safely; a
further pack is optimised only over the optimal face of the earlier ones, fixed
by complementary slackness with potentials computed on the residual graph.
The `fair` objective first finds C, the largest number of participants who can
get a place, by a max flow from F; giving F a supply of exactly C (and S -> P
only the further places) then forces at least C participants to be served.

Participants may carry a priority ``tier``.  With more than one tier present,
the objective is the concatenation of each tier's objective vector, highest
tier first: one set of levels per tier (for `fair`, "people served" is then a
level of its own, costing -1 on the tier's F -> P arcs, instead of the forced
supply), so any gain for a higher tier outweighs everything below it.
"""

from __future__ import annotations

import gc
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import max_flow, min_cost_flow

from app.allocation.errors import AllocationError
from app.allocation.model import Assignment, Instance, Objective, Participant, Result, units

SOURCE, SINK, FIRST = 0, 1, 2

# OR-Tools' cost scaling multiplies arc costs by (number of nodes + 1) and
# answers BAD_COST_RANGE past int64, so every packed cost c keeps
# max|c| * (nodes + 1) <= 2**62.  That also bounds the total cost (only the
# PS -> W arcs cost anything, each carries at most 1, and there are fewer PS
# nodes than nodes) and every residual shortest-path distance (at most nodes
# arcs of |cost| <= max|c|) by 2**62, leaving int64 headroom for sums.
COST_LIMIT = 2**62

IntArray = NDArray[np.int64]


def lottery_key(seed: int, participant_id: str) -> int:
    """Return a participant's lottery number for a seed; lower numbers are favoured."""
    digest = hashlib.sha256(f"{seed}\x00{participant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def lottery_order(instance: Instance, seed: int) -> list[Participant]:
    """Return the participants in the seeded lottery order, independent of input order."""
    return sorted(instance.participants, key=lambda p: (lottery_key(seed, p.id), p.id))


def eligible_choices(instance: Instance, participant: Participant, slot: int) -> list[tuple[int, str]]:
    """Return (rank, workshop id) of the eligible ranked workshops of a slot, best first."""
    by_id = instance.workshop_by_id
    return [
        (rank, wid)
        for rank, wid in enumerate(participant.ranked(slot), start=1)
        if by_id[wid].admits(participant.category)
    ]


def score(instance: Instance, rank: int) -> int:
    """Return the score of a place at a rank: K - rank + 1."""
    return instance.n_choices - rank + 1


def objective_value(
    instance: Instance, assignments: tuple[Assignment, ...] | list[Assignment], objective: Objective
) -> tuple[int, ...]:
    """Return the objective vector of an allocation; larger (lexicographically) is better.

    With several priority tiers it is each tier's vector in turn, highest tier first.
    """
    tiers = sorted({p.tier for p in instance.participants}, reverse=True)
    if len(tiers) <= 1:
        return _tier_value(instance, assignments, objective)
    tier_of = {p.id: p.tier for p in instance.participants}
    value: tuple[int, ...] = ()
    for tier in tiers:
        value += _tier_value(instance, [a for a in assignments if tier_of[a.participant] == tier], objective)
    return value


def _tier_value(
    instance: Instance, assignments: tuple[Assignment, ...] | list[Assignment], objective: Objective
) -> tuple[int, ...]:
    """Return the objective vector of some assignments, ignoring tiers."""
    total = sum(score(instance, a.rank) for a in assignments)
    if objective is Objective.FAIR:
        return (len({a.participant for a in assignments}), total)
    if objective is Objective.LINEAR:
        return (total,)
    counts = [0] * instance.n_choices
    for a in assignments:
        counts[a.rank - 1] += 1
    return tuple(counts)


def allocate(instance: Instance, objective: Objective = Objective.FAIR, seed: int = 0) -> Result:
    """Return an exactly optimal allocation; ties are broken by the seeded lottery.

    :raises AllocationError: if the solver fails (it should not on a valid instance).
    """
    # Building the network allocates millions of small objects, which would
    # set off many full cyclic collections for no gain (it makes no cycles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        net = _build(instance, seed)
        tiered = len({p.tier for p in instance.participants}) > 1
        # With tiers, "people served" is a level per tier (see _levels), not a forced supply.
        forced_cover = _max_cover(net) if objective is Objective.FAIR and not tiered else 0
        net.supply[SOURCE] = net.total_units - forced_cover
        net.supply[FIRST] = forced_cover
        net.cap[net.source_to_first] = net.n_people - forced_cover
        levels = _tiered_levels(instance, net, objective) if tiered else _levels(instance, net, objective)
        flow = _lexicographic_flow(net, levels)
        assignments = _assignments(instance, net, flow)
    finally:
        if collecting:
            gc.enable()
    return Result(assignments=assignments, method=objective.value, seed=seed)


@dataclass
class _Network:
    """Arrays of the flow network and what its arcs mean."""

    order: list[Participant]
    n_nodes: int = 3
    tail: list[int] = field(default_factory=list)
    head: list[int] = field(default_factory=list)
    capacity: list[int] = field(default_factory=list)
    # PS -> W arcs: arc index, participant position in the lottery, workshop, slot, rank
    choice_arc: list[int] = field(default_factory=list)
    choice_pos: list[int] = field(default_factory=list)
    choice_wid: list[str] = field(default_factory=list)
    choice_slot: list[int] = field(default_factory=list)
    choice_rank: list[int] = field(default_factory=list)
    # F -> P arcs (a participant's first place) and the participant's position in the lottery
    first_arc: list[int] = field(default_factory=list)
    first_pos: list[int] = field(default_factory=list)
    # arcs into group nodes where the mix rule can bind: arc, workshop, group, contested value or None
    seat_arcs: list[tuple[int, str, str | None, str | None]] = field(default_factory=list)
    contested: set[tuple[str, str]] = field(default_factory=set)
    # places every optimum gives (see _build): position, workshop, slot, rank
    settled: list[tuple[int, str, int, int]] = field(default_factory=list)
    n_people: int = 0
    total_units: int = 0
    source_to_first: int = -1
    places: int = 0
    cap: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    supply: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def node(self) -> int:
        """Add a node and return its index."""
        self.n_nodes += 1
        return self.n_nodes - 1

    def arc(self, tail: int, head: int, capacity: int) -> int:
        """Add an arc and return its index."""
        self.tail.append(tail)
        self.head.append(head)
        self.capacity.append(capacity)
        return len(self.tail) - 1


def _build(instance: Instance, seed: int) -> _Network:
    """Build the network, participants in lottery order, after two exact reductions.

    A workshop is free for value v when its eligible demand (all ranks) is at
    most its capacity and (with a mix rule) at most k of its rankers have value
    v: whoever of value v is missing from it can always be added (a seat is
    free, and fewer than k others of value v can be in any group).  So in every optimum a participant
    gets at least their first free choice: choices ranked below it are dropped,
    and if it is their first eligible choice, the place is settled outside the
    network.  Settled places never block anyone, for the same reason.
    """
    mixing = instance.mixing
    limit = mixing.max_per_group if mixing else 0
    by_id = instance.workshop_by_id
    restricted = {w.id: w.eligible for w in instance.workshops if w.eligible is not None}
    order = lottery_order(instance, seed)
    net = _Network(order)
    wants = []
    for i, person in enumerate(order):
        category = person.category
        slots = []
        for slot in instance.slots:
            ranked = person.prefs.get(slot)
            if ranked:
                choices = [
                    (rank, wid)
                    for rank, wid in enumerate(ranked, start=1)
                    if (allowed := restricted.get(wid)) is None or category in allowed
                ]
                if choices:
                    slots.append((slot, choices))
        if slots:
            wants.append((i, person.attribute(mixing.attribute) if mixing else None, slots))
    demand = Counter(wid for _, _, slots in wants for _, choices in slots for _, wid in choices)
    if mixing:
        demand_by_value = Counter(
            (wid, value) for _, value, slots in wants if value is not None for _, choices in slots for _, wid in choices
        )
        net.contested = {pair for pair, count in demand_by_value.items() if count > limit}
    contested = net.contested
    mixed_workshops = {wid for wid, _ in contested}
    roomy = {wid for wid, count in demand.items() if count <= by_id[wid].capacity}

    requests: Counter[int] = Counter()
    seats: Counter[int] = Counter()
    for w in instance.workshops:
        seats[w.slot] += w.capacity
    plain_node: dict[str, int] = {}
    free_node: dict[str, int] = {}
    value_node: dict[tuple[str, str], int] = {}
    group_nodes: dict[str, list[tuple[str | None, int, int]]] = {}

    def groups_of(wid: str) -> list[tuple[str | None, int, int]]:
        if wid not in group_nodes:
            group_nodes[wid] = []
            for gid, capacity in units(by_id[wid]):
                node = net.node()
                net.arc(node, SINK, capacity)
                group_nodes[wid].append((gid, node, capacity))
        return group_nodes[wid]

    def target(wid: str, value: str | None) -> int:
        if wid not in mixed_workshops:
            if wid not in plain_node:
                plain_node[wid] = net.node()
                net.arc(plain_node[wid], SINK, by_id[wid].capacity)
            return plain_node[wid]
        if value is None or (wid, value) not in contested:
            if wid not in free_node:
                node = free_node[wid] = net.node()
                for gid, group, capacity in groups_of(wid):
                    net.seat_arcs.append((net.arc(node, group, capacity), wid, gid, None))
            return free_node[wid]
        if (wid, value) not in value_node:
            node = value_node[(wid, value)] = net.node()
            for gid, group, capacity in groups_of(wid):
                net.seat_arcs.append((net.arc(node, group, min(capacity, limit)), wid, gid, value))
        return value_node[(wid, value)]

    tails, heads, capacities = net.tail, net.head, net.capacity
    for i, value, slots in wants:
        left = []
        for slot, choices in slots:
            requests[slot] += 1
            cut = len(choices) - 1
            for j, (_, wid) in enumerate(choices):
                if wid in roomy and (value is None or (wid, value) not in contested):
                    cut = j
                    break
            if cut == 0 and choices[0][1] in roomy and (value is None or (choices[0][1], value) not in contested):
                net.settled.append((i, choices[0][1], slot, choices[0][0]))
            else:
                left.append((slot, choices[: cut + 1]))
        if not left:
            continue
        me = net.node()
        if len(left) < len(slots):
            net.arc(SOURCE, me, len(left))
        else:
            net.n_people += 1
            net.first_arc.append(net.arc(FIRST, me, 1))
            net.first_pos.append(i)
            if len(left) > 1:
                net.arc(SOURCE, me, len(left) - 1)
        net.total_units += len(left)
        for slot, choices in left:
            per_slot = me
            if len(left) > 1:
                per_slot = net.node()
                net.arc(me, per_slot, 1)
            for rank, wid in choices:
                node = target(wid, value)
                net.choice_arc.append(len(tails))
                tails.append(per_slot)
                heads.append(node)
                capacities.append(1)
                net.choice_pos.append(i)
                net.choice_wid.append(wid)
                net.choice_slot.append(slot)
                net.choice_rank.append(rank)
    net.source_to_first = net.arc(SOURCE, FIRST, net.n_people)
    net.arc(SOURCE, SINK, net.total_units)
    net.cap = np.array(net.capacity, dtype=np.int64)
    net.supply = np.zeros(net.n_nodes, dtype=np.int64)
    net.supply[SINK] = -net.total_units
    net.places = sum(min(requests[s], seats[s]) for s in instance.slots)
    return net


def _max_cover(net: _Network) -> int:
    """Return the largest number of not yet served participants who can all get a place."""
    if net.n_people == 0:
        return 0
    solver = max_flow.SimpleMaxFlow()
    tail = np.array(net.tail, dtype=np.int64)
    keep = tail != SOURCE
    solver.add_arcs_with_capacity(tail[keep], np.array(net.head, dtype=np.int64)[keep], net.cap[keep])
    status = solver.solve(FIRST, SINK)
    if status != solver.OPTIMAL:
        raise AllocationError(f"max flow failed: {status}")
    return int(solver.optimal_flow())


@dataclass(frozen=True)
class _Level:
    """One objective level: arc costs to minimise and a bound on their spread."""

    cost: IntArray
    spread: int


def _levels(instance: Instance, net: _Network, objective: Objective) -> list[_Level]:
    """Return the cost levels of an objective, most important first, tie-break last."""
    k = instance.n_choices
    rank = np.zeros(len(net.tail), dtype=np.int64)
    rank[net.choice_arc] = net.choice_rank
    points = np.where(rank > 0, k - rank + 1, 0)
    places = max(net.places, 1)
    budget = COST_LIMIT // (net.n_nodes + 1)
    # The tie-break gives each place (lottery steps) x score, steps in
    # [0, steps - 1].  Packing puts it below one unit of every level above, so
    # it only chooses among their optima.  steps is cut so that the tie-break
    # packs with the last level: last level's max|cost| * (spread_t + 1) +
    # max|cost_t| <= budget, where spread_t = places * k * (steps - 1).
    if objective is Objective.RANK_MAXIMAL:
        levels = [_Level(-(rank == r).astype(np.int64), places) for r in range(1, k + 1)]
        steps = 1 + max(0, (budget - 1) // (k * (places + 1)))
    else:
        levels = [_Level(-points, places * k)]
        steps = 1 + max(0, (budget - k) // (k * (places * k + 1)))
    people = max(len(net.order), 1)
    steps = min(steps, people)
    priority = np.zeros(len(net.tail), dtype=np.int64)
    priority[net.choice_arc] = people - 1 - np.array(net.choice_pos, dtype=np.int64)
    priority = priority * steps // people
    levels.append(_Level(-priority * points, places * k * (steps - 1)))
    return levels


def _tiered_levels(instance: Instance, net: _Network, objective: Objective) -> list[_Level]:
    """Return the levels of an objective for each tier, highest tier first, then the tie-break.

    Each tier's levels are the objective's levels restricted to its
    participants' arcs (for `fair`, led by -1 per first place, i.e. people
    served); the lottery tie-break over everyone comes last, as without tiers.
    """
    k = instance.n_choices
    n_arcs = len(net.tail)
    tier_at = np.array([p.tier for p in net.order], dtype=np.int64)
    choice_arc = np.array(net.choice_arc, dtype=np.int64)
    choice_tier = tier_at[np.array(net.choice_pos, dtype=np.int64)] if net.choice_pos else np.zeros(0, dtype=np.int64)
    first_arc = np.array(net.first_arc, dtype=np.int64)
    first_tier = tier_at[np.array(net.first_pos, dtype=np.int64)] if net.first_pos else np.zeros(0, dtype=np.int64)
    rank = np.zeros(n_arcs, dtype=np.int64)
    rank[choice_arc] = net.choice_rank
    points = np.where(rank > 0, k - rank + 1, 0)
    places = max(net.places, 1)
    levels: list[_Level] = []
    for tier in sorted({p.tier for p in instance.participants}, reverse=True):
        mine = np.zeros(n_arcs, dtype=bool)
        mine[choice_arc[choice_tier == tier]] = True
        # At most one place per (participant, slot) of the tier still in the network.
        pairs = {
            (pos, slot) for pos, slot, t in zip(net.choice_pos, net.choice_slot, choice_tier.tolist()) if t == tier
        }
        bound = max(min(places, len(pairs)), 1)
        if objective is Objective.FAIR:
            served = np.zeros(n_arcs, dtype=np.int64)
            served[first_arc[first_tier == tier]] = -1
            levels.append(_Level(served, max(int((first_tier == tier).sum()), 1)))
        if objective is Objective.RANK_MAXIMAL:
            levels += [_Level(-((rank == r) & mine).astype(np.int64), bound) for r in range(1, k + 1)]
        else:
            levels.append(_Level(-np.where(mine, points, 0), bound * k))
    # The tie-break exactly as without tiers (its steps fit under the last level).
    levels.append(_levels(instance, net, objective)[-1])
    return levels


def _lexicographic_flow(net: _Network, levels: list[_Level]) -> IntArray:
    """Return a flow optimal for the levels in lexicographic order."""
    tail = np.array(net.tail, dtype=np.int64)
    head = np.array(net.head, dtype=np.int64)
    cap = net.cap.copy()
    supply = net.supply.copy()
    forced = np.zeros_like(cap)
    start = 0
    while True:
        end, cost = _pack(levels, start, net.n_nodes)
        flow = _solve(tail, head, cap, cost, supply)
        if end == len(levels):
            return flow + forced
        # Keep only the optimal face of the levels solved so far: arcs with a
        # positive reduced cost stay empty and arcs with a negative one stay
        # full in every optimal flow (complementary slackness).
        potential = _potentials(net.n_nodes, tail, head, cap, cost, flow)
        reduced = cost + potential[tail] - potential[head]
        full = reduced < 0
        np.add.at(supply, tail[full], -cap[full])
        np.add.at(supply, head[full], cap[full])
        forced[full] += cap[full]
        cap[full] = 0
        cap[reduced > 0] = 0
        start = end


def _pack(levels: list[_Level], start: int, n_nodes: int) -> tuple[int, IntArray]:
    """Combine as many levels from start as fit int64 into one cost; return (end, cost)."""
    end = start + 1
    while end < len(levels) and _max_cost(levels[start : end + 1]) * (n_nodes + 1) <= COST_LIMIT:
        end += 1
    if _max_cost(levels[start:end]) * (n_nodes + 1) > COST_LIMIT:
        raise AllocationError("the instance is too large for exact integer costs")
    cost = np.zeros_like(levels[start].cost)
    weight = 1
    for level in reversed(levels[start:end]):
        cost += level.cost * weight
        weight *= level.spread + 1
    return end, cost


def _max_cost(levels: list[_Level]) -> int:
    """Return the largest |packed cost| of an arc (exact, in Python integers)."""
    total, weight = 0, 1
    for level in reversed(levels):
        total += int(np.abs(level.cost).max(initial=0)) * weight
        weight *= level.spread + 1
    return total


def _solve(tail: IntArray, head: IntArray, cap: IntArray, cost: IntArray, supply: IntArray) -> IntArray:
    """Return a min-cost flow meeting the supplies."""
    solver = min_cost_flow.SimpleMinCostFlow()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(tail, head, cap, cost)
    solver.set_nodes_supplies(np.arange(len(supply), dtype=np.int64), supply)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise AllocationError(f"min-cost flow failed: {status}")
    return np.asarray(solver.flows(arcs), dtype=np.int64)


def _potentials(
    n_nodes: int, tail: IntArray, head: IntArray, cap: IntArray, cost: IntArray, flow: IntArray
) -> IntArray:
    """Return node potentials (shortest distances in the residual graph) proving the flow optimal."""
    up, down = flow < cap, flow > 0
    r_tail = np.concatenate([tail[up], head[down]])
    r_head = np.concatenate([head[up], tail[down]])
    r_cost = np.concatenate([cost[up], -cost[down]])
    order = np.argsort(r_head, kind="stable")
    r_tail, r_head, r_cost = r_tail[order], r_head[order], r_cost[order]
    dist = np.zeros(n_nodes, dtype=np.int64)
    if len(r_head):
        heads, starts = np.unique(r_head, return_index=True)
        for _ in range(n_nodes + 1):
            best = np.minimum.reduceat(dist[r_tail] + r_cost, starts)
            better = best < dist[heads]
            if not better.any():
                break
            dist[heads[better]] = best[better]
        else:
            raise AllocationError("residual graph has a negative cycle")
    return dist


def _assignments(instance: Instance, net: _Network, flow: IntArray) -> tuple[Assignment, ...]:
    """Read the places off the flow and seat each in a group, in lottery order.

    Groups are filled as registration fills them: each place goes to the group
    with the most free places, then the first in the workshop's order (the app
    lists groups by id), so that groups stay even instead of filling one by one.
    """
    by_id = instance.workshop_by_id
    mixing = instance.mixing
    given: dict[str, list[tuple[int, int, int, bool]]] = defaultdict(list)
    for j in np.flatnonzero(flow[np.array(net.choice_arc, dtype=np.int64)] > 0).tolist():
        given[net.choice_wid[j]].append((net.choice_pos[j], net.choice_slot[j], net.choice_rank[j], True))
    for i, wid, slot, rank in net.settled:
        given[wid].append((i, slot, rank, False))
    # Where the mix rule can bind, the flow says how many of each contested value
    # sit in each group; everyone else (no limit but the groups' capacities) is
    # seated afterwards in the emptiest group.
    seats: dict[tuple[str, str], list[str | None]] = defaultdict(list)
    for arc, wid, gid, key in reversed(net.seat_arcs):
        if key is not None:
            seats[(wid, key)].extend([gid] * int(flow[arc]))
    result = []
    for wid, people in given.items():
        people.sort()
        free = {gid: capacity for gid, capacity in units(by_id[wid])}
        rest = []
        for i, slot, rank, in_flow in people:
            value = net.order[i].attribute(mixing.attribute) if mixing else None
            if in_flow and value is not None and (wid, value) in net.contested:
                gid = seats[(wid, value)].pop()
                free[gid] -= 1
                result.append(Assignment(net.order[i].id, wid, gid, slot, rank))
            else:
                rest.append((i, slot, rank))
        for i, slot, rank in rest:
            gid = emptiest_group(free)
            free[gid] -= 1
            result.append(Assignment(net.order[i].id, wid, gid, slot, rank))
    result.sort(key=lambda a: (a.participant, a.slot))
    return tuple(result)


def emptiest_group(free: dict[str | None, int]) -> str | None:
    """Return the group with the most free places, the first in order on a tie (as registration does)."""
    return max(free, key=lambda gid: free[gid])
