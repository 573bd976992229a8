"""The base of every form: Flask-WTF's, with WTForms' own messages translated once per process."""

from __future__ import annotations

from functools import lru_cache

from babel import support
from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path

from .errors import DomainError


@lru_cache(maxsize=8)
def _wtforms_translations(locale: str) -> support.Translations:
    """Return WTForms' catalog for ``locale`` (read from disk once)."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class Form(FlaskForm):
    """A CSRF-protected form whose built-in messages ("Not a valid integer value" …) follow the page's language.

    Flask-WTF reads WTForms' catalog from disk on every request; here it is read
    once per language and process.
    """

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):  # type: ignore[no-untyped-def]
            """Return the cached catalog of the request's language (none outside a request, or when switched off)."""
            if not has_request_context() or not current_app.config.get("WTF_I18N_ENABLED", True):
                return None
            locale = get_locale()
            return _wtforms_translations(str(locale)) if locale is not None else None


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Show a domain refusal (and those it carries in ``also``) next to the field each names, or above the form."""
    for each in (error, *error.also):
        field = getattr(form, each.field, None) if each.field else None
        if field is not None:
            field.errors = list(field.errors) + [each.message]
        else:
            form.form_errors.append(each.message)
