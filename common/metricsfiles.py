"""Where this host's processes write their metric files, and clearing the files of dead ones.

PROMETHEUS_MULTIPROC_DIR present but empty (as `cp .env.example .env` gives) means unset:
prometheus_client tests the variable's presence, not its value, and would write its
`counter_*.db` files into the working directory. `directory()` removes such an empty variable
from the environment before prometheus_client reads it.

Files are named `<kind>_<host>-<pid>.db` (see common/metrics.py). prometheus_client's docs ask
for the directory to be cleared between runs: `clear_dead()`, called when gunicorn's master,
a Celery worker or beat starts, removes this host's files whose process is gone (files of
live processes, and of other hosts sharing the directory, stay).
"""

from __future__ import annotations

import logging
import os
import re
import socket
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_FILE = re.compile(r"^[a-z_]+_(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.db$")

logger = logging.getLogger(__name__)


def directory() -> str | None:
    """The multiprocess directory, or None when the variable is unset or blank (then removed)."""
    value = os.environ.get(VARIABLE)
    if value is not None and not value.strip():
        del os.environ[VARIABLE]
        return None
    return value


def host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())


def identifier(pid: int) -> str:
    """The process identifier files carry: host name and process id."""
    return f"{host()}-{pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_files(path: Path, this_host: str) -> list[Path]:
    """This host's metric files in `path` whose process no longer runs."""
    found = []
    for file in sorted(path.glob("*.db")):
        match = _FILE.match(file.name)
        if match and match["host"] == this_host and not _alive(int(match["pid"])):
            found.append(file)
    return found


def clear_dead() -> int:
    """Remove this host's files of dead processes from the directory; the number removed."""
    path = directory()
    if not path or not Path(path).is_dir():
        return 0
    removed = 0
    for file in dead_files(Path(path), host()):
        file.unlink(missing_ok=True)
        removed += 1
    if removed:
        logger.info("metrics: removed %d file(s) of dead processes from %s", removed, path)
    return removed
