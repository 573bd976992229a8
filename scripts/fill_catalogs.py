"""Fill the catalogs: Polish from scripts/translations_pl.py, English as the msgids themselves.

Run after `make extract-messages`; prints the msgids still missing a Polish translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

sys.path.insert(0, str(Path(__file__).parent))
from translations_pl import PL  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent / "app" / "translations"


def fill(language: str) -> list[str]:
    """Fill one catalog; return the msgids left untranslated."""
    path = ROOT / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    missing = []
    for message in catalog:
        if not message.id:
            continue
        message.flags.discard("fuzzy")
        if language == "en":
            message.string = message.id if isinstance(message.id, str) else tuple(message.id)
            continue
        translated = PL.get(message.id if isinstance(message.id, str) else tuple(message.id))
        if translated is None:
            missing.append(str(message.id))
        else:
            message.string = translated
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False)
    return missing


if __name__ == "__main__":
    fill("en")
    left = fill("pl")
    for msgid in left:
        print("missing:", msgid)
    sys.exit(1 if left else 0)
