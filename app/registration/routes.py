"""Public registration pages: the form, the success page and the private manage page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from ..db import is_unavailable, utcnow
from ..errors import BUSY_FORM_MESSAGE, busy_page
from ..events.services import (
    PUBLIC_STATUSES,
    EventNotFound,
    get_public_event_row,
    instant_sessions,
    public_programme,
    ranked_blocks,
    waitlist_counts,
)
from ..exports.printing import qr_svg
from ..extensions import db
from ..forms import attach_error
from ..i18n import current_language
from ..notifications.delivery import deliver_after_response
from ..pagecache import cached_page
from ..ranking import services as ranking_services
from . import holds, offers, questions, receipts, services
from .calendar import registration_ics
from .errors import AlreadyRegistered, RegistrationClosed, RegistrationError, RegistrationRefused
from .forms import ChoicesForm, ConfirmForm, RegistrationForm, build_answers_form, build_choices_form
from .models import LIVE_BOOKING_STATUSES, RegistrationStatus
from .ranked import allocation_published, ranking_closed_reason
from .waitlist import waitlist_positions

bp = Blueprint("registration", __name__)


def _event_or_404(slug: str):  # type: ignore[no-untyped-def]
    """Return the public event (its programme is read separately) or answer 404."""
    try:
        return get_public_event_row(slug)
    except EventNotFound:
        abort(404)


def _form_for(base, event, **kwargs):  # type: ignore[no-untyped-def]
    """Build the event's form of ``base`` with its sessions and ranked blocks."""
    return build_choices_form(base, event, instant_sessions(event.sessions), ranked_blocks(event.sessions), **kwargs)


@bp.route("/events/<slug>/register", methods=["GET", "POST"])
def register(slug: str):  # type: ignore[no-untyped-def]
    """Show the registration form and register on a valid POST."""
    if request.method != "POST":
        return cached_page(
            "register",
            slug,
            float(current_app.config.get("FORM_PAGE_CACHE_SECONDS", 0)),
            lambda: _blank_form(slug),
            with_csrf=True,
        )
    event = _event_or_404(slug)
    # One query for the sessions named in the POST and the ranked workshops: the ranked blocks
    # make the form's fields, and the service checks the choices against the same sessions.
    # The whole programme is read only to show the form again.
    sessions = services.choosable_sessions(event, services.posted_ids(request.form.getlist("sessions")))
    asked = questions.event_questions(event.id)
    form = build_choices_form(RegistrationForm, event, None, ranked_blocks(list(sessions.values())), questions=asked)
    now = utcnow()
    is_open = event.is_registration_open(now)
    valid = is_open and form.validate_on_submit()
    busy = False
    if valid:
        participant = form.participant_data()
        token = services.submission_token(event.id, participant.email, form.csrf_token.data)
        try:
            result = _register(event, participant, form.choices_data(), now, sessions, token)
        except RegistrationError as error:
            if isinstance(error, AlreadyRegistered) and _made_by_this_form(event, token):
                # The same form sent again (a double-click): the answer the first one got.
                receipts.keep_receipt(session, slug, token, now)
                return deliver_after_response(redirect(url_for(".registered", slug=slug), code=303))
            busy = _refuse(form, event, error, participant.email)
        except SQLAlchemyError as error:
            busy = _database_busy(error)
        else:
            # ``slug`` is the event's (it was found by it): reading event.slug would reload the committed row.
            receipts.keep_receipt(session, slug, result.token, now)
            return deliver_after_response(redirect(url_for(".registered", slug=slug), code=303))
    elif form.is_submitted() and not is_open:
        form.form_errors.append(_("Registration for this event is closed."))
    programme = public_programme(event, with_groups=False)
    if is_open and not valid:
        # The service, which checks the sessions, was not reached: check them here, so
        # that a wrong session shows together with the other fields' mistakes.
        form.check_sessions_offered(programme.instant)
        form.check_ranks_eligible(sessions)
    page, status = _render_form(event, programme, form, is_open, now, busy=busy)
    return busy_page(page) if busy else (page, status)


def _refuse(form, event, error: RegistrationError, email: str) -> bool:  # type: ignore[no-untyped-def]
    """Show a refusal in the form; tell whether the database was too busy to count it (see _database_busy).

    An address registered already is told so only a few times (services.refusal_for_duplicate);
    either answer links to the resend-link page, and to nothing else.
    """
    if isinstance(error, AlreadyRegistered):
        try:
            error = services.refusal_for_duplicate(email)
        except SQLAlchemyError as fault:
            return _database_busy(fault)
    attach_error(form, error)
    if isinstance(error, AlreadyRegistered | RegistrationRefused):
        form.form_errors.append(
            Markup('<a href="{}">{}</a>').format(
                url_for("notifications.resend_link", slug=event.slug), _("Send me my link again")
            )
        )
    return False


def _database_busy(error: SQLAlchemyError) -> bool:
    """Tell that the database is busy or unavailable: the form is shown again, answers kept, with BUSY_FORM_MESSAGE.

    :raises SQLAlchemyError: ``error`` again when it is not such a fault (a bug: a 500).
    """
    if not is_unavailable(error):
        raise error
    db.session.rollback()
    return True


def _register(event, participant, choices, now, sessions, token: str):  # type: ignore[no-untyped-def]
    """Register with the form's token; the same form sent again after its registration was cancelled gets a new one."""
    try:
        return services.register(event, participant, choices, now=now, sessions=sessions, token=token)
    except AlreadyRegistered:
        earlier = services.find_registration_by_token(token)
        if earlier is None or earlier.status == RegistrationStatus.ACTIVE:
            raise
        return services.register(event, participant, choices, now=now, sessions=sessions)


def _made_by_this_form(event, token: str) -> bool:  # type: ignore[no-untyped-def]
    """Tell whether the live registration given ``token`` is at ``event`` (so this form made it)."""
    own = services.find_registration_by_token(token)
    return own is not None and own.event_id == event.id and own.status == RegistrationStatus.ACTIVE


def _blank_form(slug: str) -> str:
    """Render the registration form as a first visit sees it (language preset, code from the link)."""
    event = _event_or_404(slug)
    programme = public_programme(event, with_groups=False)
    asked = questions.event_questions(event.id)
    form = build_choices_form(RegistrationForm, event, programme.instant, programme.blocks, questions=asked)
    form.language.data = current_language()
    form.invitation_code.data = request.args.get("code", "")[:40]
    now = utcnow()
    html, _status = _render_form(event, programme, form, event.is_registration_open(now), now)
    return html


def _render_form(event, programme, form, is_open: bool, now, busy: bool = False):  # type: ignore[no-untyped-def]
    """Render the registration form page (``busy``: the database refused it, nothing was saved)."""
    status = 422 if form.is_submitted() else 200
    closed_reason = None
    opens_at = None
    if not is_open:
        if event.registration_opens_at and now < event.registration_opens_at:
            opens_at = event.registration_opens_at
        try:
            services.check_registration_window(event, now)
        except RegistrationClosed as error:
            closed_reason = error.message
    return (
        render_template(
            "registration/register.html",
            event=event,
            form=form,
            is_open=is_open,
            closed_reason=closed_reason,
            opens_at=opens_at,
            waiting=programme.waiting,
            blocks=programme.blocks,
            instant=programme.instant,
            busy_message=BUSY_FORM_MESSAGE if busy else None,
            first_come=allocation_published(event.id),
        ),
        status,
    )


@bp.route("/events/<slug>/registered")
def registered(slug: str):  # type: ignore[no-untyped-def]
    """Show the result of a registration just made (POST-redirect-GET), once, and never from a cache."""
    token = receipts.take_receipt(session, slug, utcnow())
    # The event comes with the registration (one query); without a receipt, the event's page.
    registration = services.find_registration_by_token(token) if token else None
    event = registration.event if registration is not None else None
    if event is None or event.slug != slug or event.status not in PUBLIC_STATUSES:
        response = redirect(url_for("events.event", slug=_event_or_404(slug).slug))
    else:
        response = make_response(
            render_template(
                "registration/registered.html",
                event=event,
                registration=registration,
                manage_url=_manage_url(token),
                positions=waitlist_positions(registration.bookings),
            )
        )
    # The page shows the private link: no browser history, back button or proxy may keep it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _manage_url(token: str) -> str:
    """Return the absolute private link, built from the configured base URL."""
    return current_app.config["BASE_URL"].rstrip("/") + url_for("registration.manage", token=token)


def _registration_or_404(token: str):  # type: ignore[no-untyped-def]
    """Return the registration of a manage token or answer 404."""
    registration = services.find_registration_by_token(token)
    if registration is None:
        # An old link (replaced by "send me my link again") or a mistyped one: say where to get a new one.
        page = render_template(
            "errors/error.html",
            code=404,
            title=_("This link does not work"),
            message=_(
                "Private links stop working when a new one is sent. Open your event's page and choose "
                '"Already registered? Get the link to your registration again".'
            ),
        )
        abort(make_response(page, 404))
    return registration


@bp.route("/r/<token>", methods=["GET", "POST"])
def manage(token: str):  # type: ignore[no-untyped-def]
    """Show a registration to its owner and let them change their choices."""
    registration = _registration_or_404(token)
    event = registration.event
    form = _form_for(ChoicesForm, event, category=registration.category.value)
    now = utcnow()
    can_change = registration.status == RegistrationStatus.ACTIVE and event.is_registration_open(now)
    if not form.is_submitted():
        _fill_choices(form, registration)
    elif not can_change:
        form.form_errors.append(_("Changes are closed for this registration."))
    busy = False
    if form.is_submitted() and can_change and form.validate_on_submit():
        try:
            services.change_choices(registration, form.choices_data(), now=now)
        except RegistrationError as error:
            attach_error(form, error)
        except SQLAlchemyError as error:
            busy = _database_busy(error)
        else:
            flash(_("Your changes have been saved."), "success")
            return deliver_after_response(redirect(url_for(".manage", token=token), code=303))
    return _manage_page(registration, token, form, None, can_change, now, busy)


@bp.route("/r/<token>/answers", methods=["POST"])
def change_answers(token: str):  # type: ignore[no-untyped-def]
    """Save the participant's answers to the event's questions, while registration is open."""
    registration = _registration_or_404(token)
    event = registration.event
    now = utcnow()
    can_change = registration.status == RegistrationStatus.ACTIVE and event.is_registration_open(now)
    asked = questions.event_questions(event.id)
    answers_form = build_answers_form(asked, registration.category.value)
    busy = False
    if not can_change:
        answers_form.form_errors.append(_("Changes are closed for this registration."))
    elif answers_form.validate_on_submit():
        try:
            questions.change_answers(
                registration,
                [q for q, _name in answers_form.question_field_names],
                answers_form.answers_data(registration.category.value),
                now=now,
            )
        except RegistrationError as error:
            attach_error(answers_form, error)
        except SQLAlchemyError as error:
            busy = _database_busy(error)
        else:
            flash(_("Your answers have been saved."), "success")
            return redirect(url_for(".manage", token=token) + "#answers", code=303)
    form = _form_for(ChoicesForm, event, category=registration.category.value)
    _fill_choices(form, registration)
    return _manage_page(registration, token, form, answers_form, can_change, now, busy, asked)


def _fill_choices(form, registration) -> None:  # type: ignore[no-untyped-def]
    """Show the registration's current sessions and ranked choices in the choices form."""
    live = [b for b in registration.live_bookings]
    form.sessions.data = [b.session_id for b in live if b.session.booking_mode.value == "instant"]
    ranks = {p.session_id: p.rank for p in registration.preferences}
    for block, names in form.rank_field_names:
        chosen = sorted((ranks[s.id], s.id) for s in block.sessions if s.id in ranks)
        for name, (_rank, session_id) in zip(names, chosen):
            getattr(form, name).data = session_id


def _manage_page(registration, token, form, answers_form, can_change, now, busy=False, asked=None):  # type: ignore[no-untyped-def]
    """Render the manage page (422 after a refused form; ``busy``: the database refused it)."""
    event = registration.event
    asked = questions.event_questions(event.id) if asked is None else asked
    answers = questions.answers_of(registration.id) if asked else {}
    if answers_form is None and asked:
        answers_form = build_answers_form(asked, registration.category.value)
        answers_form.fill_answers(answers)
    page = render_template(
        "registration/manage.html",
        event=event,
        registration=registration,
        form=form,
        answers_form=answers_form,
        answers=answers,
        display_answer=questions.display_value,
        can_change=can_change,
        token=token,
        positions=waitlist_positions(registration.bookings),
        blocks=ranked_blocks(event.sessions),
        instant=instant_sessions(event.sessions),
        waiting=waitlist_counts(event.id),
        confirm_form=ConfirmForm(),
        ranking_closed=ranking_closed_reason(event, now),
        first_come=allocation_published(event.id),
        ranked_results=ranking_services.results_for(registration),
        busy_message=BUSY_FORM_MESSAGE if busy else None,
        checkin_qr=Markup(qr_svg(registration.checkin_code))  # noqa: S704 - segno's SVG of our own code
        if registration.status == RegistrationStatus.ACTIVE and registration.checkin_code
        else None,
    )
    submitted = form.is_submitted() and request.method == "POST"
    return busy_page(page) if busy else (page, 422 if submitted else 200)


@bp.route("/r/<token>/confirm", methods=["GET", "POST"])
def confirm_email(token: str):  # type: ignore[no-untyped-def]
    """Show a confirmation button (GET: mail scanners follow links) and confirm the registration (POST)."""
    registration = _registration_or_404(token)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            holds.confirm_registration(registration)
        except RegistrationError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("Thank you: your registration is confirmed."), "success")
        return redirect(url_for(".manage", token=token), code=303)
    return render_template(
        "registration/confirm_email.html",
        registration=registration,
        event=registration.event,
        form=form,
        token=token,
    )


@bp.route("/r/<token>/bookings/<int:booking_id>/cancel", methods=["GET", "POST"])
def cancel_booking(token: str, booking_id: int):  # type: ignore[no-untyped-def]
    """Ask for confirmation (GET) and cancel one booking (POST)."""
    registration = _registration_or_404(token)
    booking = next((b for b in registration.bookings if b.id == booking_id), None)
    form = ConfirmForm()
    # A second click of "cancel" (the place is cancelled by then) gets the answer the first got.
    if booking is not None and form.validate_on_submit():
        try:
            services.cancel_booking(registration, booking_id)
        except RegistrationError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("Your place has been cancelled."), "success")
        return deliver_after_response(redirect(url_for(".manage", token=token), code=303))
    if booking is None or booking.status not in LIVE_BOOKING_STATUSES:
        flash(_("This place is already cancelled."), "info")
        return redirect(url_for(".manage", token=token))
    return render_template(
        "registration/confirm_cancel.html",
        registration=registration,
        event=registration.event,
        booking=booking,
        form=form,
        token=token,
    )


@bp.route("/r/<token>/offers/<int:booking_id>/<any(accept, decline):action>", methods=["POST"])
def answer_offer(token: str, booking_id: int, action: str):  # type: ignore[no-untyped-def]
    """Accept or decline a place of a ranked workshop offered from the waiting list."""
    registration = _registration_or_404(token)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        if action == "accept":
            offers.accept_offer(registration, booking_id)
            flash(_("The place is yours: it is now confirmed."), "success")
        else:
            offers.decline_offer(registration, booking_id)
            flash(_("You declined the place; it goes to the next person waiting."), "info")
    except RegistrationError as error:
        flash(str(error.message), "danger")
    return deliver_after_response(redirect(url_for(".manage", token=token), code=303))


@bp.route("/r/<token>/cancel", methods=["GET", "POST"])
def cancel_registration(token: str):  # type: ignore[no-untyped-def]
    """Ask for confirmation (GET) and cancel the whole registration (POST)."""
    registration = _registration_or_404(token)
    form = ConfirmForm()
    # A second click (the registration is cancelled by then) gets the answer the first got.
    if form.validate_on_submit():
        try:
            services.cancel_registration(registration)
        except RegistrationError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("Your registration has been cancelled."), "success")
        return deliver_after_response(redirect(url_for(".manage", token=token), code=303))
    if registration.status != RegistrationStatus.ACTIVE:
        flash(_("This registration is already cancelled."), "info")
        return redirect(url_for(".manage", token=token))
    return render_template(
        "registration/confirm_cancel.html",
        registration=registration,
        event=registration.event,
        booking=None,
        form=form,
        token=token,
    )


@bp.route("/r/<token>/calendar.ics")
def calendar(token: str) -> Response:
    """Download the event and the booked sessions as an iCalendar file."""
    registration = _registration_or_404(token)
    domain = urlsplit(current_app.config["BASE_URL"]).hostname or "zapisy"
    body = registration_ics(registration, current_language(), domain, utcnow())
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{registration.event.slug}.ics"'},
    )
