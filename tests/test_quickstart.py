"""The README's quickstarts, run as written against the stack `make dev` starts.

The stack: `make dev` itself (its install step taken as done), i.e. scripts/dev.sh with
dev.env: the database created, the Procfile's `release` first, then web, the four worker pools
and beat from the Procfile's lines under honcho. The environment changes only what must differ
for a test run beside others (a database, queues, a bucket and ports of its own), as "the
environment wins" lets any user do.

The commands: every ```sh block of the README's "Quickstarts" section but `make dev`, in order,
each run by bash as printed, in one shell session (variables carry over). Three readings a
person makes are made here too, and nothing else is changed:
- the stack's address: the README's http://127.0.0.1:8000 is this run's port;
- `export NAME=…` takes what the answer just above shows: the printed token, or the answer's id;
- `# → 201 {…}` is the answer to check: its status, and each "key": value it shows (a value
  with `…` in it, or an id, only says the key is there). A GET is asked again for a while when
  its answer is not yet the one shown ("a moment later").
curl's status code is read with `-w`, added by a shell function around curl.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from tests.services.ports import free_port
from tests.services.procfile_stack import wait_until

pytestmark = [pytest.mark.s3, pytest.mark.worker]

ROOT = Path(__file__).resolve().parents[1]
README_ADDRESS = "127.0.0.1:8000"
STATUS = "\n__status__ "
PAIR = re.compile(r'"(\w+)": ("(?:[^"\\]|\\.)*"|-?\d+|true|false|null)')
VARYING = {"id", "recipient"}  # ids differ from run to run
WRITE_OUT = STATUS.replace("\n", "\\n") + "%{http_code}\\n"  # curl's -w reads \n
CURL = f'curl() {{ command curl -w "{WRITE_OUT}" "$@"; }}'


@dataclass
class Step:
    command: str
    expected: str = ""

    @property
    def takes(self) -> str | None:
        """NAME for `export NAME=…`: a value the reader copies from the answer above."""
        found = re.fullmatch(r"export (\w+)=…\s*(#.*)?", self.command.strip())
        return found.group(1) if found else None


def quickstart_blocks(readme: str) -> list[str]:
    section = readme.split("\n## Quickstarts\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [block for block in blocks if block.strip() != "make dev"]


def complete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on
        return False
    return True


def steps(block: str) -> list[Step]:
    found: list[Step] = []
    pending = ""
    for line in block.splitlines():
        comment = line.lstrip()
        if not pending and comment.startswith("#"):
            if comment.startswith("# →"):
                found[-1].expected = comment[3:].strip()
            elif found and found[-1].expected and comment.startswith("#  "):
                found[-1].expected += " " + comment[1:].strip()
            continue
        pending = f"{pending}\n{line}" if pending else line
        if complete(pending):
            found.append(Step(pending))
            pending = ""
    assert not pending, f"unfinished command in the README: {pending!r}"
    return found


def pairs(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, inner
            yield from pairs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from pairs(inner)


def mismatches(expected: str, status: int | None, body: str) -> list[str]:
    """What the answer lacks of the one the README shows (empty: it matches)."""
    wanted = re.match(r"(\d{3})\b\s*(.*)", expected)
    assert wanted, f"an answer in the README without a status: {expected!r}"
    problems = [] if status == int(wanted.group(1)) else [f"status {status}, not {wanted[1]}"]
    try:
        given = list(pairs(json.loads(body)))
    except ValueError:
        return [*problems, f"not JSON: {body[:200]!r}"]
    keys = {key for key, _ in given}
    for key, shown in PAIR.findall(wanted.group(2)):
        if "…" in shown or key in VARYING:
            problems += [] if key in keys else [f"no {key!r}"]
        elif (key, json.loads(shown)) not in given:
            problems.append(f"{key}: {shown} not in the answer")
    return problems


class Terminal:
    """The reader's second terminal: one bash session, its variables kept between commands."""

    def __init__(self, env: dict[str, str], state: Path, port: int) -> None:
        self.env, self.state, self.port = env, state, port
        state.write_text("")
        self.stdout = ""

    def run(self, command: str) -> tuple[int, int | None, str]:
        command = command.replace(README_ADDRESS, f"127.0.0.1:{self.port}")
        script = (
            f"source {self.state}\n{CURL}\n{command}\nrc=$?\ndeclare -px > {self.state}\nexit $rc"
        )
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        body, _, status = done.stdout.rpartition(STATUS)
        if not _:
            body, status = done.stdout, ""
        self.stdout = body.strip()
        assert done.returncode == 0, f"{command}\n→ {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.returncode, int(status) if status.strip() else None, self.stdout

    def export(self, name: str, value: str) -> None:
        with self.state.open("a") as state:
            state.write(f"export {name}={shlex.quote(value)}\n")


def server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/linkdist")


@pytest.fixture
def overrides(s3_server, tmp_path) -> Iterator[dict[str, str]]:
    """What differs from dev.env for this run; the database is left for make dev to create."""
    run = uuid.uuid4().hex[:8]
    parts = urlsplit(server_url())
    database = f"{parts.path.lstrip('/')}_quickstart_{run}"
    port = free_port()
    values = {
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{database}")),
        "PORT": str(port),
        "LINKS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "EMAIL_URL": f"smtp://127.0.0.1:{free_port()}",
        "CELERY_QUEUE_PREFIX": f"qs-{run}-",
        "CELERY_TASK_DEFAULT_QUEUE": f"qs-{run}",
        "CACHE_KEY_PREFIX": f"qs-{run}",
        "DJANGO_AWS_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "DJANGO_AWS_STORAGE_BUCKET_NAME": f"quickstart-{run}",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    yield values
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def base_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
    }


@pytest.fixture
def make_dev(overrides, tmp_path) -> Iterator[subprocess.Popen[bytes]]:
    venv = Path(sys.executable).parent.parent
    log = (tmp_path / "make-dev.log").open("wb")
    stack = subprocess.Popen(
        ["make", "-o", f"{venv}/.installed", "dev", f"PY={sys.executable}", f"VENV={venv}"],
        cwd=ROOT,
        env={**base_env(), **overrides},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    logged = tmp_path / "make-dev.log"
    try:
        wait_until(
            lambda: stack.poll() is None and healthy(overrides["PORT"]),
            timeout=180,
            what=f"make dev's /healthz 200\n{logged.read_text(errors='replace')[-4000:]}",
        )
        yield stack
    finally:
        stop(stack, logged)
        (ROOT / "links.csv").unlink(missing_ok=True)


def healthy(port: str) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    except requests.RequestException:
        return False


def stop(stack: subprocess.Popen[bytes], log: Path) -> None:
    """Ctrl-C's signal to make dev's group; then whatever honcho started, by its pids."""
    os.killpg(stack.pid, signal.SIGINT)
    try:
        stack.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(stack.pid, signal.SIGKILL)
        stack.wait()
    for pid in re.findall(r"started \(pid=(\d+)\)", log.read_text(errors="replace")):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGKILL)


def test_the_quickstart_parses_into_checked_steps():
    all_steps = [
        step
        for block in quickstart_blocks((ROOT / "README.md").read_text())
        for step in steps(block)
    ]
    shown = [step for step in all_steps if step.expected]
    assert len(shown) >= 8 and any("201" in step.expected for step in shown)
    assert [step.takes for step in all_steps if step.takes] == [
        "TOKEN",
        "HOOK",
        "BATCH",
        "SCHEDULE",
    ]


def test_the_readme_quickstart_works_as_written_against_make_dev(make_dev, overrides, tmp_path):
    terminal = Terminal(
        {**base_env(), **overrides}, tmp_path / "shell-state", int(overrides["PORT"])
    )
    mail_log = ROOT / ".dev" / "mail.log"
    mail_before = mail_log.stat().st_size if mail_log.exists() else 0
    answer = ""
    for block in quickstart_blocks((ROOT / "README.md").read_text()):
        for step in steps(block):
            if step.takes:
                value = answer if step.takes == "TOKEN" else str(json.loads(answer)["id"])
                terminal.export(step.takes, value)
                continue
            _, status, answer = terminal.run(step.command)
            if step.expected:
                check_answer(terminal, step, status, answer)
                answer = terminal.stdout
            else:
                assert status is None or status < 400, f"{step.command}\n→ {status} {answer}"

    exported = (ROOT / "links.csv").read_text()
    assert exported.startswith('"key","url","expires_at","permalink","status"')
    assert "reports/2026/q1.csv" in exported and "reports/2026/q2.csv" in exported
    wait_until(
        lambda: (
            "finance@example.com" in mail_log.read_bytes()[mail_before:].decode(errors="replace")
        ),
        timeout=60,
        what="the scheduled report's e-mail in make dev's mail sink",
    )


def check_answer(terminal: Terminal, step: Step, status: int | None, answer: str) -> None:
    problems = mismatches(step.expected, status, answer)
    asks_again = " -X " not in step.command and time.monotonic()
    deadline = time.monotonic() + 60
    while problems and asks_again and time.monotonic() < deadline:
        time.sleep(1)
        _, status, answer = terminal.run(step.command)
        problems = mismatches(step.expected, status, answer)
    assert not problems, (
        f"{step.command}\n→ {status} {answer[:1500]}\nREADME: {step.expected}\n{problems}"
    )
