"""Keep signatures and secrets out of logs, errors and admin pages."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    # SigV4 / SigV2 / CloudFront query signatures: keep 6 characters to tell links apart
    (
        re.compile(r"((?:X-Amz-Signature|Signature)=)([A-Za-z0-9%~_\-]{6})[A-Za-z0-9%~_\-]+"),
        r"\1\2…",
    ),
    (re.compile(r"(X-Amz-Security-Token=)[^&\s\"']+"), r"\1…"),
    (re.compile(r"\b(whsec_)[A-Za-z0-9+/=]+"), r"\1…"),
    (re.compile(r"(v1,)[A-Za-z0-9+/]{6}[A-Za-z0-9+/=]+"), r"\1…"),
    # permalink tokens in request paths ("Not Found: /l/<token>")
    (re.compile(r"(/l/)([A-Za-z0-9_\-]{6})[A-Za-z0-9_\-]+"), r"\1\2…"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
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
