"""Sorting people's names in Polish alphabetical order (Ł after L, Ś after S) with ICU."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from ..db import collator

T = TypeVar("T")


def sorted_by_name(items: Iterable[T], key: Callable[[T], tuple[str, ...]], locale: str = "pl_PL") -> list[T]:
    """Sort by (last name, first name, …) in the language's alphabetical order."""
    coll = collator(locale)
    return sorted(items, key=lambda item: tuple(coll.getSortKey(part or "") for part in key(item)))
