"""Managing series, events, sessions and groups."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from ..auth.models import Role
from ..events.models import Event, Group, Series, Session
from ..extensions import db
from ..forms import attach_error
from ..labels import EVENT_STATUS_LABELS
from ..notifications.delivery import deliver_after_response
from ..registration import invitations as invitation_services
from ..registration.forms import ConfirmForm
from . import programme as manage
from .access import event_or_404, protect, roles_required
from .forms_events import (
    BOOKING_MODE_LABELS,
    CloneForm,
    EventForm,
    GroupForm,
    InvitationForm,
    SeriesForm,
    SessionForm,
)

bp = protect(Blueprint("admin_events", __name__, url_prefix="/admin"))


@bp.context_processor
def _labels() -> dict:
    """Give this area's templates the labels of statuses and booking modes."""
    return {
        "event_status_labels": EVENT_STATUS_LABELS,
        "booking_mode_labels": BOOKING_MODE_LABELS,
    }


def form_page(form, heading: str, submit: str, cancel_url: str | None = None, **context):  # type: ignore[no-untyped-def]
    """Render a form page; 422 when a submitted form was refused."""
    template = context.pop("template", "admin/events/form.html")
    page = render_template(template, form=form, heading=heading, submit=submit, cancel_url=cancel_url, **context)
    return page, 422 if form.is_submitted() else 200


def _promoted_message(promoted: list) -> None:
    """Tell how many waiting people got a place."""
    if promoted:
        flash(
            ngettext(
                "%(num)d person got a place from the waiting list and will be emailed.",
                "%(num)d people got a place from the waiting list and will be emailed.",
                len(promoted),
            ),
            "info",
        )


def _limited_to() -> int | None:
    """Return the signed-in account's id when it is limited to its own series (not an admin)."""
    return None if current_user.role == Role.ADMIN else current_user.id


def _series_choices(form: EventForm, event: Event | None = None) -> None:
    """Offer the series the account may attach the event to (and the event's own)."""
    series = manage.series_open_to(_limited_to())
    if event is not None and all(s.id != event.series_id for s in series):
        series.insert(0, event.series)
    form.series_id.choices = [(s.id, s.name) for s in series]


def _session_or_404(event: Event, session_id: int) -> Session:
    """Return the event's session (404 for another event's)."""
    session = db.session.get(Session, session_id)
    if session is None or session.event_id != event.id:
        abort(404)
    return session


def _group_or_404(session: Session, group_id: int) -> Group:
    """Return the session's group (404 for another session's)."""
    group = db.session.get(Group, group_id)
    if group is None or group.session_id != session.id:
        abort(404)
    return group


# --- series (admin only) ----------------------------------------------------------------


@bp.route("/series/")
@roles_required(Role.ADMIN)
def series_list():  # type: ignore[no-untyped-def]
    """List every series."""
    series = db.session.execute(select(Series).order_by(Series.name_pl)).scalars().all()
    return render_template("admin/events/series_list.html", series=series)


@bp.route("/series/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_series():  # type: ignore[no-untyped-def]
    """Create a series."""
    form = SeriesForm()
    if form.validate_on_submit():
        try:
            manage.create_series(form.series_data())
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The series has been created."), "success")
            return redirect(url_for(".series_list"), code=303)
    return form_page(form, _("New series"), _("Create series"), url_for(".series_list"))


@bp.route("/series/<int:series_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_series(series_id: int):  # type: ignore[no-untyped-def]
    """Change a series."""
    series = db.get_or_404(Series, series_id)
    form = SeriesForm(obj=series)
    if form.validate_on_submit():
        try:
            manage.update_series(series.id, form.series_data())
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The series has been saved."), "success")
            return redirect(url_for(".series_list"), code=303)
    return form_page(form, _("Edit series: %(name)s", name=series.name), _("Save"), url_for(".series_list"))


# --- events -----------------------------------------------------------------------------


@bp.route("/events/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.ORGANISER)
def new_event():  # type: ignore[no-untyped-def]
    """Create an event as a draft; an organiser creating it gets access to it."""
    form = EventForm()
    _series_choices(form)
    if form.validate_on_submit():
        try:
            event = manage.create_event(form.event_data(), assign_to=_limited_to())
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The event has been created as a draft. Add its sessions, then publish it."), "success")
            return redirect(url_for(".sessions", event_id=event.id), code=303)
    return form_page(form, _("New event"), _("Create event"), url_for("admin.index"))


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
def edit_event(event_id: int):  # type: ignore[no-untyped-def]
    """Change an event; the page also offers publishing, closing, cloning and deleting."""
    event = event_or_404(event_id, manage=True)
    form = EventForm(obj=event)
    _series_choices(form, event)
    if form.validate_on_submit():
        try:
            manage.update_event(event.id, form.event_data(), organiser_id=_limited_to())
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The event has been saved."), "success")
            return redirect(url_for(".edit_event", event_id=event.id), code=303)
    return form_page(
        form,
        _("Edit event"),
        _("Save"),
        url_for("admin.index"),
        template="admin/events/event_edit.html",
        event=event,
        action_form=ConfirmForm(),
    )


@bp.route("/events/<int:event_id>/status/<any(publish, close, reopen):action>", methods=["POST"])
def change_status(event_id: int, action: str):  # type: ignore[no-untyped-def]
    """Publish a draft, close registration, or reopen it."""
    event = event_or_404(event_id, manage=True)
    if ConfirmForm().validate_on_submit():
        try:
            manage.change_event_status(event.id, action)
        except manage.ManagementError as error:
            flash(str(error.message), "danger")
        else:
            messages = {
                "publish": _("The event is published."),
                "close": _("Registration is closed."),
                "reopen": _("Registration is open again."),
            }
            flash(messages[action], "success")
    return redirect(url_for(".edit_event", event_id=event.id), code=303)


@bp.route("/events/<int:event_id>/clone", methods=["GET", "POST"])
def clone_event(event_id: int):  # type: ignore[no-untyped-def]
    """Copy the event, its sessions, groups, speakers and partners to the next city of a tour."""
    event = event_or_404(event_id, manage=True)
    form = CloneForm()
    if form.validate_on_submit():
        try:
            clone = manage.clone_event(
                event.id, form.clone_data(), assign_to=None if current_user.role == Role.ADMIN else current_user.id
            )
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The copy has been created as a draft. Check its details, then publish it."), "success")
            return redirect(url_for(".edit_event", event_id=clone.id), code=303)
    return form_page(
        form,
        _("Copy “%(title)s” for another city", title=event.title),
        _("Create copy"),
        url_for(".edit_event", event_id=event.id),
        event=event,
        intro=_(
            "The copy gets the same sessions, groups, speakers, partners and registration questions, "
            "starts as a draft and has no registrations."
        ),
    )


@bp.route("/events/<int:event_id>/delete", methods=["POST"])
def delete_event(event_id: int):  # type: ignore[no-untyped-def]
    """Delete an event nobody registered for."""
    event = event_or_404(event_id, manage=True)
    if ConfirmForm().validate_on_submit():
        try:
            manage.delete_event(event.id)
        except manage.ManagementError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("The event has been deleted."), "success")
            return redirect(url_for("admin.index"), code=303)
    return redirect(url_for(".edit_event", event_id=event_id), code=303)


# --- sessions and groups ----------------------------------------------------------------


@bp.route("/events/<int:event_id>/sessions/")
def sessions(event_id: int):  # type: ignore[no-untyped-def]
    """List the event's sessions and groups with their places."""
    event = event_or_404(event_id, manage=True)
    return render_template("admin/events/sessions.html", event=event, action_form=ConfirmForm())


@bp.route("/events/<int:event_id>/sessions/new", methods=["GET", "POST"])
def new_session(event_id: int):  # type: ignore[no-untyped-def]
    """Add a session to the event."""
    event = event_or_404(event_id, manage=True)
    form = SessionForm()
    if not form.is_submitted():
        form.starts_at.data = form.ends_at.data = event.starts_at
    if form.validate_on_submit():
        try:
            manage.create_session(event.id, form.session_data())
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The session has been added."), "success")
            return redirect(url_for(".sessions", event_id=event.id), code=303)
    return form_page(form, _("New session"), _("Add session"), url_for(".sessions", event_id=event.id), event=event)


@bp.route("/events/<int:event_id>/sessions/<int:session_id>/edit", methods=["GET", "POST"])
def edit_session(event_id: int, session_id: int):  # type: ignore[no-untyped-def]
    """Change a session; raising its capacity promotes from the waiting list."""
    event = event_or_404(event_id, manage=True)
    session = _session_or_404(event, session_id)
    form = SessionForm(obj=session)
    readonly = ("capacity",) if session.groups else ()
    if session.groups:
        form.capacity.description = _("The sum of the groups' capacities: change the groups to change it.")
    if form.validate_on_submit():
        try:
            change = manage.update_session(session.id, form.session_data())
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The session has been saved."), "success")
            _promoted_message(change.promoted)
            return redirect(url_for(".sessions", event_id=event.id), code=303)
    return form_page(
        form,
        _("Edit session: %(title)s", title=session.title),
        _("Save"),
        url_for(".sessions", event_id=event.id),
        event=event,
        readonly=readonly,
        intro=_("Confirmed places: %(taken)s.", taken=session.taken),
    )


@bp.route("/events/<int:event_id>/sessions/<int:session_id>/delete", methods=["POST"])
def delete_session(event_id: int, session_id: int):  # type: ignore[no-untyped-def]
    """Delete a session nobody booked."""
    event = event_or_404(event_id, manage=True)
    session = _session_or_404(event, session_id)
    if ConfirmForm().validate_on_submit():
        try:
            manage.delete_session(session.id)
        except manage.ManagementError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("The session has been deleted."), "success")
    return redirect(url_for(".sessions", event_id=event.id), code=303)


@bp.route("/events/<int:event_id>/sessions/<int:session_id>/invitations", methods=["GET", "POST"])
def invitations(event_id: int, session_id: int):  # type: ignore[no-untyped-def]
    """List a session's invitation codes and generate new ones (emailed through the outbox)."""
    event = event_or_404(event_id, manage=True)
    session = _session_or_404(event, session_id)
    form = InvitationForm()
    if not form.is_submitted():
        form.language.data = "pl"
    created: list = []
    if form.validate_on_submit():
        try:
            created = invitation_services.create_codes(session.id, form.invitation_request())
        except invitation_services.InvitationError as error:
            attach_error(form, error)
        else:
            emailed = sum(1 for code in created if code.recipient_email)
            flash(
                ngettext("%(num)d code has been generated.", "%(num)d codes have been generated.", len(created)),
                "success",
            )
            if emailed:
                flash(
                    ngettext(
                        "%(num)d invitation email is on its way.",
                        "%(num)d invitation emails are on their way.",
                        emailed,
                    ),
                    "info",
                )
            return deliver_after_response(
                redirect(url_for(".invitations", event_id=event.id, session_id=session.id), code=303)
            )
    page = render_template(
        "admin/events/invitations.html",
        event=event,
        session=session,
        form=form,
        codes=invitation_services.codes_for(session.id),
        action_form=ConfirmForm(),
    )
    return page, 422 if form.is_submitted() else 200


@bp.route("/events/<int:event_id>/sessions/<int:session_id>/invitations/<int:code_id>/revoke", methods=["POST"])
def revoke_invitation(event_id: int, session_id: int, code_id: int):  # type: ignore[no-untyped-def]
    """Revoke an invitation code (audited)."""
    event = event_or_404(event_id, manage=True)
    session = _session_or_404(event, session_id)
    if ConfirmForm().validate_on_submit():
        try:
            invitation_services.revoke_code(session.id, code_id)
        except invitation_services.InvitationError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("The invitation code has been revoked."), "success")
    return redirect(url_for(".invitations", event_id=event.id, session_id=session.id), code=303)


@bp.route("/events/<int:event_id>/sessions/<int:session_id>/groups/new", methods=["GET", "POST"])
def new_group(event_id: int, session_id: int):  # type: ignore[no-untyped-def]
    """Add a group to a session."""
    event = event_or_404(event_id, manage=True)
    session = _session_or_404(event, session_id)
    form = GroupForm()
    if form.validate_on_submit():
        try:
            change = manage.create_group(session.id, form.group_data())
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The group has been added."), "success")
            _promoted_message(change.promoted)
            return redirect(url_for(".sessions", event_id=event.id), code=303)
    return form_page(
        form,
        _("New group of “%(title)s”", title=session.title),
        _("Add group"),
        url_for(".sessions", event_id=event.id),
        event=event,
    )


@bp.route("/events/<int:event_id>/sessions/<int:session_id>/groups/<int:group_id>/edit", methods=["GET", "POST"])
def edit_group(event_id: int, session_id: int, group_id: int):  # type: ignore[no-untyped-def]
    """Change a group; its capacity moves the session's."""
    event = event_or_404(event_id, manage=True)
    session = _session_or_404(event, session_id)
    group = _group_or_404(session, group_id)
    form = GroupForm(obj=group)
    if form.validate_on_submit():
        try:
            change = manage.update_group(group.id, form.group_data())
        except manage.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The group has been saved."), "success")
            _promoted_message(change.promoted)
            return redirect(url_for(".sessions", event_id=event.id), code=303)
    return form_page(
        form,
        _("Edit group: %(name)s", name=group.label),
        _("Save"),
        url_for(".sessions", event_id=event.id),
        event=event,
        intro=_("Confirmed places: %(taken)s.", taken=group.taken),
    )


@bp.route("/events/<int:event_id>/sessions/<int:session_id>/groups/<int:group_id>/delete", methods=["POST"])
def delete_group(event_id: int, session_id: int, group_id: int):  # type: ignore[no-untyped-def]
    """Delete a group nobody booked."""
    event = event_or_404(event_id, manage=True)
    session = _session_or_404(event, session_id)
    group = _group_or_404(session, group_id)
    if ConfirmForm().validate_on_submit():
        try:
            manage.delete_group(group.id)
        except manage.ManagementError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("The group has been deleted."), "success")
    return redirect(url_for(".sessions", event_id=event.id), code=303)
