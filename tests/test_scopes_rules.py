"""Key scopes on values: grants, token narrowing, the reserved prefix, tricks, look-alikes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access.scopes import (
    REFUSED_CATEGORIES,
    KeyScope,
    ScopeError,
    folded,
    folded_unicode,
    form_problem,
    grant_problem,
)

ALICE = KeyScope(granted=("alice/",))
OPERATOR = KeyScope(granted=("",))


def test_a_key_under_a_grant_is_allowed_and_another_users_prefix_is_not() -> None:
    assert ALICE.refusal("alice/report.pdf") is None
    refusal = ALICE.refusal("bob/report.pdf")
    assert refusal is not None and "outside your scope" in refusal and "'alice/'" in refusal


def test_a_grant_is_a_folder_so_alice_does_not_reach_alice2() -> None:
    assert ALICE.refusal("alice2/x") is not None
    assert grant_problem("alice") is not None
    assert grant_problem("alice/") is None
    assert grant_problem("") is None


@pytest.mark.parametrize(
    "key",
    [
        "_linkdist/manifests/b1/abc.csv",
        "_LinkDist/manifests/b1/abc.csv",  # a case-insensitive server
        "_linkdist\uff0fmanifests/x.csv",  # fullwidth solidus folds to "/"
        "\uff3flinkdist/manifests/x.csv",  # fullwidth low line folds to "_" under NFKC
    ],
)
def test_the_reserved_prefix_is_refused_even_to_the_operator(key: str) -> None:
    refusal = OPERATOR.refusal(key)
    assert refusal is not None
    assert OPERATOR.is_reserved(key) or "'/'" in refusal or "NFC" in refusal


def test_the_reserved_prefix_cannot_be_granted() -> None:
    assert grant_problem("_linkdist/") == "reserved for the project's own files"
    assert grant_problem("_linkdist/manifests/") is not None


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("alice/../bob/x", "'..'"),
        ("alice/./x", "'.'"),
        ("alice//x", "'//'"),
        ("/alice/x", "starts with '/'"),
        ("alice/\uff0e\uff0e/bob/x", "'..'"),  # fullwidth full stops
        ("alice/\u2024\u2024/bob/x", "'..'"),  # one-dot leaders
        ("alice/..\u2215bob/x", "'..'"),  # division slash
        ("alice\\..\\bob/x", "'..'"),  # backslashes
    ],
)
def test_path_tricks_are_refused_however_spelled(key: str, why: str) -> None:
    refusal = ALICE.refusal(key)
    assert refusal is not None and why in refusal


def test_a_trailing_slash_is_a_folder_not_a_trick() -> None:
    assert form_problem("alice/folder/") is None


@pytest.mark.parametrize(
    "key",
    [
        "alice/cafe\u0301.pdf",  # decomposed é: not NFC
        "alice/\u202egnp.exe",  # right-to-left override
        "alice/a\u200bb",  # zero-width space
        "alice/a\x00b",  # NUL
    ],
)
def test_non_nfc_and_invisible_characters_are_refused(key: str) -> None:
    assert ALICE.refusal(key) is not None


def test_look_alike_letters_are_other_keys_and_outside_the_grant() -> None:
    cyrillic_a = "\u0430lice/x"
    assert ALICE.refusal(cyrillic_a) is not None
    assert ALICE.refusal("alice/caf\u00e9.pdf") is None  # NFC accents are fine
    assert folded("\uff41lice") == "alice"  # fullwidth a: the same to NFKC


def test_a_token_narrower_than_its_user_limits_it() -> None:
    scope = KeyScope(granted=("alice/",), narrowed_to=("alice/reports/",))
    assert scope.refusal("alice/reports/q1.pdf") is None
    refusal = scope.refusal("alice/private/x")
    assert refusal is not None and "token" in refusal
    # a token cannot widen its user
    wide = KeyScope(granted=("alice/",), narrowed_to=("",))
    assert wide.refusal("bob/x") is not None


def test_a_prefix_must_lie_inside_the_scope() -> None:
    ALICE.check_prefix("alice/reports/")
    with pytest.raises(ScopeError, match="'alice/'"):
        ALICE.check_prefix("a")
    with pytest.raises(ScopeError, match="reserved"):
        OPERATOR.check_prefix("_linkdist/manifests/")


def test_a_listing_under_a_broad_prefix_drops_reserved_keys() -> None:
    assert OPERATOR.listing_filter("_other/x")
    assert not OPERATOR.listing_filter("_linkdist/manifests/x.csv")


def test_no_grant_means_nothing() -> None:
    scope = KeyScope(granted=())
    refusal = scope.refusal("anything")
    assert refusal is not None and "none" in refusal


@pytest.mark.parametrize(("key", "why"), [("a\x00b", "NUL"), ("a\ud800", "surrogate")])
def test_keys_no_database_can_store_are_refused_as_bad_input(key: str, why: str) -> None:
    from datetime import UTC, datetime

    from tasks.batches.spec import BatchInputError, BatchRequest, validate

    with pytest.raises(BatchInputError, match=why):
        validate(BatchRequest(keys=["ok", key], expires_in=60), max_size=10, now=datetime.now(UTC))
    with pytest.raises(BatchInputError, match=why):
        validate(BatchRequest(prefix=key, expires_in=60), max_size=10, now=datetime.now(UTC))


ASCII_KEYS = [f"a{chr(code)}b/c{chr(code)}" for code in range(128)] + [
    "\\x",
    "a\\..\\b",
    "A/B/./c",
    "_LINKDIST\\manifests/x",
    "x/",
    "/x",
]


@pytest.mark.parametrize("key", ASCII_KEYS)
def test_the_ascii_shortcut_answers_as_the_unicode_rules(key: str) -> None:
    assert folded(key) == folded_unicode(key)
    assert OPERATOR.refusal(key) == slow_refusal(key)


def slow_refusal(key: str) -> str | None:
    """The rules spelled out with no shortcut: NFC, Unicode categories, the folded segments."""
    if unicodedata.normalize("NFC", key) != key:
        return "not in Unicode NFC form"
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in key):
        return "holds control, invisible or unassigned characters"
    segments = folded_unicode(key).split("/")
    if segments[0] == "" and len(segments) > 1:
        return "starts with '/'"
    if "" in segments[:-1]:
        return "holds an empty path segment ('//')"
    if any(segment in (".", "..") for segment in segments):
        return "holds a '.' or '..' path segment"
    if folded_unicode(key).startswith(folded_unicode("_linkdist/")):
        return "reserved for the project's own files"
    return None


PIECES = [
    "a",
    "Z",
    "0",
    "-",
    " ",
    "/",
    "//",
    "\\",
    ".",
    "..",
    "./",
    "/.",
    "x.pdf",
    "alice/",
    "reports/",
    "_linkdist/",
    "_LinkDist\\",
    "\t",
    "\x7f",
    "\u00e9",
    "e\u0301",
    "\uff0f",
    "\u2024",
    "\u200b",
]
SCOPES = [
    OPERATOR,
    ALICE,
    KeyScope(granted=("alice/", "reports/")),
    KeyScope(granted=("",), narrowed_to=("reports/",)),
    KeyScope(granted=("_linkdist/",)),
]
keys_of_pieces = st.lists(st.lists(st.sampled_from(PIECES), max_size=6).map("".join), max_size=8)


@settings(max_examples=600, deadline=None)
@given(keys=keys_of_pieces, scope=st.sampled_from(SCOPES))
def test_a_batch_split_answers_as_the_rules_for_each_key(keys: list[str], scope: KeyScope) -> None:
    """split() decides a batch of plain keys on the keys joined (a few C calls for 100,000
    keys): it must allow exactly what refusal() allows, key by key."""
    by_key = {key: scope.refusal(key) for key in keys}

    allowed, refused = scope.split(keys)

    assert allowed == [key for key in keys if by_key[key] is None]
    assert refused == {key: why for key, why in by_key.items() if why is not None}
    if scope.allows_all_plain(keys):
        assert all(why is None for why in by_key.values())


def test_a_plain_batch_is_decided_whole_and_one_trick_sends_it_key_by_key() -> None:
    keys = [f"alice/reports/2026/report {n}.pdf" for n in range(1000)]
    assert ALICE.allows_all_plain(keys) and ALICE.split(keys) == (keys, {})
    for trick in ["alice/../bob/x", "alice//x", "/alice/x", "bob/x", "alice/\x01"]:
        assert not ALICE.allows_all_plain([*keys, trick])
        assert ALICE.split([*keys, trick]) == (keys, {trick: ALICE.refusal(trick)})
        assert ALICE.refusal(trick) is not None
    hidden = "alice/.x"  # sent key by key ("/.") and allowed: a dot file is no trick
    assert not ALICE.allows_all_plain([*keys, hidden])
    assert ALICE.split([*keys, hidden]) == ([*keys, hidden], {})
    assert not OPERATOR.allows_all_plain(["x", "_LINKDIST\\manifests/a"])
