"""The receipt of a registration just made: its private link, shown once on the success page.

The manage token is stored only as a hash, so the page after the form's
redirect can show the link only if the browser brings the token back. The
session cookie that carries it is signed but readable by anyone at the
browser, so the token goes in sealed for the server: XOR-ed with a keystream
of HMAC-SHA256 (a pseudo-random function) under a key derived from
``SECRET_KEY``, with a fresh random nonce per receipt; the cookie's signature
keeps it from being altered. A receipt is good for ``REGISTRATION_RECEIPT_SECONDS``
and only for the event it was made at, and the page that opens it takes it out
of the session (:func:`take_receipt`): a later visitor of the same browser
finds nothing. No database row and no write: the POST costs about what it did.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from flask import current_app

SESSION_KEY = "registration_receipt"
NONCE_BYTES = 16


def _key() -> bytes:
    """Return the receipts' own key, derived from the app's secret (so it signs nothing else)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"zapisy registration receipt v1", hashlib.sha256).digest()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    """Return ``length`` pseudo-random bytes for ``nonce``: HMAC-SHA256 in counter mode."""
    blocks = (
        hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        for counter in range(-(-length // 32))
    )
    return b"".join(blocks)[:length]


def _xor(data: bytes, pad: bytes) -> bytes:
    """Return ``data`` XOR ``pad`` (of the same length)."""
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def make_receipt(event_slug: str, token: str, now: datetime) -> dict[str, Any]:
    """Return a receipt of ``token`` for the session: sealed, for one event, until the configured lifetime ends."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    plain = token.encode("ascii")
    sealed = nonce + _xor(plain, _keystream(_key(), nonce, len(plain)))
    return {
        "event": event_slug,
        "sealed": base64.urlsafe_b64encode(sealed).decode("ascii"),
        "until": int(now.timestamp()) + int(current_app.config["REGISTRATION_RECEIPT_SECONDS"]),
    }


def keep_receipt(session: MutableMapping[str, Any], event_slug: str, token: str, now: datetime) -> None:
    """Put the receipt of ``token`` in ``session`` (replacing any earlier one)."""
    session[SESSION_KEY] = make_receipt(event_slug, token, now)


def take_receipt(session: MutableMapping[str, Any], event_slug: str, now: datetime) -> str | None:
    """Take the receipt out of ``session``; return its token if it is for ``event_slug`` and not expired."""
    receipt = session.pop(SESSION_KEY, None)
    if not isinstance(receipt, dict) or receipt.get("event") != event_slug:
        return None
    until = receipt.get("until")
    if not isinstance(until, int) or now.timestamp() >= until:
        return None
    try:
        sealed = base64.urlsafe_b64decode(str(receipt.get("sealed", "")))
    except (binascii.Error, ValueError):
        return None
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    if len(nonce) < NONCE_BYTES or not body:
        return None
    try:
        return _xor(body, _keystream(_key(), nonce, len(body))).decode("ascii")
    except UnicodeDecodeError:
        return None
