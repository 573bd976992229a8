"""Descriptions written in Markdown: safe HTML for the pages, plain text for emails and calendars.

Organisers write the descriptions of events, sessions and speakers with links,
lists and emphasis. Markdown is parsed with raw HTML switched off, and the
HTML it gives is sanitised again with an allow-list (nh3): only text-level
tags and lists, links only to http, https and mailto addresses, each link with
``rel="noopener noreferrer nofollow"``. Images are not allowed: an image
from another server would tell it who reads the page (and the pages' Content
Security Policy blocks them anyway); ``![…](…)`` stays visible as text.
Headings are off too, so that a line of dashes under a line of text (a plain
text habit) never turns into a heading that breaks the page's outline.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

# Single line breaks stay line breaks ("breaks"), as plain-text descriptions were shown before.
_PARSER = MarkdownIt("commonmark", {"html": False, "breaks": True, "typographer": False}).disable(
    ["image", "heading", "lheading", "html_block", "html_inline"]
)

ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre", "hr"})
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


def _is_allowed_address(url: str) -> bool:
    """Tell whether a link's address is absolute and http, https or mailto."""
    return urlsplit(url.strip()).scheme.lower() in ALLOWED_SCHEMES


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Keep a link's address only when it is absolute and http, https or mailto; ``ol``'s start only as a number."""
    if tag == "a" and attribute == "href":
        return value if _is_allowed_address(value) else None
    if tag == "ol" and attribute == "start":
        return value if value.isdigit() and len(value) <= 6 else None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    attributes={"a": {"href"}, "ol": {"start"}},
    url_schemes=set(ALLOWED_SCHEMES),
    link_rel=LINK_REL,
    attribute_filter=_keep_attribute,
    strip_comments=True,
)


@lru_cache(maxsize=2048)
def render_markdown(text: str | None) -> Markup:
    """Return ``text`` (Markdown) as sanitised HTML, safe to put in a page as it is."""
    if not text or not text.strip():
        return Markup("")
    html = _PARSER.render(text)
    return Markup(_CLEANER.clean(html).strip())


@lru_cache(maxsize=2048)
@lru_cache(maxsize=2048)
def markdown_to_text(text: str | None) -> str:
    """Return ``text`` (Markdown) as plain text: paragraphs, "- " list items, links as "label (address)"."""
    if not text or not text.strip():
        return ""
    lines: list[str] = []
    lists: list[list[int | None]] = []  # per open list: [next number] (None: bullets)
    current: list[str] = []
    prefix = ""
    for token in _PARSER.parse(text):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = str(token.attrGet("start") or "1")
            lists.append([int(start) if kind == "ordered_list_open" and start.isdigit() else None])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists:
                lines.append("")
        elif kind == "list_item_open":
            number = lists[-1][0] if lists else None
            marker = "-" if number is None else f"{number}."
            if number is not None:
                lists[-1][0] = number + 1
            prefix = "  " * (len(lists) - 1) + marker + " "
        elif kind == "inline":
            current.append(_inline_text(token.children or []))
        elif kind in ("paragraph_close", "code_block", "fence"):
            if kind != "paragraph_close":
                current.append(token.content.rstrip("\n"))
            body = "".join(current).strip("\n")
            indent = " " * len(prefix) if prefix else ("  " * len(lists) if lists else "")
            for number, line in enumerate(body.split("\n")):
                lines.append((prefix if number == 0 and prefix else indent if number else "") + line)
            prefix = ""
            current = []
            if not lists:
                lines.append("")
        elif kind == "hr":
            lines += ["----", ""]
    return "\n".join(lines).strip()


def _inline_text(children: list[Token]) -> str:
    """Return an inline run as text; a link whose label is not its address gets the address in brackets."""
    parts: list[str] = []
    href: str | None = None
    label_start = 0
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "link_open":
            href = str(child.attrGet("href") or "")
            label_start = len(parts)
        elif child.type == "link_close" and href is not None:
            label = "".join(parts[label_start:])
            address = href.removeprefix("mailto:") if _is_allowed_address(href) else ""
            if address and address != label:
                parts.append(f" ({address})")
            href = None
    return "".join(parts)
