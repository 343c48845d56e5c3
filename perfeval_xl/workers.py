"""Worker processes that end when the process that started them ends.

`collect` checks files and `template --roster` builds workbooks on every core. A pool's workers
block on a pipe between tasks, or run a long task at full speed; when the parent is killed (a
clerk closes the window, `kill`, an out-of-memory kill), nothing tells them, and they were found
still running minutes later, one of them at 100 % CPU. Each worker here starts a thread that
waits for its parent to end and then ends the worker at once.

`fork` runs one part of a process's own work in a child at the same time (the summary's
largest sheet while the rest of it is written), ending the same way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: How often the fallback watch polls the parent's pid, in seconds.
_POLL = 0.5


def pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of `workers` processes that each end when this process ends."""
    return ProcessPoolExecutor(
        max_workers=workers, initializer=watch_parent, initargs=(os.getpid(),)
    )


def watch_parent(parent_pid: int) -> None:
    """In a worker: end this process as soon as the process `parent_pid` ends.

    `multiprocessing.parent_process().join()` returns when the parent's end of a pipe closes,
    which the kernel does when the parent dies however it dies; where there is no such handle,
    the parent's pid is polled (a POSIX orphan is adopted by another process)."""
    parent = multiprocessing.parent_process()

    def wait() -> None:
        if parent is not None:
            parent.join()
        else:
            while os.getppid() == parent_pid:
                time.sleep(_POLL)
        os._exit(1)  # no clean-up: the results have nobody left to go to

    threading.Thread(target=wait, name="perfeval-xl parent watch", daemon=True).start()


def _poll_parent(parent_pid: int) -> None:
    """`watch_parent` by the pid alone: in a forked child, `multiprocessing.parent_process`
    is its parent's parent (or None), not the process that forked it."""

    def wait() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_POLL)
        os._exit(1)

    threading.Thread(target=wait, name="perfeval-xl parent watch", daemon=True).start()


#: What `Forked.receive` returns when nothing came within its timeout.
NOTHING_YET = object()


class Forked:
    """A child process forked to do one part of this process's work meanwhile (`fork`): it
    sends what this process needs first as soon as it has it (`receive`), then goes on."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._status: int | None = None

    def receive(self, timeout: float | None = None) -> Any | None:
        """The next thing the child sent, or None when it ended without sending it; with a
        `timeout` (seconds), NOTHING_YET when nothing came meanwhile."""
        if self._fd < 0:
            return None  # waited for: the pipe is closed
        if timeout is not None:
            ready = select.poll()
            ready.register(self._fd, select.POLLIN)
            if not ready.poll(timeout * 1000):
                return NOTHING_YET
        head = self._read(8)
        if head is None:
            return None
        body = self._read(int.from_bytes(head, "little"))
        return None if body is None else pickle.loads(body)

    def _read(self, size: int) -> bytes | None:
        data = bytearray()
        while len(data) < size:
            try:
                got = os.read(self._fd, size - len(data))
            except OSError:
                return None
            if not got:
                return None
            data += got
        return bytes(data)

    def wait(self) -> bool:
        """Wait for the child to end: True when it did all its work."""
        if self._status is None:
            os.close(self._fd)
            self._fd = -1  # its number may be another file's from now on
            _, status = os.waitpid(self.pid, 0)
            self._status = os.waitstatus_to_exitcode(status)
        return self._status == 0

    def kill(self) -> None:
        """End the child now, if it still runs (this process failed or was interrupted)."""
        if self._status is None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            self.wait()


def fork(work: Callable[[Callable[[Any], None]], None]) -> Forked | None:
    """Run `work(send)` in a child process forked from this one, which sees this process's
    objects as they are now (nothing is pickled to it), and return at once; `send(value)`
    pickles a value to `Forked.receive`. The child ends with this process (`_poll_parent`)
    and leaves without any clean-up (`os._exit`): what it inherited (open files, a store's
    connection) is this process's.

    None where this process cannot fork: no `os.fork` (Windows), or threads besides this one
    (a server's): a fork copies only the calling thread, and a lock another thread held stays
    held in the child for ever. Also None when the system refuses (no memory for a process).
    The caller then does the work itself."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    parent = os.getpid()
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read_end)
            _poll_parent(parent)

            def send(value: Any) -> None:
                body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(len(body).to_bytes(8, "little") + body)
                while view:
                    view = view[os.write(write_end, view) :]

            work(send)
            code = 0
        except BaseException:  # noqa: BLE001 - the parent does the work itself then
            pass
        finally:
            os._exit(code)
    os.close(write_end)
    return Forked(pid, read_end)
