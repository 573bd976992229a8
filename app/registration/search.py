"""Folding text for search: lower case, no diacritics, the same on every database."""

from __future__ import annotations

import unicodedata
from typing import Protocol

# Letters with a stroke or ligatures do not decompose under NFKD, so they are
# mapped by hand ("Łódź" must be found by "lodz").
_NOT_DECOMPOSING = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"})
SEARCH_TEXT_LENGTH = 800


class Searchable(Protocol):
    """Anything with a participant's searchable fields (a registration or its form data)."""

    first_name: str
    last_name: str
    email: str
    organisation: str
    city: str


def fold(text: str) -> str:
    """Return ``text`` lower-cased, without diacritics and with single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_NOT_DECOMPOSING))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.translate(_NOT_DECOMPOSING).split())


def search_text(person: Searchable) -> str:
    """Return the folded name, email, organisation and city stored for searching."""
    parts = (person.first_name, person.last_name, person.email, person.organisation, person.city)
    return fold(" ".join(part or "" for part in parts))[:SEARCH_TEXT_LENGTH]


def search_terms(query: str) -> list[str]:
    """Split a search query into folded words; every word must match."""
    return fold(query).split()[:8]
