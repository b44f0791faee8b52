"""Log segments become Parquet in a process of their own, never beside the event loop.

Converting a segment is Python work (decoding every record, building Arrow tables) that
holds the GIL for long stretches, and C calls such as building a table from its rows do
not let it go at all. In a thread of the serving process, every wake of the event loop
waited for it: at 1,000 conversions/s the p99 latency rose from 4 ms to 91 ms in the
window where a minute's segment was converted (bench/README.md). In a child process the
event loop shares nothing with it.

One child per serving process, shared by its stores, converting one segment at a time
(the order the stores ask). The child starts at the first conversion, from a fresh
interpreter (spawn: no fork of a process with threads), and leaves as soon as its parent
is gone, even when the parent was SIGKILLed. If the child dies, the conversions it held
fail (the store retries them on its backoff) and the next one starts a new child.
What the conversion logs is logged again here, under the same logger.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from convtrack.core import raw_log

__all__ = ["convert_in_child", "converter_pid"]

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _leave_with_parent() -> None:
    """In the child: exit once the parent is gone (its queue never closes on its own)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _converter() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_leave_with_parent,
            )
        return _pool


def _forget(pool: ProcessPoolExecutor) -> None:
    """A broken pool takes no more work: the next conversion starts a new child."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def converter_pid() -> int:
    """The converter child's process id, starting it if needed (for tests and operators)."""
    return _converter().submit(os.getpid).result()


async def convert_in_child(raw_dir: Path, path: Path) -> int:
    """Convert the locked segment `path` in the converter child; rows written."""
    pool = _converter()
    loop = asyncio.get_running_loop()
    try:
        rows, lines = await loop.run_in_executor(pool, raw_log.convert_segment_file, raw_dir, path)
    except BrokenProcessPool:
        _forget(pool)
        raise
    for level, message in lines:
        raw_log.log.log(level, "%s", message)
    return rows
