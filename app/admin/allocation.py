"""Allocation of ranked workshops: preview with figures and baselines, publish, reopen."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField

from ..db import utcnow
from ..events.services import ranked_blocks
from ..extensions import db
from ..forms import Form
from ..labels import category_label
from ..notifications.delivery import deliver_after_response
from ..ranking import services
from ..ranking.errors import AlreadyPublished, RankingError
from ..ranking.forms import AllocationForm
from ..ranking.models import AllocationRun
from ..registration.forms import ConfirmForm
from ..registration.ranked import published_run
from .access import event_or_404, protect

bp = protect(Blueprint("admin_allocation", __name__, url_prefix="/admin"))


class SeriesPriorityForm(Form):
    """The event's option "priority for those who missed out before"."""

    enabled = BooleanField(_l("Priority for those who missed out before"))


@bp.route("/events/<int:event_id>/allocation")
def index(event_id: int):  # type: ignore[no-untyped-def]
    """Show the allocation form, the run asked for (or the newest) and the past runs."""
    event = event_or_404(event_id)
    runs = services.runs(event.id)
    shown = None
    if request.args.get("run", type=int):
        shown = db.session.get(AllocationRun, request.args.get("run", type=int))
        if shown is None or shown.event_id != event.id:
            shown = None
    return _render(event, AllocationForm(), runs, shown or (runs[0] if runs else None))


def _render(event, form, runs, shown, status: int = 200):  # type: ignore[no-untyped-def]
    """Render the allocation page."""
    sessions = {str(s.id): s for b in ranked_blocks(list(event.sessions)) for s in b.sessions}
    return render_template(
        "admin/allocation/index.html",
        event=event,
        form=form,
        runs=runs,
        shown=shown,
        published=published_run(event.id),
        registration_open=event.is_registration_open(utcnow()),
        sessions=sessions,
        category_label=category_label,
        confirm_form=ConfirmForm(),
        priority_form=SeriesPriorityForm(formdata=None, prefix="priority", data={"enabled": event.series_priority}),
    ), status


@bp.route("/events/<int:event_id>/allocation/preview", methods=["POST"])
def preview(event_id: int):  # type: ignore[no-untyped-def]
    """Compute and store a preview (nothing is booked); show it."""
    event = event_or_404(event_id, manage=True)
    form = AllocationForm()
    if not form.validate_on_submit():
        return _render(event, form, services.runs(event.id), None, 422)
    try:
        result = services.preview(event, form.options(), actor=current_user._get_current_object())
    except RankingError as error:
        flash(str(error.message), "danger")
        return redirect(url_for(".index", event_id=event.id), code=303)
    flash(_("Preview computed: nothing was booked yet."), "info")
    return redirect(url_for(".index", event_id=event.id, run=result.id), code=303)


@bp.route("/events/<int:event_id>/allocation/runs/<int:run_id>/publish", methods=["GET", "POST"])
def publish(event_id: int, run_id: int):  # type: ignore[no-untyped-def]
    """Show what publishing a preview would do (GET); publish exactly that preview (POST)."""
    event = event_or_404(event_id, manage=True)
    run = db.session.get(AllocationRun, run_id)
    if run is None or run.event_id != event.id:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            services.publish(event, run.id, actor=current_user._get_current_object())
        except AlreadyPublished as error:
            # A second click of "Publish" (the first one did it) is told so, and nothing is sent twice.
            published = published_run(event.id)
            if published is not None and published.id == run.id:
                flash(_("This preview is already published."), "info")
            else:
                flash(str(error.message), "danger")
            return redirect(url_for(".index", event_id=event.id, run=run.id), code=303)
        except RankingError as error:
            flash(str(error.message), "danger")
            return redirect(url_for(".publish", event_id=event.id, run_id=run.id), code=303)
        flash(_("The allocation is published and every participant is being emailed."), "success")
        return deliver_after_response(redirect(url_for(".index", event_id=event.id, run=run.id), code=303))
    return render_template(
        "admin/allocation/publish.html",
        event=event,
        run=run,
        check=services.check_publication(event, run),
        form=form,
        registration_open=event.is_registration_open(utcnow()),
    )


@bp.route("/events/<int:event_id>/allocation/reopen", methods=["POST"])
def reopen(event_id: int):  # type: ignore[no-untyped-def]
    """Withdraw the published allocation so that it can be run again."""
    event = event_or_404(event_id, manage=True)
    if ConfirmForm().validate_on_submit():
        try:
            services.reopen(event, actor=current_user._get_current_object())
            flash(_("The allocation is reopened: its places and waiting lists were withdrawn."), "warning")
        except RankingError as error:
            flash(str(error.message), "danger")
    return redirect(url_for(".index", event_id=event.id), code=303)


@bp.route("/events/<int:event_id>/allocation/series-priority", methods=["POST"])
def series_priority(event_id: int):  # type: ignore[no-untyped-def]
    """Turn the series priority of the event's allocation on or off."""
    event = event_or_404(event_id, manage=True)
    form = SeriesPriorityForm(prefix="priority")
    if form.validate_on_submit():
        services.set_series_priority(event, bool(form.enabled.data), actor=current_user._get_current_object())
        if event.series_priority:
            flash(
                _("Those who missed out at an earlier meeting of the series now get priority in this allocation."),
                "success",
            )
        else:
            flash(_("The allocation no longer looks at earlier meetings of the series."), "info")
    return redirect(url_for(".index", event_id=event.id), code=303)
