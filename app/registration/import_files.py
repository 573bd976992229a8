"""Reading an organiser's list of invited participants from a CSV or XLSX file (no database).

A file gives a header row and data rows of text cells. Headers may be in Polish
or English (``HEADER_ALIASES``). CSV files are read as UTF-8 (with or without a
byte order mark), as UTF-16 when they start with its byte order mark (Excel's
"Unicode text"), otherwise as Windows-1250, the encoding Polish Excel gives a
"CSV (separated by semicolons)"; the delimiter is the one of ``;``, ``,`` and tab
the header row has most of. An XLSX workbook is read without formulas (the
values Excel saved), from its first sheet that has an email column. Every cell
is kept as text: "=cmd" stays the text "=cmd".
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import openpyxl
from flask_babel import lazy_gettext as _l

from .errors import RegistrationError

MAX_FILE_BYTES = 1_000_000  # the request limit (MAX_CONTENT_LENGTH) is 1 MiB
# One import is one transaction that holds the sessions it books until it commits (a few
# milliseconds a row): 500 rows keep participants booking the same sessions waiting seconds at most.
MAX_ROWS = 500
MAX_COLUMNS = 50
# Rows read in all, empty ones included: a workbook of a million empty rows is refused early.
MAX_LINES = MAX_ROWS * 5 + 100
MAX_CELL_CHARS = 1000
HEADER_SEARCH_ROWS = 10

# The columns of the import, each with the headers that name it (compared without case,
# diacritics, spaces, hyphens and underscores).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "firstname", "given name", "imię", "imie"),
    "last_name": ("last name", "lastname", "surname", "family name", "nazwisko"),
    "email": ("email", "e-mail", "email address", "e-mail address", "adres e-mail", "adres email", "mail"),
    "organisation": (
        "institution",
        "organisation",
        "organization",
        "office",
        "instytucja",
        "organizacja",
        "urząd",
        "jednostka",
    ),
    "position": ("position", "job title", "role", "stanowisko", "funkcja"),
    "city": ("city", "town", "municipality", "miasto", "miejscowość", "gmina"),
    "phone": ("phone", "telephone", "phone number", "telefon", "nr telefonu", "numer telefonu"),
    "category": ("category", "participant category", "kategoria", "kategoria uczestnika"),
    "language": ("language", "lang", "język", "jezyk"),
    "sessions": ("sessions", "session", "sesje", "sesja", "sessions (titles or numbers)", "sesje (tytuły lub numery)"),
}
COLUMNS = tuple(HEADER_ALIASES)


class ImportFileError(RegistrationError):
    """The file cannot be read as a list of participants."""

    message = _l("The file could not be read.")
    field = "file"


@dataclass
class RawRow:
    """One data row: its line in the spreadsheet (the header is line 1 when it is the first) and its cells."""

    line: int
    values: dict[str, str]


@dataclass
class ParsedFile:
    """What a file holds: its data rows, the columns found, and how it was read."""

    rows: list[RawRow]
    columns: list[str]
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""


def fold(text: str) -> str:
    """Return ``text`` lower-cased, without diacritics, spaces, hyphens or underscores (to compare names)."""
    text = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "".join(ch for ch in text.casefold() if ch.isalnum())


_HEADER_LOOKUP = {fold(alias): column for column, aliases in HEADER_ALIASES.items() for alias in aliases}
_HEADER_LOOKUP.update({fold(column): column for column in COLUMNS})


def clean_cell(value: Any) -> str:
    """Return a cell as one line of text: numbers without a needless ".0", line breaks as spaces, NFC."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = str(value)
    return " ".join(unicodedata.normalize("NFC", text).split())


def read_file(filename: str, data: bytes) -> ParsedFile:
    """Read a .csv or .xlsx file's participants.

    :raises ImportFileError: with a message the organiser can act on (too large, empty, not
        a CSV or XLSX file, unreadable characters, no email column, too many rows).
    """
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(_l("The file is larger than 1 MB. Split the list into smaller files."))
    if not data.strip():
        raise ImportFileError(_l("The file is empty."))
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension == "xlsx":
        return _read_xlsx(data)
    if extension in {"csv", "txt"}:
        return _read_csv(data)
    if extension == "xls":
        raise ImportFileError(_l("Old Excel files (.xls) cannot be read: save the list as .xlsx or CSV."))
    raise ImportFileError(_l("Choose a .csv or .xlsx file."))


def decode_text(data: bytes) -> tuple[str, str]:
    """Return the text of a CSV file and the name of its encoding.

    :raises ImportFileError: when it is none of UTF-8, UTF-16 (with its mark) and Windows-1250.
    """
    unreadable = ImportFileError(
        _l("The file's characters could not be read. Save it from Excel as “CSV UTF-8” and upload it again.")
    )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise unreadable from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8"
        except UnicodeDecodeError:
            raise unreadable from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1250"), "Windows-1250"
    except UnicodeDecodeError:
        raise unreadable from None


def _read_csv(data: bytes) -> ParsedFile:
    """Read a CSV file (see the module's docstring for encodings and delimiters)."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_l("This is a spreadsheet, not a CSV file: upload it with the .xlsx extension."))
    text, encoding = decode_text(data)
    if "\x00" in text:
        raise ImportFileError(_l("This does not look like a CSV file (it holds binary data)."))
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(";,\t", key=first_line.count) if any(d in first_line for d in ";,\t") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        parsed = _rows_of(reader)
    except csv.Error:
        raise ImportFileError(
            _l("The CSV file is malformed (check its quotes) or has a cell that is far too long.")
        ) from None
    parsed.encoding, parsed.delimiter = encoding, {"\t": "tab"}.get(delimiter, delimiter)
    return parsed


def _read_xlsx(data: bytes) -> ParsedFile:
    """Read the first sheet of a workbook that has an email column."""
    if not data.startswith(b"PK\x03\x04"):
        raise ImportFileError(_l("This is not an Excel .xlsx file. Save the list as .xlsx or CSV."))
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - a hostile file can make the XML reader raise anything
        raise ImportFileError(
            _l("This Excel file is damaged or not a workbook (%(reason)s).", reason=type(error).__name__)
        ) from None
    try:
        names = []
        for sheet in workbook.worksheets:
            names.append(sheet.title)
            try:
                parsed = _rows_of(sheet.iter_rows(values_only=True))
            except ImportFileError as error:
                if error.message is _NO_HEADER:
                    continue
                raise
            parsed.sheet = sheet.title
            return parsed
    except ImportFileError:
        raise
    except Exception as error:  # noqa: BLE001 - as above: damaged sheets raise from deep inside openpyxl
        raise ImportFileError(
            _l("This Excel file is damaged or not a workbook (%(reason)s).", reason=type(error).__name__)
        ) from None
    finally:
        workbook.close()
    raise ImportFileError(
        _l(
            "No sheet of this workbook has a header row with an email column (sheets: %(sheets)s). "
            "Put the list on the first sheet, with the template's headers.",
            sheets=", ".join(names) or "—",
        )
    )


_NO_HEADER = _l("The file has no header row with an email column. Use the headers of the template.")


def _rows_of(lines: Iterable[Iterable[Any]]) -> ParsedFile:
    """Find the header row among the first non-empty rows, then read the data rows under it.

    :raises ImportFileError: without a header row, with too many rows, or none.
    """
    header: dict[int, str] | None = None
    ignored: list[str] = []
    rows: list[RawRow] = []
    seen_non_empty = 0
    for number, line in enumerate(_limited(lines), start=1):
        cells = [clean_cell(value) for value in list(line)[: MAX_COLUMNS + 1]]
        if not any(cells):
            continue
        if header is None:
            seen_non_empty += 1
            header, ignored = _header(cells)
            if header is None:
                if seen_non_empty >= HEADER_SEARCH_ROWS:
                    break
                continue
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(
                _l("The file has more than %(max)s participants. Split it into smaller files.", max=MAX_ROWS)
            )
        values = {
            column: (cells[index] if index < len(cells) else "")[: MAX_CELL_CHARS + 1]
            for index, column in header.items()
        }
        if not any(values.values()):
            continue
        rows.append(RawRow(line=number, values=values))
    if header is None:
        raise ImportFileError(_NO_HEADER)
    if not rows:
        raise ImportFileError(_l("The file has a header row but no participants under it."))
    return ParsedFile(rows=rows, columns=sorted(set(header.values()), key=COLUMNS.index), ignored_columns=ignored)


def _header(cells: list[str]) -> tuple[dict[int, str] | None, list[str]]:
    """Map column positions to import columns if ``cells`` is a header row with an email column."""
    found: dict[int, str] = {}
    ignored = []
    for index, text in enumerate(cells[:MAX_COLUMNS]):
        column = _HEADER_LOOKUP.get(fold(text))
        if column is None or column in found.values():
            if text:
                ignored.append(text)
            continue
        found[index] = column
    if "email" not in found.values():
        return None, []
    return found, ignored


def _limited(lines: Iterable[Iterable[Any]]) -> Iterator[Iterable[Any]]:
    """Yield at most ``MAX_LINES`` rows.

    :raises ImportFileError: when there are more.
    """
    for count, line in enumerate(lines, start=1):
        if count > MAX_LINES:
            raise ImportFileError(
                _l("The file has more than %(max)s participants. Split it into smaller files.", max=MAX_ROWS)
            )
        yield line
