"""The organiser's editor of an event's own registration questions (the form builder)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..forms import attach_error
from ..labels import EVENT_STATUS_LABELS
from ..registration import questions as rules
from ..registration.forms import ConfirmForm
from ..registration.models import Question
from .access import event_or_404, protect
from .events import form_page
from .forms_questions import QUESTION_KIND_LABELS, QuestionForm

bp = protect(Blueprint("admin_questions", __name__, url_prefix="/admin/events/<int:event_id>/questions"))


@bp.context_processor
def _labels() -> dict:
    """Give this area's templates the labels of statuses and question kinds."""
    return {"event_status_labels": EVENT_STATUS_LABELS, "question_kind_labels": QUESTION_KIND_LABELS}


def _question_or_404(event_id: int, question_id: int) -> Question:
    """Return the event's question (404 for another event's)."""
    question = db.session.get(Question, question_id)
    if question is None or question.event_id != event_id:
        abort(404)
    return question


@bp.route("/")
def index(event_id: int):  # type: ignore[no-untyped-def]
    """List the event's questions in their order, with their actions."""
    event = event_or_404(event_id, manage=True)
    return render_template(
        "admin/events/questions.html",
        event=event,
        questions=rules.event_questions(event.id, include_hidden=True),
        answered=rules.answered_question_ids(event.id),
        counts=rules.answer_counts(event.id),
        action_form=ConfirmForm(),
    )


@bp.route("/new", methods=["GET", "POST"])
def new(event_id: int):  # type: ignore[no-untyped-def]
    """Add a question at the end of the event's registration form."""
    event = event_or_404(event_id, manage=True)
    form = QuestionForm()
    if form.validate_on_submit():
        try:
            rules.create_question(event.id, form.question_data())
        except rules.QuestionError as error:
            attach_error(form, error)
        else:
            flash(_("The question has been added."), "success")
            return redirect(url_for(".index", event_id=event.id), code=303)
    return form_page(form, _("New question"), _("Add question"), url_for(".index", event_id=event.id), event=event)


@bp.route("/<int:question_id>/edit", methods=["GET", "POST"])
def edit(event_id: int, question_id: int):  # type: ignore[no-untyped-def]
    """Change a question; an answered one keeps its kind and its chosen options."""
    event = event_or_404(event_id, manage=True)
    question = _question_or_404(event.id, question_id)
    form = QuestionForm(obj=question)
    if not form.is_submitted():
        form.kind.data = question.kind.value
        form.options.data = rules.options_text(question)
    if form.validate_on_submit():
        try:
            rules.update_question(event.id, question.id, form.question_data())
        except rules.QuestionError as error:
            attach_error(form, error)
        else:
            flash(_("The question has been saved."), "success")
            return redirect(url_for(".index", event_id=event.id), code=303)
    answered = question.id in rules.answered_question_ids(event.id)
    return form_page(
        form,
        _("Edit question: %(label)s", label=question.label),
        _("Save"),
        url_for(".index", event_id=event.id),
        event=event,
        intro=_(
            "People have answered this question: its kind cannot change and options they chose cannot be removed "
            "(their labels can)."
        )
        if answered
        else None,
    )


@bp.route("/<int:question_id>/move/<any(up, down):direction>", methods=["POST"])
def move(event_id: int, question_id: int, direction: str):  # type: ignore[no-untyped-def]
    """Move a question one place up or down the form."""
    event = event_or_404(event_id, manage=True)
    if ConfirmForm().validate_on_submit():
        try:
            rules.move_question(event.id, question_id, -1 if direction == "up" else 1)
        except rules.QuestionError as error:
            flash(str(error.message), "danger")
    return redirect(url_for(".index", event_id=event.id) + f"#question-{question_id}", code=303)


@bp.route("/<int:question_id>/<any(hide, show):action>", methods=["POST"])
def visibility(event_id: int, question_id: int, action: str):  # type: ignore[no-untyped-def]
    """Hide a question from the forms (its answers stay) or show it again."""
    event = event_or_404(event_id, manage=True)
    if ConfirmForm().validate_on_submit():
        try:
            rules.set_question_active(event.id, question_id, action == "show")
        except rules.QuestionError as error:
            flash(str(error.message), "danger")
        else:
            if action == "show":
                flash(_("The question is shown on the registration form again."), "success")
            else:
                flash(_("The question is hidden from the registration form; its answers are kept."), "success")
    return redirect(url_for(".index", event_id=event.id), code=303)


@bp.route("/<int:question_id>/delete", methods=["POST"])
def delete(event_id: int, question_id: int):  # type: ignore[no-untyped-def]
    """Delete a question nobody answered."""
    event = event_or_404(event_id, manage=True)
    if ConfirmForm().validate_on_submit():
        try:
            rules.delete_question(event.id, question_id)
        except rules.QuestionError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("The question has been deleted."), "success")
    return redirect(url_for(".index", event_id=event.id), code=303)
