"""How the development mail page shows a written email: clickable links, escaped text."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# An http(s) URL up to white space or a character that cannot end a link in running text.
URL = re.compile(r"https?://[^\s<>\"']+")
TRAILING = ".,;:!?)]}"
HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)
TOP_TARGET = '<base target="_top">'


def find_links(text: str) -> list[str]:
    """Return the http(s) URLs of a plain text, in order, each once, without trailing punctuation."""
    links: list[str] = []
    for match in URL.finditer(text):
        url = match.group(0).rstrip(TRAILING)
        if url not in links:
            links.append(url)
    return links


def linkify(text: str) -> Markup:
    """Return the text escaped, with every http(s) URL made a link (each piece escaped on its own)."""
    parts: list[str] = []
    position = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(TRAILING)
        end = match.start() + len(url)
        parts.append(escape(text[position : match.start()]))
        parts.append(Markup('<a href="{0}">{0}</a>').format(url))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def with_top_target(html: str) -> str:
    """Return the HTML with ``<base target="_top">``, so that its links open in the page, not in the frame."""
    match = HEAD.search(html)
    if match is None:
        return TOP_TARGET + html
    return html[: match.end()] + TOP_TARGET + html[match.end() :]
