"""The OpenAPI document's `webhooks` section (OAS 3.1), made from the event catalog.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): each
event type becomes a webhook whose request body is its schema from notifications/schemas/,
added to the components.
"""

from __future__ import annotations

from typing import Any

from notifications import catalog

GUIDE = "docs/webhooks.md"
HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^msg_[0-9a-f]{32}$"},
        "description": "The delivery's id, the same on every retry and replay: deduplicate on it.",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "description": "Unix seconds when this attempt was signed; refuse one over 5 minutes off.",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": (
            "`v1,<base64>` HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` with the "
            "endpoint's secret; several, space separated, while a secret is being rotated."
        ),
    },
]
RESPONSES = {
    "2XX": {"description": "Delivered; it is not sent again."},
    "410": {
        "description": "Gone: the endpoint is disabled and nothing more is sent until it is "
        "enabled again (POST /api/recipients/{id}/enable/)."
    },
    "default": {
        "description": "408, 429, 5xx, a timeout or a connection error: retried on a growing "
        "schedule (Retry-After honoured). 3xx and other 4xx: the delivery fails, no retry."
    },
}


def webhook(event_type: str) -> dict[str, Any]:
    """The Path Item of one event: the POST a subscribed endpoint receives."""
    schema = catalog.event_schema(event_type)
    component = catalog.COMPONENT_NAMES[event_type]
    return {
        "post": {
            "operationId": "webhook_" + event_type.replace(".", "_"),
            "summary": f"The `{event_type}` event",
            "description": f"{schema['description']} Consumer guide: {GUIDE}.",
            "tags": ["webhooks"],
            "parameters": HEADERS,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}
                },
            },
            "responses": RESPONSES,
            "security": [],
        }
    }


def add_webhooks(
    result: dict[str, Any], generator: Any, request: Any, public: Any
) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {}).update(catalog.components())
    result["webhooks"] = {event_type: webhook(event_type) for event_type in catalog.EVENT_TYPES}
    return result
