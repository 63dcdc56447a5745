"""docs/webhooks.md's verification snippet runs as printed: it defines what it uses (SECRET,
Forbidden), accepts a request signed with the endpoint's secret and refuses a forged one."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

DOC = Path(__file__).resolve().parents[1] / "docs" / "webhooks.md"
SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="


def snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    [library] = [block for block in blocks if "pip install standardwebhooks" in block]
    return library


def test_the_library_snippet_verifies_and_refuses_as_printed(monkeypatch):
    monkeypatch.setenv("LINKS_WEBHOOK_SECRET", SECRET)
    names: dict = {}
    exec(compile(snippet(), str(DOC), "exec"), names)  # noqa: S102 - the docs' own code

    body = b'{"type":"test","timestamp":"2026-12-01T08:00:03Z","data":{}}'
    now = datetime.now(UTC)
    signature = Webhook(SECRET).sign("msg_1", now, body.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    assert names["receive"](body, headers)["type"] == "test"
    with pytest.raises(names["Forbidden"]):
        names["receive"](body.replace(b"test", b"tost"), headers)
