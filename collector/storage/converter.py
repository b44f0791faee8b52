"""Log segments become Parquet in a process of their own, never beside the event loop.

Converting a segment is Python work (decoding every record, building Arrow tables) that
holds the GIL for long stretches, and C calls such as building a table from its rows do
not let it go at all. In a thread of the serving process, every wake of the event loop
waited for it: at 1,000 conversions/s the p99 latency rose from 4 ms to 91 ms in the
window where a minute's segment was converted (bench/README.md). In a child process the
event loop shares nothing with it.

One child per serving process (`python -m convtrack.core.segment_converter`), shared by
its stores, converting one segment at a time, in the order asked. It starts at the first
conversion and ends when its stdin closes, i.e. with its parent, even a SIGKILLed one.
The parent only waits for its answer, in a thread. If the child dies, the conversion it
held fails (the store retries it on its backoff) and the next one starts a new child.
What the conversion logs is logged again here, under the same logger.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

from convtrack.core import raw_log
from convtrack.core.segment_converter import protocol_line

__all__ = ["ConversionFailed", "convert_in_child", "converter_pid"]

COMMAND = [sys.executable, "-m", "convtrack.core.segment_converter"]


class ConversionFailed(Exception):
    """The converter could not turn a segment into Parquet; the message says why."""


class _Converter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            # Same process group: `kill -9 -- -PGID` of a server takes its converters.
            self._process = subprocess.Popen(COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self._process

    def pid(self) -> int:
        with self._lock:
            return self._running().pid

    def convert(self, raw_dir: Path, path: Path) -> dict:
        """Blocking: ask the child, wait for its answer (the GIL is free meanwhile)."""
        with self._lock:
            process = self._running()
            assert process.stdin is not None and process.stdout is not None
            request = protocol_line({"raw_dir": str(raw_dir), "path": str(path)})
            try:
                process.stdin.write(request)
                process.stdin.flush()
                line = process.stdout.readline()
            except OSError:
                line = b""
            if not line:  # it died: the next conversion starts another
                process.kill()
                code = process.wait()
                raise ConversionFailed(f"the converter process ended (exit code {code})")
        return json.loads(line)


_converter = _Converter()


def converter_pid() -> int:
    """The converter child's process id, starting it if needed (for tests and operators)."""
    return _converter.pid()


async def convert_in_child(raw_dir: Path, path: Path) -> int:
    """Convert the locked segment `path` in the converter child; rows written.

    ConversionFailed when it could not: the segment stays where it is.
    """
    answer = await asyncio.to_thread(_converter.convert, raw_dir, path)
    for level, message in answer["log"]:
        raw_log.log.log(level, "%s", message)
    if "error" in answer:
        raise ConversionFailed(answer["error"])
    return answer["rows"]
