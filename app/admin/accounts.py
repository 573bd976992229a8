"""Back-office accounts: every organiser's own password; for admins, the list, creation, enabling, events."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth import services as accounts
from ..auth.forms import ChangePasswordForm
from ..auth.models import Organiser, Role
from ..auth.sessions import keep_session
from ..events.models import Event
from ..extensions import db
from ..forms import attach_error
from ..registration.forms import ConfirmForm
from .access import protect, roles_required
from .events import form_page
from .forms_events import ROLE_LABELS, AccountForm, AssignEventForm

bp = protect(Blueprint("admin_accounts", __name__, url_prefix="/admin"))


@bp.context_processor
def _labels() -> dict:
    """Give the account pages the labels of roles."""
    return {"role_labels": ROLE_LABELS}


@bp.route("/password", methods=["GET", "POST"])
def change_password():  # type: ignore[no-untyped-def]
    """Change one's own password (any role); the account's other sessions end, this one goes on."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            organiser = accounts.change_password(
                current_user.id, form.current_password.data, form.new_password.data, request.remote_addr or "?"
            )
        except accounts.AuthError as error:
            attach_error(form, error)
        else:
            keep_session(organiser)
            flash(_("Your password has been changed. Your sessions in other browsers have ended."), "success")
            return redirect(url_for("admin.index"), code=303)
    return render_template("auth/change_password.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/accounts/")
@roles_required(Role.ADMIN)
def account_list():  # type: ignore[no-untyped-def]
    """List every back-office account."""
    return render_template("admin/events/accounts.html", accounts=accounts.list_accounts())


@bp.route("/accounts/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_account():  # type: ignore[no-untyped-def]
    """Create an account."""
    form = AccountForm()
    if form.validate_on_submit():
        try:
            account = accounts.create_organiser(
                form.email.data, form.password.data, Role(form.role.data), name=form.name.data or ""
            )
        except accounts.AuthError as error:
            attach_error(form, error)
        else:
            flash(_("The account has been created."), "success")
            return redirect(url_for(".account", account_id=account.id), code=303)
    return form_page(form, _("New account"), _("Create account"), url_for(".account_list"))


@bp.route("/accounts/<int:account_id>")
@roles_required(Role.ADMIN)
def account(account_id: int):  # type: ignore[no-untyped-def]
    """Show an account with its events, and the forms to change them."""
    organiser = db.get_or_404(Organiser, account_id)
    return _account_page(organiser, AssignEventForm())


def _account_page(organiser: Organiser, assign_form: AssignEventForm, status: int = 200):  # type: ignore[no-untyped-def]
    """Render an account's page."""
    assigned = {e.id for e in organiser.events}
    assign_form.event_id.choices = [
        (e.id, f"{e.title} — {e.city}")
        for e in db.session.execute(select(Event).order_by(Event.starts_at.desc())).scalars()
        if e.id not in assigned
    ]
    page = render_template(
        "admin/events/account.html", account=organiser, assign_form=assign_form, action_form=ConfirmForm()
    )
    return page, status


@bp.route("/accounts/<int:account_id>/<any(enable, disable):action>", methods=["POST"])
@roles_required(Role.ADMIN)
def set_account_enabled(account_id: int, action: str):  # type: ignore[no-untyped-def]
    """Enable or disable an account; its open sessions end."""
    organiser = db.get_or_404(Organiser, account_id)
    if ConfirmForm().validate_on_submit():
        try:
            accounts.set_account_enabled(organiser.id, action == "enable", acting_id=current_user.id)
        except accounts.AuthError as error:
            flash(str(error.message), "danger")
        else:
            flash(
                _("The account is enabled.") if action == "enable" else _("The account is disabled and logged out."),
                "success",
            )
    return redirect(url_for(".account", account_id=account_id), code=303)


@bp.route("/accounts/<int:account_id>/events", methods=["POST"])
@roles_required(Role.ADMIN)
def assign_event(account_id: int):  # type: ignore[no-untyped-def]
    """Give the account access to an event."""
    organiser = db.get_or_404(Organiser, account_id)
    form = AssignEventForm()
    form.event_id.choices = [(e.id, e.slug) for e in db.session.execute(select(Event)).scalars()]
    if form.validate_on_submit():
        try:
            accounts.assign_event(organiser.id, form.event_id.data)
        except accounts.AuthError as error:
            attach_error(form, error)
        else:
            flash(_("The event has been assigned."), "success")
            return redirect(url_for(".account", account_id=account_id), code=303)
    return _account_page(organiser, form, status=422)


@bp.route("/accounts/<int:account_id>/events/<int:event_id>/remove", methods=["POST"])
@roles_required(Role.ADMIN)
def unassign_event(account_id: int, event_id: int):  # type: ignore[no-untyped-def]
    """Take an event away from the account."""
    organiser = db.get_or_404(Organiser, account_id)
    if ConfirmForm().validate_on_submit():
        try:
            accounts.unassign_event(organiser.id, event_id)
        except accounts.AuthError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("The event has been taken away from the account."), "success")
    return redirect(url_for(".account", account_id=account_id), code=303)
