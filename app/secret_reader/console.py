"""Lines a person reads in `kubectl logs`: whole lines, flushed at once, never interleaved between threads."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import TextIO

_WHITESPACE = re.compile(r"\s+")


class Console:
    """Writes the walkthrough's lines verbatim and everything else with a UTC timestamp and a level."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        """Write a line exactly as given (the two walkthrough lines)."""
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def log(self, level: str, message: str) -> None:
        """Write `<timestamp> <LEVEL> <message>` on one line, whatever newlines the message carried."""
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.say(f"{stamp} {level} {one_line(message)}")

    def close(self) -> None:
        """Take the lock for good, so no daemon thread is mid-write while the interpreter shuts down."""
        self._lock.acquire()
        self._stream.flush()


def one_line(text: str, limit: int = 2000) -> str:
    """Collapse whitespace (service messages carry CR/LF) and cut overly long text."""
    text = _WHITESPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mask(value: str, version: str | None) -> str:
    """Stand-in for a secret: its length and version, to see it change without learning it.

    No digest of the value: a short password's hash in a log can be reversed by trying every candidate.
    """
    unit = "character" if len(value) == 1 else "characters"
    return f"<hidden: {len(value)} {unit}, version {version[:8]}>" if version else f"<hidden: {len(value)} {unit}>"
