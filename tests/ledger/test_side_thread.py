"""The side thread the ledger signs receipts on: results in order, errors re-raised, batches independent, and a
forked child gets a thread of its own."""

from __future__ import annotations

import os
import threading

import pytest

from ledger.side_thread import SideThread


def test_results_come_back_in_order_from_another_thread() -> None:
    seen: set[str] = set()

    def square(x: int) -> int:
        seen.add(threading.current_thread().name)
        return x * x

    side: SideThread[int, int] = SideThread(square, "test-side")
    waits = [side.start(range(i, i + 5)) for i in range(0, 50, 5)]
    assert [r for wait in waits for r in wait()] == [x * x for x in range(50)]
    assert seen == {"test-side"}
    assert side.start([])() == []
    side.close()


def test_an_error_is_raised_to_the_waiter_and_the_thread_goes_on() -> None:
    def work(x: int) -> int:
        if x == 3:
            raise ValueError("three")
        return x

    side: SideThread[int, int] = SideThread(work, "test-side")
    failing = side.start([1, 2, 3])
    after = side.start([4, 5])
    with pytest.raises(ValueError, match="three"):
        failing()
    assert after() == [4, 5]
    side.close()


def test_a_batch_nobody_waits_for_does_not_hold_up_the_next() -> None:
    side: SideThread[int, int] = SideThread(lambda x: x + 1, "test-side")
    side.start([1, 2])  # as when a commit fails after the receipts were begun
    assert side.start([10])() == [11]
    side.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_makes_its_own_thread() -> None:
    side: SideThread[int, int] = SideThread(lambda x: -x, "test-side")
    assert side.start([1])() == [-1]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread does not exist here
        try:
            ok = side.start([2, 3])() == [-2, -3]
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    assert side.start([4])() == [-4]
    side.close()
