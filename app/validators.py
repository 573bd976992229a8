"""Field filters and validators shared by forms."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

# Bidirectional embedding, override and isolate controls can disguise text
# (e.g. make a name read backwards in lists and exports).
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def normalize_text(value: object) -> object:
    """Strip surrounding whitespace and normalise Unicode to NFC (a form filter)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value.strip())
    return value


def has_forbidden_characters(value: str, allow_newlines: bool = False) -> bool:
    """Tell whether the text holds control or bidirectional-override characters."""
    for char in value:
        if allow_newlines and char in "\r\n\t":
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) in {"Cc", "Cs", "Co", "Cn"}:
            return True
    return False


class PlainText:
    """Refuse control characters and bidi overrides; Polish diacritics are welcome."""

    def __init__(self, allow_newlines: bool = False) -> None:
        self.allow_newlines = allow_newlines

    def __call__(self, form, field) -> None:  # type: ignore[no-untyped-def]
        if isinstance(field.data, str) and has_forbidden_characters(field.data, self.allow_newlines):
            raise ValidationError(_l("This field contains characters that are not allowed."))
