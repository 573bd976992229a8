"""Sorting people's names in Polish alphabetical order (Ł after L, Ś after S) with ICU."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar

import icu

T = TypeVar("T")


@lru_cache(maxsize=4)
def collator(locale: str = "pl_PL") -> icu.Collator:
    """Return ICU's collator for ``locale``."""
    return icu.Collator.createInstance(icu.Locale(locale))


def sorted_by_name(items: Iterable[T], key: Callable[[T], tuple[str, ...]], locale: str = "pl_PL") -> list[T]:
    """Sort by (last name, first name, …) in the language's alphabetical order."""
    coll = collator(locale)
    return sorted(items, key=lambda item: tuple(coll.getSortKey(part or "") for part in key(item)))
