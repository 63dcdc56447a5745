"""The upgrade note (item 10 of issue 21): the task names it lists are the ones the workers
register, so a renamed or added task cannot ship without a word to operators; the CHANGELOG
and the note link each other."""

from __future__ import annotations

import re

from django.conf import settings

from project.celery import app
from tests.procfile import ROOT

NOTE = ROOT / "docs" / "upgrading.md"


def listed_task_names() -> set[str]:
    return {name for name, _ in listed_lines()}


def listed_lines() -> list[tuple[str, str]]:
    """(name, what the line says after it) for each line of the task-names list."""
    text = NOTE.read_text()
    block = text[text.index("<!-- task-names -->") : text.index("<!-- /task-names -->")]
    return re.findall(r"^- `([\w.]+)`(.*)$", block, flags=re.MULTILINE)


def registered_task_names() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_the_upgrade_note_lists_exactly_the_registered_task_names():
    assert listed_task_names() == registered_task_names()


def test_an_old_name_is_listed_with_its_new_name_and_only_an_old_name_is():
    for name, rest in listed_lines():
        new = settings.TASKS_RENAMED.get(name)
        assert rest == (
            "" if new is None else f" (old name of `{new}`, until the next major release)"
        )
    for old, new in settings.TASKS_RENAMED.items():  # the upgrade step's table of renames
        assert f"| `{old}` | `{new}` |" in NOTE.read_text()


def test_the_changelog_and_the_upgrade_note_link_each_other():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "docs/upgrading.md" in changelog
    assert "CHANGELOG.md" in NOTE.read_text()
    assert "### Migrations to run" in NOTE.read_text()
