"""Rendered public pages kept per process for a few seconds (the event page, the registration form), and public answers' validators.

Under a registration rush the same two pages are asked for hundreds of times a
second, and rendering 200 sessions costs far more than the rest of the request.
A page is kept only when it carries nothing of the visitor: no flashed message,
and no query string but a language switch (so made-up queries cannot fill the
memory). A form's CSRF token is the one per-visitor part: the kept copy has a
placeholder where the token was, and every visitor gets their own token put
back in. Places left may therefore lag by the time-to-live; places are never
decided from a page (bookings re-check capacity atomically).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime

from flask import Response, current_app, g, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .i18n import current_language

# Stands for the CSRF token in a kept page: random each time the app is loaded, so no content can forge it.
_TOKEN_PLACEHOLDER = f"csrf-placeholder-{secrets.token_hex(16)}"


def _is_cacheable(ttl: float) -> bool:
    """Tell whether this request's page may be kept or served from the cache."""
    if ttl <= 0 or session.get("_flashes"):
        return False
    query = request.query_string.decode("latin-1")
    return not query or query in {f"lang={code}" for code in current_app.config["LANGUAGES"]}


def cached_page(name: str, key: str, ttl: float, render: Callable[[], str], with_csrf: bool = False) -> str:
    """Return the page ``name``/``key`` in the current language, rendered at most once per ``ttl`` seconds.

    ``render`` makes the page (and may abort, e.g. with a 404, which is not kept).
    With ``with_csrf``, the page's CSRF token is swapped for this visitor's own.
    """
    if not _is_cacheable(ttl):
        return render()
    pages: dict[tuple[str, str, str, str], tuple[float, str]] = current_app.extensions.setdefault(
        "zapisy_page_cache", {}
    )
    cache_key = (name, key, current_language(), request.query_string.decode("latin-1"))
    kept = pages.get(cache_key)
    if kept is None or kept[0] <= time.monotonic():
        html = render()
        template = html
        if with_csrf:
            token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
            if not token or token not in html:
                return html  # no token to swap: serve it, keep nothing
            template = html.replace(token, _TOKEN_PLACEHOLDER)
        pages[cache_key] = (time.monotonic() + ttl, template)
        return html
    template = kept[1]
    html = template.replace(_TOKEN_PLACEHOLDER, generate_csrf()) if with_csrf else template
    # A render reads current_user (the navigation does), and Flask-Login then marks the
    # session as not fresh; a kept page must leave the same session behind, or the next
    # rendered answer would change the cookie again (between a double click's answers, say).
    _ = current_user.is_authenticated
    return html


def conditional(response: Response, last_modified: datetime) -> Response:
    """Give a public answer its validators and answer 304 when the client's copy is current.

    The ``ETag`` is a digest of the body, so it changes with every change of what is
    said (places left included); ``Last-Modified`` is ``last_modified``. ``no-cache``
    lets browsers and proxies keep the answer but makes them ask again each time:
    availability changes by the second, and a 304 costs little.
    """
    response.add_etag()
    response.last_modified = last_modified
    response.cache_control.public = True
    response.cache_control.no_cache = True
    return response.make_conditional(request)
