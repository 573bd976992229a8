"""The OpenAPI 3.1 description of the JSON API (app.api), served at /api/openapi.json.

Written by hand next to the code it describes; tests check it against the
OpenAPI schema, the app's routes and the real answers (tests/test_api.py).
"""

from __future__ import annotations

import copy
from typing import Any

from .events.models import BookingMode, EventStatus, ParticipantCategory, SessionKind

API_VERSION = "1.0.0"


def _values(enum: Any) -> list[str]:
    """Return the values of an enum, as the API writes them."""
    return [member.value for member in enum]


def _ref(name: str) -> dict[str, str]:
    """Return a reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


DATE_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with the UTC offset"}
COUNT = {"type": "integer", "minimum": 0}
BILINGUAL = {
    "type": "object",
    "description": "Polish and English text; English falls back to the Polish one when there is none.",
    "properties": {"pl": {"type": "string"}, "en": {"type": "string"}},
    "required": ["pl", "en"],
    "additionalProperties": False,
}

EVENT_FIELDS: dict[str, Any] = {
    "slug": {"type": "string", "description": "Identifier of the event in its URLs"},
    "series": {"type": "string", "description": "Identifier (slug) of the event's series"},
    "title": BILINGUAL,
    "edition": {"type": "string", "description": 'Edition label, e.g. "V"; may be empty'},
    "city": {"type": "string"},
    "venue": {"type": "string"},
    "starts_at": DATE_TIME,
    "ends_at": DATE_TIME,
    "registration_opens_at": {"oneOf": [DATE_TIME, {"type": "null"}]},
    "registration_closes_at": {"oneOf": [DATE_TIME, {"type": "null"}]},
    "status": {
        "type": "string",
        "enum": [s for s in _values(EventStatus) if s != EventStatus.DRAFT.value],
        "description": "published (registration may be open) or closed",
    },
    "registration_open": {"type": "boolean", "description": "Whether the form accepts registrations now"},
    "partners": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "url": {"type": ["string", "null"]}},
            "required": ["name", "url"],
            "additionalProperties": False,
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "EventSummary": {
        "type": "object",
        "description": "A public event (published or closed); drafts are never shown.",
        "properties": EVENT_FIELDS,
        "required": list(EVENT_FIELDS),
        "additionalProperties": False,
    },
    "EventList": {
        "type": "object",
        "properties": {"events": {"type": "array", "items": _ref("EventSummary")}},
        "required": ["events"],
        "additionalProperties": False,
    },
    "EventDetail": {
        "type": "object",
        "description": "A public event with its programme and the places of each session and group.",
        "properties": {**EVENT_FIELDS, "sessions": {"type": "array", "items": _ref("Session")}},
        "required": [*EVENT_FIELDS, "sessions"],
        "additionalProperties": False,
    },
    "Session": {
        "type": "object",
        "description": (
            "An item of the programme. Places held for registrations awaiting email confirmation "
            "are counted in places_left like confirmed ones, and shown apart as held."
        ),
        "properties": {
            "id": {"type": "integer", "description": "Stable identifier (also in the calendar feed's UID)"},
            "kind": {"type": "string", "enum": _values(SessionKind)},
            "title": BILINGUAL,
            "starts_at": DATE_TIME,
            "ends_at": DATE_TIME,
            "room": {"type": "string"},
            "booking_mode": {
                "type": "string",
                "enum": _values(BookingMode),
                "description": "instant: first come, first served; ranked: participants rank workshops, "
                "an allocation decides",
            },
            "eligible_categories": {
                "type": "array",
                "items": {"type": "string", "enum": _values(ParticipantCategory)},
                "description": "Who may book directly; empty means everyone",
            },
            "capacity": {"type": ["integer", "null"], "minimum": 0, "description": "null: unlimited"},
            "confirmed": COUNT,
            "held": COUNT,
            "waitlisted": COUNT,
            "places_left": {"type": ["integer", "null"], "minimum": 0, "description": "null: unlimited"},
            "groups": {"type": "array", "items": _ref("Group")},
        },
        "required": [
            "id",
            "kind",
            "title",
            "starts_at",
            "ends_at",
            "room",
            "booking_mode",
            "eligible_categories",
            "capacity",
            "confirmed",
            "held",
            "waitlisted",
            "places_left",
            "groups",
        ],
        "additionalProperties": False,
    },
    "Group": {
        "type": "object",
        "description": "A group of a session (a small group, a round table) with its own capacity.",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "room": {"type": "string"},
            "capacity": COUNT,
            "confirmed": COUNT,
            "held": COUNT,
            "places_left": COUNT,
        },
        "required": ["id", "name", "room", "capacity", "confirmed", "held", "places_left"],
        "additionalProperties": False,
    },
    "Problem": {
        "type": "object",
        "description": "An error (RFC 9457). title and detail are in the request's language (?lang=pl|en).",
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "integer"},
            "code": {
                "type": "string",
                "description": "Stable name of the error, e.g. not_found, invalid_parameter, method_not_allowed",
            },
            "title": {"type": "string"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "description": "For invalid_parameter: each parameter refused and why",
                "items": {
                    "type": "object",
                    "properties": {"parameter": {"type": "string"}, "detail": {"type": "string"}},
                    "required": ["parameter", "detail"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["type", "status", "code", "title", "detail"],
        "additionalProperties": False,
    },
}

VALIDATOR_HEADERS = {
    "ETag": {"description": "Digest of this answer", "schema": {"type": "string"}},
    "Last-Modified": {
        "description": "When the event's public data (programme, status, places) last changed",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "public, no-cache: keep it, but ask again each time",
        "schema": {"type": "string"},
    },
}
DEPRECATION_HEADERS = {
    "Deprecation": {"description": "RFC 9745: deprecated since this date", "schema": {"type": "string"}},
    "Link": {"description": 'The /api/v1 successor, rel="successor-version"', "schema": {"type": "string"}},
}
PARAMETERS: dict[str, Any] = {
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "An ETag received earlier: 304 when the answer is still the same",
        "schema": {"type": "string"},
    },
    "IfModifiedSince": {
        "name": "If-Modified-Since",
        "in": "header",
        "required": False,
        "description": "A Last-Modified received earlier: 304 when nothing changed since (If-None-Match wins)",
        "schema": {"type": "string"},
    },
    "Language": {
        "name": "lang",
        "in": "query",
        "required": False,
        "description": "Language of error messages; the data carries both languages",
        "schema": {"type": "string", "enum": ["pl", "en"]},
    },
    "Slug": {
        "name": "slug",
        "in": "path",
        "required": True,
        "description": "The event's identifier",
        "schema": {"type": "string"},
    },
    "Series": {
        "name": "series",
        "in": "query",
        "required": False,
        "description": "Only the events of this series (its slug); an unknown series is a 422",
        "schema": {"type": "string"},
    },
    "When": {
        "name": "when",
        "in": "query",
        "required": False,
        "description": "upcoming: not ended yet (soonest first); past: ended (newest first); all: both (default)",
        "schema": {"type": "string", "enum": ["all", "upcoming", "past"], "default": "all"},
    },
}


def _param(name: str) -> dict[str, str]:
    """Return a reference to a component parameter."""
    return {"$ref": f"#/components/parameters/{name}"}


def _problem(description: str) -> dict[str, Any]:
    """Return an error response."""
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _operation(
    operation_id: str,
    summary: str,
    schema: str,
    parameters: list[str],
    errors: dict[str, str],
    successor: str | None = None,
) -> dict[str, Any]:
    """Return a GET operation answering ``schema`` with validators (and 304); ``successor``: deprecated for it."""
    headers = {**VALIDATOR_HEADERS, **(DEPRECATION_HEADERS if successor else {})}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["events"],
        "parameters": [_param(p) for p in (*parameters, "Language", "IfNoneMatch", "IfModifiedSince")],
        "responses": {
            "200": {"description": "OK", "headers": headers, "content": {"application/json": {"schema": _ref(schema)}}},
            "304": {"description": "Not modified: the copy named by If-None-Match or If-Modified-Since is current"},
            **{code: _problem(text) for code, text in errors.items()},
            "default": _problem("Another error (405, 429, 500, 503), also as JSON"),
        },
    }
    if successor:
        operation["deprecated"] = True
        operation["description"] = f"The same answer as {successor}, which replaces it."
    return operation


def _paths() -> dict[str, Any]:
    """Return the API's paths: /api/v1, its description, and the deprecated unversioned paths."""
    paths: dict[str, Any] = {}
    for prefix in ("/api/v1", "/api"):
        deprecated = prefix != "/api/v1"
        suffix = "Deprecated" if deprecated else ""
        paths[f"{prefix}/events"] = {
            "get": _operation(
                f"listEvents{suffix}",
                "List public events",
                "EventList",
                ["Series", "When"],
                {"422": "A query parameter has a value the API does not accept"},
                "/api/v1/events" if deprecated else None,
            )
        }
        paths[f"{prefix}/events/{{slug}}"] = {
            "parameters": [_param("Slug")],
            "get": _operation(
                f"getEvent{suffix}",
                "One event with its programme and places left",
                "EventDetail",
                [],
                {"404": "No public event has this identifier (drafts are not public)"},
                "/api/v1/events/{slug}" if deprecated else None,
            ),
        }
    description = {
        "get": {
            "summary": "This description (OpenAPI 3.1)",
            "tags": ["meta"],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
            },
        }
    }
    paths["/api/v1/openapi.json"] = {"get": {**description["get"], "operationId": "openapi"}}
    paths["/api/openapi.json"] = {"get": {**description["get"], "operationId": "openapiLatest"}}
    return paths


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Zapisy public API",
        "version": API_VERSION,
        "summary": "Public events, their programmes and places left. No personal data.",
        "description": (
            "Read-only and open to anyone. Paths under /api/v1 are stable: fields may be added, none "
            "removed or changed. The first paths without a version (/api/events, /api/events/{slug}) "
            "answer the same, with a Deprecation header and a Link to their /api/v1 successor. Every "
            "error under /api/ is JSON (RFC 9457). Answers carry ETag and Last-Modified: send "
            "If-None-Match (or If-Modified-Since) to get a 304 while nothing changed. Each event's "
            "programme is also a calendar feed: /events/{slug}/programme.ics, and each series' "
            "/series/{slug}/programme.ics."
        ),
        "license": {"name": "MIT", "identifier": "MIT"},
    },
    "servers": [{"url": "/", "description": "This site"}],
    "tags": [{"name": "events", "description": "Events and availability"}, {"name": "meta"}],
    "paths": _paths(),
    "components": {"schemas": SCHEMAS, "parameters": PARAMETERS},
}


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI description (a copy: callers may change it)."""
    return copy.deepcopy(DOCUMENT)
