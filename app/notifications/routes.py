"""Public "send me my link again" page and the development-only list of written emails."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..events.services import EventNotFound, get_public_event
from ..registration import services as registration_services
from .delivery import deliver_after_response, mail_directory
from .forms import ResendLinkForm
from .preview import find_links, linkify, with_top_target

bp = Blueprint("notifications", __name__)

EML_NAME = re.compile(r"^[\w.-]+\.eml$")


@bp.route("/events/<slug>/resend-link", methods=["GET", "POST"])
def resend_link(slug: str):  # type: ignore[no-untyped-def]
    """Ask for an email address and mail a new private link; the answer never tells whether one exists."""
    try:
        event = get_public_event(slug)
    except EventNotFound:
        abort(404)
    form = ResendLinkForm()
    if form.validate_on_submit():
        registration_services.send_manage_link(event, form.email.data, request.remote_addr or "unknown")
        flash(
            _(
                "If a registration with this address exists for this event, we have sent a new "
                "private link to it. Links from earlier emails no longer work."
            ),
            "info",
        )
        return deliver_after_response(redirect(url_for(".resend_link", slug=event.slug), code=303))
    return render_template("notifications/resend_link.html", event=event, form=form), (
        422 if form.is_submitted() else 200
    )


def _dev_only() -> None:
    """Answer 404 unless the development mail pages are switched on."""
    if not current_app.config.get("OUTBOX_DEV_PAGE"):
        abort(404)


@bp.route("/dev/mail")
def mail_index():  # type: ignore[no-untyped-def]
    """List the emails written to instance/mail/ (development only)."""
    _dev_only()
    directory = mail_directory()
    items = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.eml"), reverse=True)[:500]:
            message = _parse(path.read_bytes())
            text = message.get_body(preferencelist=("plain",))
            items.append(
                {
                    "name": path.name,
                    "to": message["To"],
                    "subject": message["Subject"],
                    "date": message["Date"],
                    "links": find_links(text.get_content()) if text else [],
                }
            )
    return render_template("notifications/mail_index.html", items=items, directory=directory)


@bp.route("/dev/mail/<name>")
def mail_show(name: str):  # type: ignore[no-untyped-def]
    """Show one written email: headers, text, HTML in a sandboxed frame, attachments (development only).

    Links work in one click: those of the text are made links, those of the
    HTML open in the page (the frame may navigate it only on a click).
    """
    message = _parse(_eml_path(name).read_bytes())
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    attachments = [part.get_filename() for part in message.iter_attachments()]
    return render_template(
        "notifications/mail_show.html",
        name=name,
        headers=list(message.items()),
        text=linkify(text.get_content()) if text else "",
        html=with_top_target(html.get_content()) if html else "",
        attachments=attachments,
    )


@bp.route("/dev/mail/<name>/raw")
def mail_raw(name: str) -> Response:
    """Download one written email as an .eml file (development only)."""
    return Response(
        _eml_path(name).read_bytes(),
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _eml_path(name: str):  # type: ignore[no-untyped-def]
    """Return the path of a written email, refusing anything outside the mail directory."""
    _dev_only()
    if not EML_NAME.match(name):
        abort(404)
    path = mail_directory() / name
    if not path.is_file():
        abort(404)
    return path


def _parse(raw: bytes) -> EmailMessage:
    """Parse an .eml file with the modern email API."""
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]
