"""Which objects a schedule's run shares (pure rules over listing pages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schedules.selection import Mark, TooManyObjects, advance, newest, select

T0 = datetime(2026, 11, 2, 7, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_newest_picks_by_last_modified_across_pages_not_by_key_or_page():
    pages = [
        [("a", at(5)), ("b", at(1)), ("c", at(9))],
        [("d", at(2)), ("e", at(9)), ("f", at(7))],
        [("g", at(3))],
    ]
    assert newest(pages, 3) == [("e", at(9)), ("c", at(9)), ("f", at(7))]
    assert newest(pages, 10)[-1] == ("b", at(1))
    assert newest([[]], 3) == []


def test_new_since_the_mark_neither_repeats_nor_misses_objects_of_the_marks_second():
    mark = Mark(at(10), frozenset({"x"}))
    pages = [[("old", at(9)), ("x", at(10)), ("y", at(10)), ("z", at(11))]]

    chosen = select("new_since_last_run", pages, count=0, mark=mark, limit=100)

    assert chosen.keys == ["y", "z"]
    assert chosen.mark == Mark(at(11), frozenset({"z"}))
    again = select("new_since_last_run", pages, count=0, mark=chosen.mark, limit=100)
    assert again.keys == [] and again.mark == chosen.mark


def test_the_first_new_since_run_takes_everything_and_sets_the_mark():
    pages = [[("a", at(1)), ("b", at(2))], [("c", at(2))]]
    chosen = select("new_since_last_run", pages, count=0, mark=Mark(), limit=100)
    assert chosen.keys == ["a", "b", "c"]
    assert chosen.mark == Mark(at(2), frozenset({"b", "c"}))


def test_every_rule_moves_the_mark_to_what_it_shared():
    pages = [[("a", at(1)), ("b", at(4)), ("c", at(3))]]
    assert select("newest", pages, count=1, mark=Mark(), limit=9).mark == Mark(
        at(4), frozenset({"b"})
    )
    assert select("all", pages, count=1, mark=Mark(), limit=9).keys == ["a", "b", "c"]
    assert advance(Mark(at(4), frozenset({"b"})), [("d", at(4))]).keys == {"b", "d"}


def test_more_objects_than_a_batch_holds_is_an_error_naming_the_limit():
    pages = [[(f"k{n}", at(n)) for n in range(5)]]
    with pytest.raises(TooManyObjects, match=r"more than 4 objects \(LINKS_MAX_BATCH_SIZE\)"):
        select("all", pages, count=0, mark=Mark(), limit=4)
    assert len(select("newest", pages, count=10, mark=Mark(), limit=4).keys) == 4


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown selection rule"):
        select("oldest", [], count=1, mark=Mark(), limit=1)
