"""A participant's published result per ranked time slot, with its reason in words.

Texts are composed when a template reads them, so that an email is worded in
its recipient's language (``queue_message`` renders under ``force_locale``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..events.models import Group, Session
from ..i18n import format_day, localized
from .history import MISSED_OUT, NO_SHOW

PRIORITY_CODES = (MISSED_OUT, NO_SHOW)

ORDINALS = {1: _l("1st"), 2: _l("2nd"), 3: _l("3rd")}
ATTRIBUTE_LABELS = {"city": _l("city"), "category": _l("participant category"), "sector": _l("sector")}


def ordinal(rank: int) -> str:
    """Return "1st", "2nd", … in the current language."""
    return str(ORDINALS.get(rank, _l("%(number)sth", number=rank)))


def choice_label(rank: int) -> str:
    """Return "your 1st choice" in the current language."""
    return _("your %(ordinal)s choice", ordinal=ordinal(rank))


def _choices_phrase(ranks: list[int]) -> str:
    """Return "your 1st and 2nd choices" for a list of ranks."""
    words = [ordinal(r) for r in ranks]
    joined = words[0] if len(words) == 1 else _("%(first)s and %(last)s", first=", ".join(words[:-1]), last=words[-1])
    return ngettext("your %(ranks)s choice", "your %(ranks)s choices", len(ranks), ranks=joined)


def describe_reasons(reasons: list[Mapping[str, Any]]) -> str:
    """Return one line explaining why better-ranked workshops were not given (current language)."""
    by_code: dict[str, list[Mapping[str, Any]]] = {}
    for reason in reasons:
        if reason["code"] in PRIORITY_CODES:
            continue
        by_code.setdefault(reason["code"], []).append(reason)
    sentences = []
    for code, items in by_code.items():
        ranks = [int(r["rank"]) for r in items if r.get("rank")]
        n = len(ranks)
        what = _choices_phrase(ranks) if ranks else ""
        what = what[:1].upper() + what[1:]
        if code == "not_ranked":
            sentences.append(_("You did not rank any workshop at this time."))
        elif code == "full":
            sentences.append(
                ngettext(
                    "%(what)s was full with participants who ranked it at least as high as you.",
                    "%(what)s were full with participants who ranked them at least as high as you.",
                    n,
                    what=what,
                )
            )
        elif code == "full_mixed":
            sentences.append(
                ngettext(
                    "%(what)s was full: giving a place to as many participants as possible needed its places.",
                    "%(what)s were full: giving a place to as many participants as possible needed their places.",
                    n,
                    what=what,
                )
            )
        elif code == "mix_rule":
            params = items[0].get("params") or {}
            attribute = str(ATTRIBUTE_LABELS.get(params.get("attribute", ""), params.get("attribute", "")))
            sentences.append(
                ngettext(
                    "%(what)s had room only in groups that already had the most participants allowed with your %(attribute)s.",
                    "%(what)s had room only in groups that already had the most participants allowed with your %(attribute)s.",
                    n,
                    what=what,
                    attribute=attribute,
                )
            )
        elif code == "ineligible":
            sentences.append(
                ngettext(
                    "%(what)s is not open to your participant category.",
                    "%(what)s are not open to your participant category.",
                    n,
                    what=what,
                )
            )
        else:  # had_room: never true of an optimal allocation, said plainly if it ever is
            sentences.append(ngettext("%(what)s still had room.", "%(what)s still had room.", n, what=what))
    return " ".join(sentences)


def describe_priority(reasons: list[Mapping[str, Any]]) -> str:
    """Return one line saying why the series priority raised or lowered someone (current language), or ""."""
    for reason in reasons:
        params = reason.get("params") or {}
        title = localized(
            SimpleNamespace(title_pl=params.get("title_pl", ""), title_en=params.get("title_en", "")), "title"
        )
        starts_at = params.get("starts_at")
        when = format_day(datetime.fromisoformat(starts_at), "long") if starts_at else ""
        meeting = _("%(title)s (%(city)s, %(date)s)", title=title, city=params.get("city", ""), date=when)
        if reason["code"] == MISSED_OUT:
            return _("You had priority because you missed out on a workshop place at %(meeting)s.", meeting=meeting)
        if reason["code"] == NO_SHOW:
            return _("You had lower priority because you did not attend %(meeting)s.", meeting=meeting)
    return ""


@dataclass
class SlotOutcome:
    """What a participant got in one ranked time slot (for pages and emails)."""

    starts_at: Any
    ends_at: Any
    session: Session | None
    group: Group | None
    rank: int | None
    reasons: list[Mapping[str, Any]] = field(default_factory=list)
    waitlist: list[Session] = field(default_factory=list)

    @property
    def rank_label(self) -> str:
        """Return "your 2nd choice" (empty when nothing was given)."""
        return choice_label(self.rank) if self.rank else ""

    @property
    def reason(self) -> str:
        """Return the one-line reason, empty for a 1st choice."""
        if self.rank == 1 or not any(r["code"] not in PRIORITY_CODES for r in self.reasons):
            return ""
        return describe_reasons(self.reasons)

    @property
    def priority(self) -> str:
        """Return the one-line series priority note (the same for each slot of a person), or ""."""
        return describe_priority(self.reasons)
