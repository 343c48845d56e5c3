"""Worker processes that end when the process that started them ends.

`collect` checks files and `template --roster` builds workbooks on every core. A pool's workers
block on a pipe between tasks, or run a long task at full speed; when the parent is killed (a
clerk closes the window, `kill`, an out-of-memory kill), nothing tells them, and they were found
still running minutes later, one of them at 100 % CPU. Each worker here starts a thread that
waits for its parent to end and then ends the worker at once.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

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
