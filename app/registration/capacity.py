"""Atomic taking and releasing of places; the only code that changes ``taken``.

Every change is a conditional UPDATE checked by its row count, so two
transactions can never both take the last place, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select, update

from ..events.models import Group, Session
from ..extensions import db

session_table = Session.__table__
group_table = Group.__table__

# The statements of a registration's hot path, built once (building them cost more than running them).
_TAKE_SESSION_PLACE = (
    update(session_table)
    .where(
        session_table.c.id == bindparam("session_id"),
        or_(session_table.c.capacity.is_(None), session_table.c.taken < session_table.c.capacity),
    )
    .values(taken=session_table.c.taken + 1)
)
_GROUPS_EMPTIEST_FIRST = (
    select(group_table.c.id, (group_table.c.taken < group_table.c.capacity).label("has_room"))
    .where(group_table.c.session_id == bindparam("session_id"))
    .order_by((group_table.c.capacity - group_table.c.taken).desc(), group_table.c.id)
)
# The emptiest group with room, taken in one statement; the outer WHERE re-checks the room
# on the row as it is when locked (PostgreSQL re-reads a row another transaction changed).
_emptiest_with_room = (
    select(group_table.c.id)
    .where(group_table.c.session_id == bindparam("of_session"), group_table.c.taken < group_table.c.capacity)
    .order_by((group_table.c.capacity - group_table.c.taken).desc(), group_table.c.id)
    .limit(1)
    .scalar_subquery()
)
_TAKE_EMPTIEST_GROUP_PLACE = (
    update(group_table)
    .where(group_table.c.id == _emptiest_with_room, group_table.c.taken < group_table.c.capacity)
    .values(taken=group_table.c.taken + 1)
    .returning(group_table.c.id)
)
_TAKE_GROUP_PLACE = (
    update(group_table)
    .where(group_table.c.id == bindparam("group_id"), group_table.c.taken < group_table.c.capacity)
    .values(taken=group_table.c.taken + 1)
)


class Full(Exception):
    """No free place is left in the session."""


class CapacityInconsistent(RuntimeError):
    """The session counter has room but no group has: the data needs an organiser's look."""


def take_place(session_id: int) -> int | None:
    """Take one place in the session and, if it has groups, in its emptiest group.

    Returns the group's id (None for a session without groups).

    :raises Full: when the session has no free place.
    """
    result = db.session.execute(_TAKE_SESSION_PLACE, {"session_id": session_id})
    if result.rowcount != 1:
        raise Full(session_id)
    taken = db.session.execute(_TAKE_EMPTIEST_GROUP_PLACE, {"of_session": session_id}).scalar_one_or_none()
    if taken is not None:
        return taken
    # No group had room, or there are no groups, or another writer took that group's last place.
    groups = _groups_emptiest_first(session_id)
    if not groups:
        return None
    return _take_first_group(session_id, [group_id for group_id, has_room in groups if has_room])


def take_place_in(session_id: int, group_id: int | None) -> None:
    """Take one place in the session and in the given group (if any), refusing to exceed either capacity.

    :raises Full:
    """
    taken = db.session.execute(_TAKE_SESSION_PLACE, {"session_id": session_id})
    if taken.rowcount != 1 or (group_id is not None and not take_specific_group_place(group_id)):
        raise Full(session_id)


def _groups_emptiest_first(session_id: int) -> list[tuple[int, bool]]:
    """Return the session's groups, most free places first, each with whether it has room (one query)."""
    rows = db.session.execute(_GROUPS_EMPTIEST_FIRST, {"session_id": session_id})
    return [(row.id, bool(row.has_room)) for row in rows]


def _take_first_group(session_id: int, group_ids: list[int]) -> int:
    """Take a place in the first of ``group_ids`` that still has room when asked (atomically).

    :raises CapacityInconsistent: when none has.
    """
    for group_id in group_ids:
        if take_specific_group_place(group_id):
            return group_id
    raise CapacityInconsistent(session_id)


def take_specific_group_place(group_id: int) -> bool:
    """Take a place in one given group if it has room; tell whether it did."""
    return db.session.execute(_TAKE_GROUP_PLACE, {"group_id": group_id}).rowcount == 1


def release_place(session_id: int, group_id: int | None) -> None:
    """Give back one confirmed place of the session (and its group)."""
    db.session.execute(
        update(session_table)
        .where(session_table.c.id == session_id, session_table.c.taken > 0)
        .values(taken=session_table.c.taken - 1)
    )
    if group_id is not None:
        release_group_place(group_id)


def release_group_place(group_id: int) -> None:
    """Give back one place of a group."""
    db.session.execute(
        update(group_table)
        .where(group_table.c.id == group_id, group_table.c.taken > 0)
        .values(taken=group_table.c.taken - 1)
    )


def lock_session(session_id: int) -> None:
    """Lock the session row until commit, so its waiting list grows in a strict order.

    PostgreSQL takes a row lock; SQLite ignores FOR UPDATE, but there the write
    transaction already holds the database's single write lock.
    """
    db.session.execute(select(session_table.c.id).where(session_table.c.id == session_id).with_for_update())
