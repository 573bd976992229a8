"""Pure cell cleaning for spreadsheets: no formulas from user data, no control characters."""

from __future__ import annotations

import re
from datetime import datetime

# OWASP CSV injection: a cell starting with one of these may be run as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Control characters (but tab, CR and LF, which are legal in quoted cells) and
# the characters XML 1.0 cannot carry at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")

Cell = str | int | float | datetime | None


def strip_control(value: str) -> str:
    """Remove control characters that break spreadsheets and XML."""
    return _CONTROL.sub("", value)


def neutralise_for_csv(value: Cell) -> Cell:
    """Return a CSV-safe cell: text that could start a formula is prefixed with a quote."""
    if not isinstance(value, str):
        return value
    value = strip_control(value)
    if value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
