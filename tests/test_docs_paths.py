"""The docs name the code as it is (item 9 of issue 23): every file, folder and module the
README and docs/ point at exists, docs/architecture.md names every package and every room of
tasks/, and its table has one row per import contract. The upgrade note and the CHANGELOG
are history (they may name what was renamed) and are not read here."""

from __future__ import annotations

import importlib
import re
import tomllib

from tests.procfile import ROOT
from tests.test_upgrading import registered_task_names

ARCHITECTURE = ROOT / "docs" / "architecture.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HISTORY = {"upgrading.md"}
CHECK_ID = re.compile(r"\.[EW]\d{3}$")  # system checks: tasks.W011, access.E001
NOT_ROOMS = {"migrations", "templates", "__pycache__"}


def import_linter() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(config["tool"]["importlinter"])


def packages() -> list[str]:
    return list(import_linter()["root_packages"])


def references() -> list[tuple[str, str]]:
    """(page:line, `quoted` text) for each quoted name that starts with a package's name."""
    first = re.compile(r"^({})[./]".format("|".join(packages())))
    found = []
    for page in PAGES:
        if page.name in HISTORY:
            continue
        for number, line in enumerate(page.read_text().splitlines(), 1):
            for quoted in re.findall(r"`([^`\s]+)`", line):
                name = re.split(r"[(:]", quoted)[0]
                if first.match(name):
                    found.append((f"{page.name}:{number}", name))
    return found


def resolves(dotted: str) -> bool:
    """A module, or a name defined in one (`tasks.batches.issuing.create_batch`)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for part in parts[end:]:
            if not hasattr(found, part):
                return False
            found = getattr(found, part)
        return True
    return False


def bare_file_names() -> list[tuple[str, str]]:
    """(page:line, name) for each quoted `something.py` given without its folder."""
    found = []
    for page in PAGES:
        if page.name in HISTORY:
            continue
        for number, line in enumerate(page.read_text().splitlines(), 1):
            found += [(f"{page.name}:{number}", n) for n in re.findall(r"`(\w+\.py)`", line)]
    return found


def test_every_path_the_docs_name_exists():
    missing = [
        (where, name)
        for where, name in references()
        if "/" in name and not (ROOT / name.rstrip("/")).exists()
    ]
    assert missing == []


def test_every_module_the_docs_name_exists():
    tasks = registered_task_names()
    dotted = [
        (where, name)
        for where, name in references()
        if "/" not in name and not name.endswith(".py")  # `tasks.py`: a file, read below
    ]
    assert dotted, "the docs name modules such as `notifications.outbox.publish`"
    unknown = [
        (where, name)
        for where, name in dotted
        if name not in tasks and not CHECK_ID.search(name) and not resolves(name)
    ]
    assert unknown == []


def test_every_file_named_without_its_folder_is_somewhere_in_the_tree():
    folders = [ROOT / name for name in [*packages(), "tests", "bench", "scripts"]]
    files = {path.name for folder in folders for path in folder.rglob("*.py")}
    files |= {path.name for path in ROOT.glob("*.py")}
    assert [(where, name) for where, name in bare_file_names() if name not in files] == []


def test_the_architecture_page_names_every_package_and_every_room_of_tasks():
    text = ARCHITECTURE.read_text()
    rooms = [
        path.name
        for path in (ROOT / "tasks").iterdir()
        if path.is_dir() and path.name not in NOT_ROOMS
    ]
    names = [f"`{name}/`" for name in packages()] + [f"`{name}/`" for name in rooms]
    assert [name for name in names if name not in text] == []


def test_the_architecture_page_has_a_row_for_each_import_contract():
    text = ARCHITECTURE.read_text()
    table = text[text.index("## The contracts") :].split("\n\n")[1]
    rows = [line for line in table.splitlines() if line.startswith("| ")][2:]  # the header
    assert len(rows) == len(import_linter()["contracts"])
