"""Webhook URLs whose query carries a secret (`?sig=…`, `?token=…`, `?code=…`).

Such a URL is stored in two parts: `Recipient.url` with each secret value replaced by "…"
(what the API, the admin, logs and the uniqueness of an address see) and
`Recipient.url_query`, the query as given, encrypted at rest (common.fields). The transport
sends to `target_url`, the two put together. The same endpoint given again with another
secret value is a conflict (409), like another signing secret: nobody replaces the URL an
endpoint receives at by naming it again.
"""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit, urlunsplit

SECRET_NAMES = frozenset(
    {
        "sig", "signature", "token", "access_token", "auth", "secret", "client_secret", "key",
        "apikey", "api_key", "api-key", "code", "password", "pass", "pwd", "hmac",
    }
)  # fmt: skip
HIDDEN = "…"


def is_secret_name(name: str) -> bool:
    return name.strip().lower() in SECRET_NAMES


def split_secret_query(url: str) -> tuple[str, str]:
    """(the URL with secret values hidden, its query as given when it held one, else '')."""
    parts = urlsplit(url)
    fields = parts.query.split("&") if parts.query else []
    shown = [hidden(field) for field in fields]
    if shown == fields:
        return url, ""
    return urlunsplit(parts._replace(query="&".join(shown))), parts.query


def hidden(field: str) -> str:
    """One `name=value` of a query, its value hidden when the name says it is a secret."""
    name, equals, _ = field.partition("=")
    return f"{name}={HIDDEN}" if equals and is_secret_name(unquote_plus(name)) else field


def joined(url: str, query: str) -> str:
    """The URL to send to: the stored URL with its query as given (when it was kept apart)."""
    if not query:
        return url
    return urlunsplit(urlsplit(url)._replace(query=query))
