"""Keep signatures and secrets out of logs, errors and admin pages, in whatever encoding.

Each secret is recognised by what comes before it, written plainly, percent-encoded any
number of times (a pre-signed URL in `?next=`, encoded again by a proxy), JSON-escaped or
HTML-escaped: SigV4/SigV2/CloudFront signatures, session tokens, the access key id of
credentials, webhook secrets (`whsec_`) and signatures (`v1,`), permalink tokens
(`/l/<token>`), and values labelled as secrets (`password=`, `Authorization: Bearer`).
Secrets with no telling prefix (the base64 body of a webhook secret) are recognised by
value: a process remembers those it used (remember_secret) and redacts them in any of
those encodings.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote

# "=" "/" "," and "_" as written plainly, percent-encoded n times, JSON-escaped (\u003d,
# \/) or HTML-escaped (&#61; &#x3d; &equals;, ...)
EQ = r"(?:=|%(?:25)*3[dD]|\\u003[dD]|&#0*61;|&#[xX]0*3[dD];|&equals;)"
SLASH = r"(?:/|%(?:25)*2[fF]|\\/|\\u002[fF]|&#0*47;|&#[xX]0*2[fF];|&sol;)"
COMMA = r"(?:,|%(?:25)*2[cC]|\\u002[cC]|&#0*44;|&#[xX]0*2[cC];|&comma;)"
UNDERSCORE = r"(?:_|%(?:25)*5[fF]|\\u005[fF]|&#0*95;|&#[xX]0*5[fF];|&lowbar;)"
ENCODED = r"%(?:25)*[0-9A-Fa-f]{2}"  # one byte, percent-encoded n times
TOKEN_CHAR = rf"(?:[A-Za-z0-9_\-]|{ENCODED})"  # a permalink token's, maybe percent-encoded
ELL = r"(?:l|%(?:25)*6[cC])"  # the "l" of /l/, maybe percent-encoded (the server decodes it)
AMP = r"(?:&|%(?:25)*26)"
KEEP = 6  # characters kept to tell links apart

_PATTERNS = [
    # SigV4 / SigV2 / CloudFront signatures (query or Authorization header)
    (
        rf"((?:X-Amz-)?Signature{EQ})([A-Za-z0-9~_\-]{{{KEEP}}})(?:[A-Za-z0-9~_\-]|{ENCODED})+",
        r"\1\2…",
    ),
    (rf"(X-Amz-Security-Token{EQ})(?:(?!{AMP})(?:[A-Za-z0-9+/=_\-]|{ENCODED}))+", r"\1…"),
    # the access key id: a short prefix only (the scope after it says date and region)
    (rf"((?:X-Amz-)?Credential{EQ}|AWSAccessKeyId{EQ})([A-Za-z0-9]{{4}})[A-Za-z0-9]+", r"\1\2…"),
    (r"\b((?:AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA))[A-Z0-9]{12,}\b", r"\1…"),
    (rf"\b(whsec{UNDERSCORE})(?:[A-Za-z0-9+/=]|{ENCODED}|\\/|\\u002[bB])+", r"\1…"),
    (rf"\b(v1{COMMA})[A-Za-z0-9+/]{{6}}(?:[A-Za-z0-9+/=]|{ENCODED}|\\/)+", r"\1…"),
    # permalink tokens in paths ("Not Found: /l/<token>", "?next=%2Fl%2F<token>", "/%6C/<t>",
    # "/l/%4C%62<...>": a server decodes both to the same link)
    (rf"({SLASH}{ELL}{SLASH})({TOKEN_CHAR}{{{KEEP}}}){TOKEN_CHAR}+", r"\1\2…"),
    # API tokens (ld_ and 43 URL-safe characters), wherever they show up unlabelled
    (rf"\b(ld{UNDERSCORE}[A-Za-z0-9_\-]{{2}})[A-Za-z0-9_\-]{{16,}}", r"\1…"),
    # the password of a URL's credentials: smtp://user:password@host, redis://:password@host
    (r"(?i)(\b[a-z][a-z0-9+.\-]*://[^\s:/@\"'<>]*:)[^\s/@\"'<>]+@", r"\1…@"),
    # values labelled as secrets: password=…, "client_secret": "…", Authorization: Bearer …
    (
        r"(?i)(\b(?:[a-z]+[_-])?(?:secret|password|passwd|token|api[_-]?key|sig)[\"']?\s*"
        rf"(?::|{EQ})\s*[\"']?|\bauthorization[\"']?\s*[:=]\s*[\"']?"
        r"(?:(?:bearer|token|basic)\s+)?)([^\s\"'&,;<>\\…]{2})[^\s\"'&,;<>\\…]+",
        r"\1\2…",
    ),
]
_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in _PATTERNS]

# Runs of base64 (standard or URL-safe), possibly percent-encoded: candidates for a secret
_BASE64_RUN = re.compile(
    rf"(?:[A-Za-z0-9+/_\-]|{ENCODED}|\\/)+(?:={{1,2}}|(?:%(?:25)*3[dD]){{1,2}})?"
)
_MIN_BODY = 32  # the base64 body of a webhook secret's 24 bytes and more
_MAX_REMEMBERED = 100_000
_remembered: dict[str, None] = {}  # base64 bodies; insertion-ordered, the oldest go first
_lock = threading.Lock()


def _body(text: str) -> str:
    """A secret or a run of text as plain standard base64 without padding or prefix."""
    for _ in range(3):
        text = unquote(text)
    text = text.replace("\\/", "/").removeprefix("whsec_")
    return text.replace("-", "+").replace("_", "/").rstrip("=")


def remember_secret(secret: str) -> None:
    """Redact this secret's base64 body, in any encoding, wherever it shows up later here."""
    body = _body(secret)
    if len(body) < _MIN_BODY or body in _remembered:
        return
    with _lock:
        if len(_remembered) >= _MAX_REMEMBERED:
            del _remembered[next(iter(_remembered))]
        _remembered[body] = None


def _known(match: re.Match[str]) -> str:
    run = match.group()
    return "…" if len(run) >= _MIN_BODY and _body(run) in _remembered else run


def redact(text: str) -> str:
    if not text:
        return text
    if _remembered:
        text = _BASE64_RUN.sub(_known, text)
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
