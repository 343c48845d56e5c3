"""绩效指标's rows made by a forked child while the parent writes the rest of the summary
(`summary._IndicatorRows`, `workers.fork`): the same bytes as when the parent makes them
itself, with one sheet or several, and when the child fails at any point, the parent makes
them itself and the summary is still whole."""

from __future__ import annotations

import os
import threading
import time

import pytest
from test_summary import GENERATED
from test_summary_split import LIMIT, coll  # noqa: F401 - the fixture

from perfeval_xl import workers
from perfeval_xl.office import summary
from perfeval_xl.office.summary import build_summary

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here (Windows)")


# -- workers.fork ------------------------------------------------------------------------------
def test_a_forked_child_sends_what_it_has_then_ends():
    def work(send):
        send({"widths": [1, 2]})
        time.sleep(0.2)
        send(("done", 7))

    child = workers.fork(work)
    assert child is not None
    assert child.receive() == {"widths": [1, 2]}
    assert child.receive(timeout=0.01) is workers.NOTHING_YET  # still asleep
    assert child.receive() == ("done", 7)
    assert child.receive() is None  # ended: nothing more
    assert child.wait() is True
    assert child.receive() is None  # its pipe closed, never read again (the number is reused)


def test_a_child_that_fails_ends_without_sending():
    def work(send):
        raise ValueError("a bug in the child")

    child = workers.fork(work)
    assert child is not None
    assert child.receive() is None
    assert child.wait() is False


def test_a_child_still_at_work_is_ended_by_kill():
    child = workers.fork(lambda send: time.sleep(60))
    assert child is not None
    started = time.monotonic()
    child.kill()
    assert child.wait() is False
    assert time.monotonic() - started < 10


def test_no_fork_while_other_threads_run():
    """A fork copies only the calling thread: a lock another thread holds (a server's) would
    stay held in the child for ever. The caller then does the work itself."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert workers.fork(lambda send: None) is None
    finally:
        stop.set()
        other.join()


# -- the summary -------------------------------------------------------------------------------
def _summary(
    collection, monkeypatch, *, forked: bool, limit: int | None = None
) -> tuple[bytes, int]:
    """The summary's bytes, with 绩效指标's rows made by a child or not, and how many children
    were forked for them."""
    forks = []
    real = summary.fork

    def counted(work):
        child = real(work)
        forks.append(child)
        return child

    with monkeypatch.context() as mp:
        mp.setattr(summary, "fork", counted)
        mp.setattr(summary, "FORK_MIN_ROWS", 0 if forked else 10**9)
        if limit is not None:
            mp.setattr(summary, "SHEET_ROW_LIMIT", limit)
        data = build_summary(collection, generated=GENERATED)
    return data, len([c for c in forks if c is not None])


@pytest.mark.parametrize("limit", [None, LIMIT])
def test_rows_made_by_a_child_give_the_same_bytes(coll, monkeypatch, limit):  # noqa: F811
    here, none = _summary(coll, monkeypatch, forked=False, limit=limit)
    there, one = _summary(coll, monkeypatch, forked=True, limit=limit)
    assert (none, one) == (0, 1)
    assert there == here


def _fail_in_child(monkeypatch, name: str, after: int = 0) -> None:
    """Make `_BulkTable.<name>` (or `_IndicatorRows.<name>`) fail in a forked child only, from
    its call number `after` on: the parent's own calls go through."""
    parent = os.getpid()
    owner = summary._IndicatorRows if hasattr(summary._IndicatorRows, name) else None
    owner = owner or summary._BulkTable
    real = getattr(owner, name)
    calls = []

    def failing(self, *args, **kwargs):
        if os.getpid() != parent:
            calls.append(name)
            if len(calls) > after:
                raise RuntimeError(f"{name} failed in the child")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


@pytest.mark.parametrize(
    ("name", "after", "limit"),
    [
        ("_in_child", 0, None),  # before it sent anything
        ("_render", 0, None),  # after the widths, before any row
        ("_render", 1, LIMIT),  # after the first sheet's rows were sent and compressed
        ("_render", 2, LIMIT),  # … and the second's
    ],
)
def test_when_the_child_fails_the_parent_makes_the_rows(
    coll,  # noqa: F811
    monkeypatch,
    name,
    after,
    limit,
):
    here, _ = _summary(coll, monkeypatch, forked=False, limit=limit)
    _fail_in_child(monkeypatch, name, after)
    there, forked = _summary(coll, monkeypatch, forked=True, limit=limit)
    assert forked == 1
    assert there == here


def test_a_child_killed_while_it_writes_leaves_a_whole_summary(coll, monkeypatch):  # noqa: F811
    """The child ends without a word (an out-of-memory kill) after it has written some rows."""
    here, _ = _summary(coll, monkeypatch, forked=False, limit=LIMIT)
    parent = os.getpid()
    real = summary._BulkTable._render

    def killed(self, widths, out=None):
        if os.getpid() != parent and out is not None:
            out.write(b'<row r="2"><c r="A2" s="1"')  # a row cut off
            out.flush()
            os._exit(9)
        return real(self, widths, out)

    monkeypatch.setattr(summary._BulkTable, "_render", killed)
    there, forked = _summary(coll, monkeypatch, forked=True, limit=LIMIT)
    assert forked == 1
    assert there == here
