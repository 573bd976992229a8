"""Registrations of an event: list, search, details and organiser actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from ..audit.services import entries
from ..auth.services import can_manage_event
from ..events.services import instant_sessions, ranked_blocks, waitlist_counts
from ..forms import attach_error
from ..labels import AUDIT_ACTION_LABELS, audit_details, category_label
from ..notifications.delivery import deliver_after_response
from ..registration import admin_services, questions
from ..registration.admin_services import RegistrationNotFound
from ..registration.errors import RegistrationError
from ..registration.forms import ConfirmForm, build_choices_form
from ..registration.waitlist import waitlist_positions
from .access import event_or_404, protect
from .forms_registrations import (
    AdminRegistrationForm,
    ConfirmedActionForm,
    MoveGroupForm,
    PromoteForm,
    RegistrationFilterForm,
)

bp = protect(Blueprint("admin_registrations", __name__, url_prefix="/admin"))

BASE = "/events/<int:event_id>/registrations"
ONE = BASE + "/<int:registration_id>"
BOOKING = ONE + "/bookings/<int:booking_id>"


@bp.route(BASE)
def index(event_id: int):  # type: ignore[no-untyped-def]
    """List, search, filter and sort the event's registrations."""
    event = event_or_404(event_id, personal=True)
    admin_services.load_programme(event)
    form = RegistrationFilterForm(event, formdata=request.args)
    filters = form.filters()
    pagination = admin_services.list_registrations(event, filters, form.page_number(), form.page_size())
    asked = questions.event_questions(event.id)
    return render_template(
        "admin/registrations/index.html",
        event=event,
        form=form,
        pagination=pagination,
        questions=asked,
        answers=questions.answers_for(r.id for r in pagination.items) if asked else {},
        display_answer=questions.display_value,
        page_url=_page_url,
        can_manage=can_manage_event(current_user, event.id),
    )


def _page_url(page: int) -> str:
    """Return the list's URL with the same filters and another page."""
    view_args = request.view_args or {}
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in view_args and not k.startswith("_")}
    args["page"] = page
    return url_for(".index", **view_args, **args)


@bp.route(ONE)
def show(event_id: int, registration_id: int):  # type: ignore[no-untyped-def]
    """Show a registration: details, places, waiting-list positions, emails and audit trail."""
    event = event_or_404(event_id, personal=True)
    registration = _registration_or_404(event_id, registration_id)
    return render_template(
        "admin/registrations/show.html",
        event=event,
        registration=registration,
        positions=waitlist_positions(registration.bookings),
        questions=questions.event_questions(event.id, include_hidden=True),
        answers=questions.answers_of(registration.id),
        display_answer=questions.display_value,
        emails=admin_services.email_history(registration.id),
        audit=entries(registration_id=registration.id),
        audit_labels=AUDIT_ACTION_LABELS,
        audit_details=audit_details,
        audit_names=_programme_names(event),
        category_label=category_label,
        form=ConfirmForm(),
        move_form=MoveGroupForm(),
        promote_form=PromoteForm(),
        can_manage=can_manage_event(current_user, event.id),
    )


@bp.route(BASE + "/new", methods=["GET", "POST"])
def new(event_id: int):  # type: ignore[no-untyped-def]
    """Add a registration by hand (a phone or paper sign-up), whatever the registration window."""
    event = event_or_404(event_id, manage=True)
    instant, blocks = instant_sessions(event.sessions), ranked_blocks(event.sessions)
    form = build_choices_form(AdminRegistrationForm, event, instant, blocks)
    if form.validate_on_submit():
        try:
            result = admin_services.add_registration(
                event, form.participant_data(), form.choices_data(), book_directly=bool(form.book_directly.data)
            )
        except RegistrationError as error:
            attach_error(form, error)
        else:
            flash(_("The registration has been added and its confirmation email queued."), "success")
            return deliver_after_response(_back(event_id, result.registration.id))
    return (
        render_template(
            "admin/registrations/new.html",
            event=event,
            form=form,
            instant=instant,
            blocks=blocks,
            waiting=waitlist_counts(event.id),
        ),
        422 if form.is_submitted() else 200,
    )


@bp.post(BOOKING + "/approve")
def approve(event_id: int, registration_id: int, booking_id: int) -> Response:
    """Approve a requested place."""
    return _act(
        event_id,
        registration_id,
        ConfirmForm,
        lambda form: admin_services.approve_request(event_id, registration_id, booking_id),
        lambda booking: (
            _("The request has been approved: the place is confirmed.")
            if booking.status.value == "confirmed"
            else _("The request has been approved, but the session is full: the participant is on the waiting list.")
        ),
    )


@bp.get(BOOKING + "/decline")
def confirm_decline(event_id: int, registration_id: int, booking_id: int):  # type: ignore[no-untyped-def]
    """Say what declining the request does, with the button that does it."""
    return _confirmation(event_id, registration_id, booking_id, "decline")


@bp.post(BOOKING + "/decline")
def decline(event_id: int, registration_id: int, booking_id: int) -> Response:
    """Decline a requested place (only from its confirmation page)."""
    return _act(
        event_id,
        registration_id,
        ConfirmedActionForm,
        lambda form: admin_services.decline_request(event_id, registration_id, booking_id),
        lambda _result: _("The request has been declined."),
        confirm_at=url_for(
            ".confirm_decline", event_id=event_id, registration_id=registration_id, booking_id=booking_id
        ),
    )


@bp.post(BOOKING + "/move")
def move(event_id: int, registration_id: int, booking_id: int) -> Response:
    """Move a confirmed place to another group of the same session."""
    return _act(
        event_id,
        registration_id,
        MoveGroupForm,
        lambda form: admin_services.move_to_group(
            event_id, registration_id, booking_id, int(form.group_id.data), override=bool(form.override.data)
        ),
        lambda _result: _("The participant has been moved to the other group."),
    )


@bp.get(BOOKING + "/cancel")
def confirm_cancel_booking(event_id: int, registration_id: int, booking_id: int):  # type: ignore[no-untyped-def]
    """Say what cancelling the place does, with the button that does it."""
    return _confirmation(event_id, registration_id, booking_id, "cancel")


@bp.post(BOOKING + "/cancel")
def cancel_booking(event_id: int, registration_id: int, booking_id: int) -> Response:
    """Cancel one place of the registration (only from its confirmation page)."""
    return _act(
        event_id,
        registration_id,
        ConfirmedActionForm,
        lambda form: admin_services.cancel_booking(event_id, registration_id, booking_id),
        lambda _result: _("The place has been cancelled."),
        confirm_at=url_for(
            ".confirm_cancel_booking", event_id=event_id, registration_id=registration_id, booking_id=booking_id
        ),
    )


@bp.post(BOOKING + "/promote")
def promote(event_id: int, registration_id: int, booking_id: int) -> Response:
    """Give a waiting booking a place, ahead of the queue."""
    return _act(
        event_id,
        registration_id,
        PromoteForm,
        lambda form: admin_services.promote(event_id, registration_id, booking_id, override=bool(form.override.data)),
        lambda _result: _("The participant has been given a place."),
    )


@bp.post(ONE + "/cancel")
def cancel_registration(event_id: int, registration_id: int) -> Response:
    """Cancel the whole registration."""
    return _act(
        event_id,
        registration_id,
        ConfirmForm,
        lambda form: admin_services.cancel_registration(event_id, registration_id),
        lambda _result: _("The registration has been cancelled."),
    )


@bp.post(ONE + "/resend")
def resend(event_id: int, registration_id: int) -> Response:
    """Send the confirmation again, with a new private link."""
    return _act(
        event_id,
        registration_id,
        ConfirmForm,
        lambda form: admin_services.resend_confirmation(event_id, registration_id),
        lambda _result: _("A new private link has been sent; the old one no longer works."),
    )


def _act(
    event_id: int,
    registration_id: int,
    form_class: type,
    action: Callable[[Any], Any],
    success: Callable[[Any], str],
    confirm_at: str | None = None,
) -> Response:
    """Check access and the form, run one action, flash its outcome and go back to the registration.

    With ``confirm_at``, a POST that does not come from the confirmation page
    (no ``confirmed`` field) changes nothing and is sent to that page.
    """
    event_or_404(event_id, manage=True)
    if confirm_at is not None and request.form.get("confirmed") != "yes":
        return redirect(confirm_at, code=303)
    form = form_class()
    if not form.validate_on_submit():
        errors = [str(e) for errors in form.errors.values() for e in errors]
        flash(errors[0] if errors else _("The form could not be read. Please try again."), "danger")
        return _back(event_id, registration_id)
    try:
        result = action(form)
    except RegistrationNotFound:
        abort(404)
    except RegistrationError as error:
        flash(str(error.message), "danger")
    else:
        flash(success(result), "success")
        return deliver_after_response(_back(event_id, registration_id))
    return _back(event_id, registration_id)


def _confirmation(event_id: int, registration_id: int, booking_id: int, action: str):  # type: ignore[no-untyped-def]
    """Render the confirmation page of a destructive action on one booking (404 for another registration's)."""
    event = event_or_404(event_id, manage=True)
    registration = _registration_or_404(event_id, registration_id)
    booking = next((b for b in registration.bookings if b.id == booking_id), None)
    if booking is None:
        abort(404)
    return render_template(
        "admin/registrations/confirm_booking_action.html",
        event=event,
        registration=registration,
        booking=booking,
        action=action,
        form=ConfirmedActionForm(),
        post_to=url_for(
            f".{'decline' if action == 'decline' else 'cancel_booking'}",
            event_id=event_id,
            registration_id=registration_id,
            booking_id=booking_id,
        ),
    )


def _back(event_id: int, registration_id: int) -> Response:
    """Redirect to the registration's page (303: the browser follows with a GET)."""
    return redirect(url_for(".show", event_id=event_id, registration_id=registration_id), code=303)


def _registration_or_404(event_id: int, registration_id: int):  # type: ignore[no-untyped-def]
    """Return the event's registration or answer 404."""
    try:
        return admin_services.get_registration(event_id, registration_id)
    except RegistrationNotFound:
        abort(404)


def _programme_names(event) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Return the event's session titles and group names by "session:<id>" / "group:<id>" (for the audit trail)."""
    names = {}
    for session in event.sessions:
        names[f"session:{session.id}"] = session.title
        for group in session.groups:
            names[f"group:{group.id}"] = f"{session.title} — {group.label}"
    return names
