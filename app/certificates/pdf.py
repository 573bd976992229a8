"""Draw certificates of attendance as a PDF: texts in, bytes out (pure: no Flask, no database).

Every text arrives translated and formatted (``services`` does that in the
participant's language); this module only lays it out on A4 pages, one page
per certificate (more only when a very long list of sessions needs it). The
fonts are embedded (DejaVu Serif, bundled in ``fonts/`` with its licence), so
Polish letters print the same everywhere, without a system font.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVuSerif"
# Names and titles longer than this are cut: the form allows far less, and a page must stay a page.
MAX_TEXT = 600
SIGNATURE_BLOCK = 42  # mm kept free at the foot of the page for the place, the date and the signature


@dataclass(frozen=True)
class SessionLine:
    """One attended session: when, and its title."""

    when: str
    title: str


@dataclass(frozen=True)
class Certificate:
    """The texts of one certificate, in the participant's language."""

    heading: str  # "ZAŚWIADCZENIE O UDZIALE"
    intro: str  # "Zaświadcza się, że"
    participant: str  # the participant's full name
    affiliation: str  # position and organisation, may be empty
    took_part: str  # "uczestniczył(a) w wydarzeniu"
    event_title: str
    details: Sequence[tuple[str, str]]  # (label, value): date, place, organiser
    sessions_heading: str
    sessions: Sequence[SessionLine]
    sessions_note: str  # how the sessions were established
    issued: str  # "Sandomierz, 14 maja 2026"
    issued_label: str  # "place and date"
    signature_label: str  # "signature"
    signatory_name: str
    signatory_role: str
    organiser: str
    reference: str = ""  # a small number at the foot, to quote when asking the organiser


def clean(text: object, limit: int = MAX_TEXT) -> str:
    """Return ``text`` on one line: control and format characters dropped, runs of spaces made one."""
    value = str(text or "")
    value = "".join(" " if unicodedata.category(ch) in ("Zl", "Zp", "Cc") else ch for ch in value)
    value = "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return " ".join(value.split())[:limit]


def build_pdf(
    certificates: Sequence[Certificate], title: str = "", author: str = "", created_at: datetime | None = None
) -> bytes:
    """Return a PDF with one certificate per page (an empty list gives no PDF: ValueError).

    ``created_at`` is the file's creation date (fixed, the same certificate downloaded twice is the same file).
    """
    if not certificates:
        raise ValueError("no certificate to draw")
    from fpdf import FPDF  # lazy: 0.3 s to import, needed only when a certificate is drawn

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSerif.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSerif-Bold.ttf"))
    pdf.set_title(clean(title, 200))
    pdf.set_author(clean(author, 200))
    pdf.set_creator("Zapisy")
    if created_at is not None:
        pdf.set_creation_date(created_at)
    for certificate in certificates:
        _draw(pdf, certificate)
    return bytes(pdf.output())


def _text(pdf: Any, size: float, value: str, *, bold: bool = False, align: str = "C") -> None:
    """Write a paragraph across the page's width, wrapped at spaces (a word wider than the page is split)."""
    if not value:
        return
    pdf.set_font(FAMILY, "B" if bold else "", size)
    pdf.multi_cell(0, size * 0.5, value, align=align, new_x="LMARGIN", new_y="NEXT")


def _draw(pdf: Any, c: Certificate) -> None:
    """Lay one certificate out from the top of a new page."""
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    # A double frame, as printed certificates have.
    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.6)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_line_width(0.2)
    pdf.rect(12, 12, pdf.w - 24, pdf.h - 24)
    pdf.set_text_color(90, 90, 90)
    _text(pdf, 10, clean(c.organiser))
    pdf.set_text_color(0, 0, 0)
    pdf.ln(14)
    _text(pdf, 22, clean(c.heading), bold=True)
    pdf.ln(10)
    _text(pdf, 12, clean(c.intro))
    pdf.ln(4)
    _text(pdf, 20, clean(c.participant), bold=True)
    pdf.ln(2)
    _text(pdf, 11, clean(c.affiliation))
    pdf.ln(6)
    _text(pdf, 12, clean(c.took_part))
    pdf.ln(3)
    _text(pdf, 16, clean(c.event_title), bold=True)
    pdf.ln(5)
    for label, value in c.details:
        if clean(value):
            _text(pdf, 11, f"{clean(label, 80)}: {clean(value)}")
            pdf.ln(1)
    if c.sessions:
        pdf.ln(6)
        _text(pdf, 11, clean(c.sessions_heading), bold=True, align="L")
        pdf.ln(1)
        for line in c.sessions:
            pdf.set_font(FAMILY, "", 10)
            pdf.multi_cell(
                width,
                5,
                f"• {clean(line.when, 80)} — {clean(line.title)}",
                align="L",
                new_x="LMARGIN",
                new_y="NEXT",
            )
        pdf.ln(1)
        pdf.set_text_color(90, 90, 90)
        _text(pdf, 8, clean(c.sessions_note), align="L")
        pdf.set_text_color(0, 0, 0)
    _signature(pdf, c, width)


def _signature(pdf: Any, c: Certificate, width: float) -> None:
    """Place, date and the signature line at the foot of the page (on a new page when no room is left)."""
    bottom = pdf.h - pdf.b_margin
    if pdf.get_y() + 8 > bottom - SIGNATURE_BLOCK:
        pdf.add_page()
    top = max(pdf.get_y() + 8, bottom - SIGNATURE_BLOCK)
    column = width / 2 - 6
    left = pdf.l_margin
    right = pdf.l_margin + width / 2 + 6
    line_y = top + 16
    pdf.set_xy(left, line_y - 7)
    pdf.set_font(FAMILY, "", 11)
    pdf.cell(column, 5.5, clean(c.issued, 120), align="C")
    pdf.set_draw_color(0, 0, 0)
    pdf.set_dash_pattern(dash=0.6, gap=0.8)
    pdf.line(left, line_y, left + column, line_y)
    pdf.line(right, line_y, right + column, line_y)
    pdf.set_dash_pattern()
    pdf.set_text_color(90, 90, 90)
    pdf.set_font(FAMILY, "", 8)
    pdf.set_xy(left, line_y + 1)
    pdf.multi_cell(column, 4, clean(c.issued_label, 80), align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_xy(right, line_y + 1)
    pdf.multi_cell(column, 4, clean(c.signature_label, 80), align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FAMILY, "B", 10)
    pdf.set_x(right)
    for value, bold in ((c.signatory_name, True), (c.signatory_role, False), (c.organiser, False)):
        if clean(value):
            pdf.set_font(FAMILY, "B" if bold else "", 10)
            pdf.set_x(right)
            pdf.multi_cell(column, 4.5, clean(value, 200), align="C", new_x="LEFT", new_y="NEXT")
    if c.reference:
        pdf.set_auto_page_break(False)
        pdf.set_text_color(120, 120, 120)
        pdf.set_font(FAMILY, "", 7)
        pdf.set_xy(pdf.l_margin, pdf.h - 17)
        pdf.cell(width, 3, clean(c.reference, 120), align="R")
        pdf.set_text_color(0, 0, 0)
        pdf.set_auto_page_break(True, margin=20)
