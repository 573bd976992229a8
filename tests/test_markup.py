"""Markdown descriptions: what they may hold on the pages, and their plain text for emails and calendars."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from app.markup import markdown_to_text, render_markdown


def test_links_lists_and_emphasis_render():
    html = render_markdown(
        "Tematy:\n\n- **film** w promocji\n- *media* społecznościowe\n\n1. jeden\n2. dwa\n\n"
        "Więcej: [Pracownia miast](https://example.org/pracownia) i <mailto:biuro@example.org>"
    )
    assert isinstance(html, Markup)
    assert "<ul>\n<li><strong>film</strong> w promocji</li>" in html
    assert "<li><em>media</em> społecznościowe</li>" in html
    assert "<ol>\n<li>jeden</li>" in html
    assert '<a href="https://example.org/pracownia" rel="noopener noreferrer nofollow">Pracownia miast</a>' in html
    assert '<a href="mailto:biuro@example.org" rel="noopener noreferrer nofollow">mailto:biuro@example.org</a>' in html


def test_plain_text_descriptions_keep_their_lines_and_paragraphs():
    text = "Pierwsza linia\ndruga linia\n\nNowy akapit — 26–27.04.2017 r."
    assert render_markdown(text) == Markup(
        "<p>Pierwsza linia<br>\ndruga linia</p>\n<p>Nowy akapit — 26–27.04.2017 r.</p>"
    )
    assert markdown_to_text(text) == text


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="https://example.org" onclick="alert(1)">x</a>',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](jav&#x09;ascript:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click](vbscript:msgbox(1))",
        '[x](https://example.org "a\\" onmouseover=\\"alert(1)")',
        "<iframe src=https://evil.example></iframe>",
        "<style>body{display:none}</style>",
        "<div style='position:fixed'>x</div>",
        "<!-- comment --><svg onload=alert(1)>",
    ],
)
def test_hostile_input_becomes_harmless_text(hostile):
    html = str(render_markdown(hostile))
    tags = _tags(html)
    assert {tag for tag, _attrs in tags} <= {"p", "a", "br", "strong", "em"}, html
    for _tag, attrs in tags:
        assert set(attrs) <= {"href", "rel", "title"}, html  # no event handler, no style
        if "href" in attrs:
            assert attrs["href"].startswith(("https://", "http://", "mailto:")), html
            assert attrs["rel"] == "noopener noreferrer nofollow"


def _tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """Return the tags of ``html`` as a browser's parser reads them, with their attributes."""
    found: list[tuple[str, dict[str, str]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
            found.append((tag, {name: value or "" for name, value in attrs}))

    Collector().feed(html)
    return found


def test_images_are_not_shown_and_relative_links_lose_their_address():
    html = str(render_markdown("![logo](https://tracker.example/pixel.png) [tu](/admin/)"))
    assert "img" not in {tag for tag, _attrs in _tags(html)}
    assert 'href="/admin/"' not in html and "tu" in html


def test_headings_stay_text_so_a_line_of_dashes_is_harmless():
    html = str(render_markdown("# Program\n\nTekst\n---"))
    assert "<h1" not in html and "<h2" not in html
    assert "# Program" in html


def test_plain_text_for_emails_and_calendars():
    text = markdown_to_text(
        "Zapraszamy **włodarzy**:\n\n- [Pracownia miast](https://example.org/p)\n- <https://example.org/q>\n\n"
        "1. pierwszy\n2. drugi\n\n[zła](javascript:alert(1)) <b>nie</b>"
    )
    assert text == (
        "Zapraszamy włodarzy:\n\n"
        "- Pracownia miast (https://example.org/p)\n- https://example.org/q\n\n"
        "1. pierwszy\n2. drugi\n\n"
        "[zła](javascript:alert(1)) <b>nie</b>"
    )
    assert markdown_to_text("") == "" and render_markdown("") == Markup("")
    assert markdown_to_text(None) == "" and render_markdown(None) == Markup("")
