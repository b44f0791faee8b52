"""The collector's converter process: turns log segments into Parquet, one at a time.

    python -m convtrack.core.segment_converter

Reads one request per line on stdin, `{"raw_dir": ..., "path": ...}` (a segment its
parent holds locked), converts it with `raw_log.convert_segment`, and answers one line on
stdout: `{"rows": n, "log": [[level, message], ...]}`, or `{"error": message, "log": ...}`
when converting failed; the parent logs the lines again and keeps or retries the segment
(collector/storage/converter.py). Ends when stdin does, i.e. when its parent is gone,
even after a SIGKILL of the parent.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import BinaryIO

from convtrack.core import raw_log

# Converting is background work: under load the kernel gives the serving process the CPU
# first (nice 10 weighs about a tenth of nice 0); on an idle core it runs at full speed.
NICENESS = 10


def protocol_line(message: dict) -> bytes:
    """One line of the protocol, both ways. ASCII JSON (stdlib `json`, not orjson): a path
    that is not valid UTF-8 (a byte decoded as a lone surrogate) travels as its escape."""
    return json.dumps(message).encode("ascii") + b"\n"


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


def answer(request: bytes) -> dict:
    """Convert the segment a request names; what to answer."""
    kept = _Kept()
    raw_log.log.addHandler(kept)
    try:
        asked = json.loads(request)
        raw_dir, path = Path(asked["raw_dir"]), Path(asked["path"])
        fd = os.open(path, os.O_RDONLY)
        try:
            return {"rows": raw_log.convert_segment(raw_dir, path, fd), "log": kept.lines}
        finally:
            os.close(fd)
    except Exception as exc:
        return {"error": str(exc) or type(exc).__name__, "log": kept.lines}
    finally:
        raw_log.log.removeHandler(kept)


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    for line in requests:
        answers.write(protocol_line(answer(line)))
        answers.flush()


def main() -> None:
    os.nice(NICENESS)
    # Ctrl-C in a terminal reaches the whole process group: the server stops gracefully
    # and converts its log on the way out, through this process, which must not die of
    # it mid-segment (nor print a traceback). It ends when its stdin does.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The answers get a descriptor of their own; fd 1 goes to stderr, so nothing a
    # library prints can be taken for an answer.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    raw_log.log.setLevel(logging.DEBUG)  # every line reaches the parent, which filters
    raw_log.log.propagate = False
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
