"""Consent to news about future events: withdrawn (or given again) from the private link, audited, exported."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import utcnow
from app.registration import gdpr, services
from app.registration.errors import ConsentNotRenewable, RegistrationErased
from app.registration.models import Registration
from tests.conftest import csrf_token


@pytest.fixture
def signed_up(make_event, make_session, participant):  # type: ignore[no-untyped-def]
    """Return a helper registering someone (with consent to news unless told) and returning (registration, token)."""

    def helper(event=None, marketing: bool = True):  # type: ignore[no-untyped-def]
        event = event or make_event()
        session = make_session(event)
        result = services.register(
            event, participant(has_marketing_consent=marketing), services.Choices(session_ids=[session.id])
        )
        return result.registration, result.token

    return helper


def _reloaded(db, registration_id: int) -> Registration:  # type: ignore[no-untyped-def]
    """Read the registration as committed."""
    db.session.rollback()
    return db.session.get(Registration, registration_id, populate_existing=True)


def _consent_entries(db, registration_id: int) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    """Return the registration's consent entries of the audit log, oldest first."""
    return list(
        db.session.execute(
            select(AuditEntry)
            .where(AuditEntry.registration_id == registration_id, AuditEntry.action.like("registration.marketing%"))
            .order_by(AuditEntry.id)
        ).scalars()
    )


def _post(client, token: str, action: str, follow: bool = False):  # type: ignore[no-untyped-def]
    """Press the consent button of the manage page."""
    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    return client.post(
        f"/r/{token}/marketing/{action}", data={"csrf_token": csrf_token(page.text)}, follow_redirects=follow
    )


def test_the_consent_given_on_the_form_has_its_time(db, signed_up):
    registration, _token = signed_up()
    registration = _reloaded(db, registration.id)
    assert registration.has_marketing_consent and registration.marketing_consent_at == registration.consent_at
    without, _token = signed_up(marketing=False)
    assert _reloaded(db, without.id).marketing_consent_at is None


def test_participant_withdraws_and_gives_again_the_consent_from_the_private_link(client, db, signed_up):
    registration, token = signed_up()
    client.get("/language/en")
    assert "Withdraw my consent" in client.get(f"/r/{token}").text

    response = _post(client, token, "withdraw")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/r/{token}#personal-data")
    page = client.get(response.headers["Location"])
    assert "we will not send you news about future events" in page.text
    assert "I want to receive news about future events" in page.text
    withdrawn = _reloaded(db, registration.id)
    assert not withdrawn.has_marketing_consent and withdrawn.marketing_consent_at is not None
    [entry] = _consent_entries(db, registration.id)
    assert entry.action == "registration.marketing_consent_withdrawn"
    assert entry.actor_label == "participant" and entry.actor_id is None
    assert entry.event_id == registration.event_id and entry.details == {"source": "private link"}

    page = _post(client, token, "give", follow=True)
    assert "we will send you news about future events" in page.text
    assert _reloaded(db, registration.id).has_marketing_consent
    assert [e.action for e in _consent_entries(db, registration.id)] == [
        "registration.marketing_consent_withdrawn",
        "registration.marketing_consent_given",
    ]


def test_withdrawing_twice_changes_nothing_more(client, db, signed_up):
    registration, token = signed_up()
    _post(client, token, "withdraw")
    first = _reloaded(db, registration.id).marketing_consent_at
    _post(client, token, "withdraw")
    assert _reloaded(db, registration.id).marketing_consent_at == first
    assert len(_consent_entries(db, registration.id)) == 1


def test_the_consent_buttons_need_the_csrf_token(client, db, signed_up):
    registration, token = signed_up()
    assert client.post(f"/r/{token}/marketing/withdraw").status_code == 400
    assert client.post(f"/r/{token}/marketing/withdraw", data={"csrf_token": "forged"}).status_code == 400
    assert client.get(f"/r/{token}/marketing/withdraw").status_code == 405
    assert _reloaded(db, registration.id).has_marketing_consent
    assert _consent_entries(db, registration.id) == []


def test_an_unknown_action_or_token_is_not_found(client, signed_up):
    _registration, token = signed_up()
    page = client.get(f"/r/{token}")
    data = {"csrf_token": csrf_token(page.text)}
    assert client.post(f"/r/{token}/marketing/maybe", data=data).status_code == 404
    assert client.post("/r/not-a-token/marketing/withdraw", data=data).status_code == 404


def test_consent_can_be_withdrawn_after_the_event_with_registration_closed(client, db, signed_up, make_event):
    event = make_event()
    registration, token = signed_up(event)
    now = utcnow()
    event.registration_closes_at = now - timedelta(days=12)
    event.starts_at, event.ends_at = now - timedelta(days=10), now - timedelta(days=9)
    db.session.commit()
    assert _post(client, token, "withdraw").status_code == 303
    assert not _reloaded(db, registration.id).has_marketing_consent
    assert _post(client, token, "give").status_code == 303
    assert _reloaded(db, registration.id).has_marketing_consent


def test_a_cancelled_registration_can_withdraw_but_not_give_consent(client, db, signed_up):
    registration, token = signed_up()
    services.cancel_registration(registration)
    client.get("/language/en")
    page = client.get(f"/r/{token}")
    assert "Withdraw my consent" in page.text
    form = {"csrf_token": csrf_token(page.text)}
    client.post(f"/r/{token}/marketing/withdraw", data=form)
    assert not _reloaded(db, registration.id).has_marketing_consent
    page = client.get(f"/r/{token}")
    assert "We do not send you news about future events." in page.text
    assert "I want to receive news" not in page.text  # no button to give it

    # A form sent from a page opened before the cancellation.
    page = client.post(f"/r/{token}/marketing/give", data=form, follow_redirects=True)
    assert "consent to news about future events can no longer be given" in page.text
    assert not _reloaded(db, registration.id).has_marketing_consent
    assert len(_consent_entries(db, registration.id)) == 1


def test_an_erased_registration_is_refused(client, db, signed_up):
    registration, token = signed_up()
    page = client.get(f"/r/{token}")
    gdpr.erase_registration(registration)
    response = client.post(f"/r/{token}/marketing/give", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 404  # the private link died with the data
    # A request that found the registration just before the erasure committed.
    stale = _reloaded(db, registration.id)
    for given in (True, False):
        with pytest.raises(RegistrationErased):
            gdpr.set_marketing_consent(stale, given=given)
    erased = _reloaded(db, registration.id)
    assert not erased.has_marketing_consent and erased.marketing_consent_at is None
    assert _consent_entries(db, registration.id) == []


def test_giving_consent_from_a_cancelled_registration_is_refused_by_the_service(db, signed_up):
    registration, _token = signed_up(marketing=False)
    services.cancel_registration(registration)
    with pytest.raises(ConsentNotRenewable):
        gdpr.set_marketing_consent(_reloaded(db, registration.id), given=True)
    assert gdpr.set_marketing_consent(_reloaded(db, registration.id), given=False) is False


def test_the_data_export_shows_the_consent_and_its_time(client, db, signed_up):
    registration, token = signed_up()
    _post(client, token, "withdraw")
    consent = json.loads(client.get(f"/r/{token}/data.json").data)["registration"]["consent"]
    withdrawn_at = _reloaded(db, registration.id).marketing_consent_at
    assert consent["marketing"] is False and consent["marketing_at"] == withdrawn_at.isoformat()


def test_the_organisers_see_the_change_in_the_registrations_trail(client, db, signed_up, make_organiser):
    from tests.conftest import login

    registration, token = signed_up()
    _post(client, token, "withdraw")
    organiser = make_organiser("organiser", events=[registration.event])
    client.get("/language/en")
    login(client, organiser)
    page = client.get(f"/admin/events/{registration.event_id}/registrations/{registration.id}")
    assert page.status_code == 200 and "Consent to news withdrawn" in page.text
