"""Back-office home: the list of events an account may see, and the audit log for administrators."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..audit.services import page_of_entries
from ..auth.models import Role
from ..auth.services import visible_events
from ..labels import AUDIT_ACTION_LABELS, audit_details
from .access import protect, roles_required

bp = protect(Blueprint("admin", __name__, url_prefix="/admin"))

# The audit log's filters: their names in the URL, their labels, and the actions they show (None: all).
AUDIT_FILTERS = {
    "all": (_l("Everything"), None),
    "logins": (_l("Logins"), ("account.login", "account.login_failed", "account.logout")),
    "accounts": (
        _l("Accounts"),
        (
            "account.created",
            "account.enabled",
            "account.disabled",
            "account.event_assigned",
            "account.event_unassigned",
            "account.password_changed",
            "account.password_set",
            "account.password_reset_requested",
            "account.password_reset",
        ),
    ),
    "privacy": (
        _l("Personal data"),
        (
            "gdpr_erase",
            "gdpr_purge",
            "registration.marketing_consent_given",
            "registration.marketing_consent_withdrawn",
        ),
    ),
}

# Who did it, for the actors that are not accounts (accounts show as their email).
ACTOR_LABELS = {
    "system": _l("the system"),
    "participant": _l("the participant"),
    "anonymous": _l("someone not logged in"),
    "cli": _l("the command line"),
    "retention": _l("the retention purge"),
}

# Why a login was refused (the "reason" of a failed login's entry).
LOGIN_FAILURE_LABELS = {
    "unknown_account": _l("no account has this email"),
    "wrong_password": _l("wrong password"),
    "disabled": _l("account disabled"),
}


@bp.route("/")
def index():  # type: ignore[no-untyped-def]
    """List the events this account may see."""
    return render_template("admin/index.html", events=visible_events(current_user))


@bp.route("/audit")
@roles_required(Role.ADMIN)
def audit_log():  # type: ignore[no-untyped-def]
    """List the audit log of every area, newest first, logins included."""
    kind = request.args.get("kind", "all")
    if kind not in AUDIT_FILTERS:
        kind = "all"
    page = request.args.get("page", 1, type=int) or 1
    return render_template(
        "admin/audit.html",
        pagination=page_of_entries(page, actions=AUDIT_FILTERS[kind][1]),
        kind=kind,
        filters=AUDIT_FILTERS,
        audit_labels=AUDIT_ACTION_LABELS,
        audit_details=audit_details,
        actor_labels=ACTOR_LABELS,
        login_failure_labels=LOGIN_FAILURE_LABELS,
        page_url=lambda number: url_for(".audit_log", kind=kind, page=number),
    )
