"""The refusals of every use case, and the error pages in the page's language."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .db import is_unavailable
from .extensions import db


class DomainError(Exception):
    """Base of every refusal a use case gives: a translatable message, and the form field it concerns.

    Each domain subclasses it once (``RegistrationError``, ``ManagementError`` …);
    routes show ``message`` next to ``field`` (``app.forms.attach_error``) or in a flash.
    """

    message: object = _l("The request could not be completed.")
    field: str | None = None
    # Further refusals of the same request (each with its own field), shown with this one.
    also: tuple[DomainError, ...] = ()

    def __init__(
        self, message: object | None = None, field: str | None = None, also: tuple[DomainError, ...] = ()
    ) -> None:
        if message is not None:
            self.message = message
        if field is not None:
            self.field = field
        self.also = tuple(also)
        super().__init__(str(self.message))


MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("Forbidden"), _l("You do not have access to this page.")),
    404: (_l("Page not found"), _l("The page you are looking for does not exist or the link is no longer valid.")),
    405: (_l("Method not allowed"), _l("This page cannot be used this way.")),
    413: (_l("Request too large"), _l("What you sent is too large.")),
    429: (_l("Too many requests"), _l("Please wait a moment and try again.")),
    500: (_l("Something went wrong"), _l("An unexpected error occurred. Please try again later.")),
    503: (
        _l("Busy right now"),
        _l("The system is busy right now and nothing was saved. Please try again in a moment."),
    ),
}
# Said above a form whose submission met a busy or unavailable database: nothing was saved.
BUSY_FORM_MESSAGE = _l(
    "The system is busy right now, so nothing was saved. Your answers are kept below: please send the form again in a moment."
)
RETRY_AFTER_SECONDS = 5


def busy_page(page: str) -> tuple[str, int, dict[str, str]]:
    """Answer ``page`` as "busy, try again": 503 with Retry-After."""
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def init_errors(app: Flask) -> None:
    """Register handlers for HTTP errors and CSRF failures."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        if _framed_without_cookie():
            return _render(400, FRAMED_WITHOUT_COOKIE_MESSAGE, new_window_url=request.full_path.rstrip("?"))
        return _render(
            400, _l("The form has expired or was not sent from this site. Go back, reload the page and try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        body, code = _render(error.code or 500)
        # A 405 says which methods would do (werkzeug's own page does).
        allowed = getattr(error, "valid_methods", None)
        return body, code, {"Allow": ", ".join(sorted(allowed))} if allowed else {}

    @app.errorhandler(500)
    def server_error(error):  # type: ignore[no-untyped-def]
        return _render(500)

    @app.errorhandler(SQLAlchemyError)
    def database_error(error: SQLAlchemyError):  # type: ignore[no-untyped-def]
        # Busy, read-only, full or gone: nothing half-written (every service rolls back), so
        # the person is told to try again; anything else is a bug and a 500.
        try:
            db.session.rollback()
        except SQLAlchemyError:
            db.session.remove()
        if is_unavailable(error):
            current_app.logger.warning("Database unavailable: %s", error.__class__.__name__)
            page, code = _render(503)
            return busy_page(page)
        current_app.logger.error("Unexpected database error", exc_info=error)
        return _render(500)


def _render(code: int, detail: object | None = None, new_window_url: str | None = None):  # type: ignore[no-untyped-def]
    """Render the error page for ``code`` (a JSON problem under ``/api/``); ``new_window_url``: offer it in a new window."""
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    if is_api_request():
        return problem(code, title, detail or message)
    page = render_template(
        "errors/error.html", code=code, title=title, message=detail or message, new_window_url=new_window_url
    )
    return page, code


# Said in another site's frame when the browser kept no session cookie there (third-party cookies blocked).
FRAMED_WITHOUT_COOKIE_MESSAGE = _l(
    "Your browser does not let this form keep its session inside another site's page, so it cannot be sent "
    "from here. Open the form in a new window and send it there (your answers are not carried over)."
)


def _framed_without_cookie() -> bool:
    """Tell whether the request came from a frame without the session cookie (the browser blocks it there)."""
    return (
        request.headers.get("Sec-Fetch-Dest") == "iframe"
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
    )


API_PREFIX = "/api"
# Stable, English names of the problems, for programs (the title and detail are translated).
PROBLEM_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_parameter",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def is_api_request() -> bool:
    """Tell whether this request is for the JSON API, whose errors are JSON too."""
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def problem(code: int, title: object, detail: object, **extra: object):  # type: ignore[no-untyped-def]
    """Return an RFC 9457 problem (``application/problem+json``) and its status code."""
    response = jsonify(
        {
            "type": "about:blank",
            "status": code,
            "code": PROBLEM_CODES.get(code, "internal_error" if code >= 500 else "bad_request"),
            "title": str(title),
            "detail": str(detail),
            **extra,
        }
    )
    response.status_code = code
    response.mimetype = "application/problem+json"
    return response, code
