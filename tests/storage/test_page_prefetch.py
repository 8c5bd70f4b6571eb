"""A client walking the pages of a query pays for one top-N scan and one count, not one of each per page.

The first page's query fetches the following pages too (the scan reads every
matching row whatever the LIMIT); they wait in the read cache under the keys
their page tokens decode to, and go the moment the table changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from duckdb_spawn_server.storage import project_store
from duckdb_spawn_server.storage.project_store import PREFETCH_ROWS

from tests.support.stack import Stack, storage_stack

DOCUMENT = {"name": "walks", "columns": [{"name": "id", "type": "UUID", "required": True},
                                         {"name": "label", "type": "VARCHAR"},
                                         {"name": "amount", "type": "DECIMAL(12,2)"}]}
ROWS = 230
FILTER = 'label != "skip"'
ORDER = "amount desc"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with storage_stack(tmp_path_factory.mktemp("walk") / "walk.duckdb", "walk_schema", DOCUMENT,
                       read_cache_entries=100_000) as built:
        for i in range(ROWS):
            # Equal amounts in runs of three: the id tiebreak decides inside each run.
            built.manager.create({"label": "skip" if i % 10 == 0 else f"l{i}", "amount": f"{(i // 3) * 1.5:.2f}"})
        yield built


def truth(stack: Stack) -> list[str]:
    con = stack.database.cursor()
    try:
        rows = con.execute("SELECT CAST(id AS VARCHAR) FROM walks WHERE label IS NULL OR label <> 'skip' "
                           "ORDER BY amount DESC NULLS FIRST, id DESC").fetchall()  # the tiebreak follows the last key
    finally:
        con.close()
    return [r[0] for r in rows]


@pytest.mark.parametrize("window_rows", [PREFETCH_ROWS, 20], ids=["one-window", "windows-of-2-pages"])
def test_following_pages_are_at_hand_and_exact(stack: Stack, window_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project_store, "PREFETCH_ROWS", window_rows)
    stack.manager.create({"label": "skip", "amount": "0"})  # a write: nothing from an earlier walk is reused
    page_size = 7
    expected = truth(stack)
    first = stack.manager.list(page_size, filter_text=FILTER, order_by=ORDER)
    walked, token, at_hand = [str(r.project_id) for r in first.records], first.next_page_token, 0
    while token:
        page = stack.manager.peek_list(page_size, token, filter_text=FILTER, order_by=ORDER)
        if page is not None:
            at_hand += 1
        else:  # past the prefetched window: one more query, which fetches the next window
            page = stack.manager.list(page_size, token, filter_text=FILTER, order_by=ORDER)
        assert page.total_size == len(expected)
        walked += [str(r.project_id) for r in page.records]
        token = page.next_page_token
    assert walked == expected
    pages = -(-len(expected) // page_size)
    assert at_hand == pages - 1 - (pages - 1) // (window_rows // page_size), "only window starts are queried"
    assert isinstance(first.records[0].attributes["amount"], Decimal)


def test_a_write_retires_the_prefetched_pages(stack: Stack) -> None:
    first = stack.manager.list(10, filter_text=FILTER, order_by=ORDER)
    assert stack.manager.peek_list(10, first.next_page_token, filter_text=FILTER, order_by=ORDER) is not None
    stack.manager.create({"label": "late", "amount": "1000000.00"})
    assert stack.manager.peek_list(10, first.next_page_token, filter_text=FILTER, order_by=ORDER) is None
    again = stack.manager.list(10, filter_text=FILTER, order_by=ORDER)
    assert again.records[0].attributes["label"] == "late"
    assert again.total_size == first.total_size + 1


def test_a_page_after_a_write_still_counts_the_whole_query(stack: Stack) -> None:
    """The total of a query is counted over every match, also when the page continues after a token
    (the page and the count come from one scan), and when no match is left after the token. Every page of
    a listing reads the first page's snapshot (its read position): a write between pages shows in a new
    listing, not in the one being walked."""
    query = {"filter_text": 'label = "tail"', "order_by": ORDER}
    made = [stack.manager.create({"label": "tail", "amount": f"{i}.25"}) for i in range(5)]
    first = stack.manager.list(2, **query)
    assert first.total_size == 5
    late = stack.manager.create({"label": "tail", "amount": "0.50"})  # a write: a new listing reads afresh
    second = stack.manager.list(2, first.next_page_token, **query)
    assert second.total_size == 5 and second.read_position == first.read_position
    assert [str(r.attributes["amount"]) for r in second.records] == ["2.25", "1.25"]
    fresh = stack.manager.list(2, **query)
    assert fresh.total_size == 6 and fresh.read_position != first.read_position
    second = stack.manager.list(2, fresh.next_page_token, **query)
    assert second.total_size == 6
    assert [str(r.attributes["amount"]) for r in second.records] == ["2.25", "1.25"]
    for record in (*made[:3], late):  # every match after the token
        stack.manager.delete(record.project_id)
    assert stack.manager.list(2, fresh.next_page_token, **query).total_size == 6  # the fresh listing's snapshot
    newest = stack.manager.list(2, **query)
    rest = stack.manager.list(2, newest.next_page_token, **query) if newest.next_page_token else None
    assert newest.total_size == 2 and [str(r.attributes["amount"]) for r in newest.records] == ["4.25", "3.25"]
    assert rest is None
