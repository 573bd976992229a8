"""Managing an event's speakers (and the sessions they speak at) and its partners."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ..events.models import Event, Partner, Speaker
from ..events.services import partners_by_kind
from ..extensions import db
from ..forms import attach_error
from ..i18n import format_when
from ..labels import EVENT_STATUS_LABELS
from ..media import accepts_uploads
from ..registration.forms import ConfirmForm
from . import lineup
from .access import event_or_404, protect
from .forms_speakers import PartnerForm, SpeakerForm

bp = protect(Blueprint("admin_speakers", __name__, url_prefix="/admin"))


@bp.context_processor
def _labels() -> dict:
    """Give this area's templates the labels of statuses (the event's tabs show its status)."""
    return {"event_status_labels": EVENT_STATUS_LABELS}


def _speaker_or_404(event: Event, speaker_id: int) -> Speaker:
    """Return the event's speaker (404 for another event's)."""
    speaker = db.session.get(Speaker, speaker_id)
    if speaker is None or speaker.event_id != event.id:
        abort(404)
    return speaker


def _partner_or_404(event: Event, partner_id: int) -> Partner:
    """Return the event's partner (404 for another event's)."""
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.event_id != event.id:
        abort(404)
    return partner


def _session_choices(form: SpeakerForm, event: Event) -> None:
    """Offer the event's sessions, with their times, to attach the speaker to."""
    form.session_ids.choices = [
        SelectChoice(session.id, f"{format_when(session.starts_at, 'short')} · {session.title}")
        for session in event.sessions
    ]


def _form_page(form, heading: str, submit: str, event: Event, picture: str | None = None):  # type: ignore[no-untyped-def]
    """Render a speaker or partner form (offering to remove the ``picture`` there is); 422 when it was refused."""
    if not picture:
        removals = {"remove_photo", "remove_logo"}
        form.layout = [tuple(name for name in row if name not in removals) for row in form.layout]
    page = render_template(
        "admin/events/form.html",
        form=form,
        heading=heading,
        submit=submit,
        cancel_url=url_for(".index", event_id=event.id),
        event=event,
        multipart=True,
        picture=picture,
    )
    return page, 422 if form.is_submitted() else 200


@bp.route("/events/<int:event_id>/speakers/")
def index(event_id: int):  # type: ignore[no-untyped-def]
    """List the event's speakers with their sessions, and its partners by kind."""
    event = event_or_404(event_id, manage=True)
    return render_template(
        "admin/events/speakers.html",
        event=event,
        partner_kinds=partners_by_kind(event),
        action_form=ConfirmForm(),
    )


@bp.route("/events/<int:event_id>/speakers/new", methods=["GET", "POST"])
@accepts_uploads
def new_speaker(event_id: int):  # type: ignore[no-untyped-def]
    """Add a speaker to the event."""
    event = event_or_404(event_id, manage=True)
    form = SpeakerForm()
    _session_choices(form, event)
    if form.validate_on_submit():
        try:
            lineup.create_speaker(event.id, form.speaker_data())
        except lineup.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The speaker has been added."), "success")
            return redirect(url_for(".index", event_id=event.id), code=303)
    return _form_page(form, _("New speaker"), _("Add speaker"), event)


@bp.route("/events/<int:event_id>/speakers/<int:speaker_id>/edit", methods=["GET", "POST"])
@accepts_uploads
def edit_speaker(event_id: int, speaker_id: int):  # type: ignore[no-untyped-def]
    """Change a speaker, their photo and their sessions."""
    event = event_or_404(event_id, manage=True)
    speaker = _speaker_or_404(event, speaker_id)
    form = SpeakerForm(obj=speaker)
    _session_choices(form, event)
    if not form.is_submitted():
        form.session_ids.data = [session.id for session in speaker.sessions]
    if form.validate_on_submit():
        try:
            lineup.update_speaker(speaker.id, form.speaker_data())
        except lineup.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The speaker has been saved."), "success")
            return redirect(url_for(".index", event_id=event.id), code=303)
    return _form_page(form, _("Edit speaker: %(name)s", name=speaker.name), _("Save"), event, picture=speaker.photo)


@bp.route("/events/<int:event_id>/speakers/<int:speaker_id>/delete", methods=["POST"])
def delete_speaker(event_id: int, speaker_id: int):  # type: ignore[no-untyped-def]
    """Delete a speaker; their sessions stay."""
    event = event_or_404(event_id, manage=True)
    speaker = _speaker_or_404(event, speaker_id)
    if ConfirmForm().validate_on_submit():
        try:
            lineup.delete_speaker(speaker.id)
        except lineup.ManagementError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("The speaker has been deleted."), "success")
    return redirect(url_for(".index", event_id=event.id), code=303)


@bp.route("/events/<int:event_id>/partners/new", methods=["GET", "POST"])
@accepts_uploads
def new_partner(event_id: int):  # type: ignore[no-untyped-def]
    """Add a partner to the event."""
    event = event_or_404(event_id, manage=True)
    form = PartnerForm()
    if form.validate_on_submit():
        try:
            lineup.create_partner(event.id, form.partner_data())
        except lineup.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The partner has been added."), "success")
            return redirect(url_for(".index", event_id=event.id), code=303)
    return _form_page(form, _("New partner"), _("Add partner"), event)


@bp.route("/events/<int:event_id>/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@accepts_uploads
def edit_partner(event_id: int, partner_id: int):  # type: ignore[no-untyped-def]
    """Change a partner and its logo."""
    event = event_or_404(event_id, manage=True)
    partner = _partner_or_404(event, partner_id)
    form = PartnerForm(obj=partner)
    if form.validate_on_submit():
        try:
            lineup.update_partner(partner.id, form.partner_data())
        except lineup.ManagementError as error:
            attach_error(form, error)
        else:
            flash(_("The partner has been saved."), "success")
            return redirect(url_for(".index", event_id=event.id), code=303)
    return _form_page(form, _("Edit partner: %(name)s", name=partner.name), _("Save"), event, picture=partner.logo)


@bp.route("/events/<int:event_id>/partners/<int:partner_id>/delete", methods=["POST"])
def delete_partner(event_id: int, partner_id: int):  # type: ignore[no-untyped-def]
    """Delete a partner."""
    event = event_or_404(event_id, manage=True)
    partner = _partner_or_404(event, partner_id)
    if ConfirmForm().validate_on_submit():
        try:
            lineup.delete_partner(partner.id)
        except lineup.ManagementError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("The partner has been deleted."), "success")
    return redirect(url_for(".index", event_id=event.id), code=303)
