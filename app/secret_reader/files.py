"""File mode: read a secret that the Secrets Store CSI driver keeps in a file, every interval, and say when it
changes (the driver rewrites the file when the secret rotates in Key Vault).

The app then needs no Azure identity and no network: the driver signed in and fetched the secret before the
container started. The same logging rules hold: the value is masked unless REVEAL_SECRET asks for it.
"""

from __future__ import annotations

import threading

from secret_reader.console import Console, mask, one_line
from secret_reader.health import Health
from secret_reader.reader import STOPPED_LINE

#: Longest file the app takes for a secret, in bytes; a secret in Key Vault is at most 25 KiB. A longer file is
#: an error, never cut short (a cut value would show a wrong length and hide a change past the cut).
MAX_BYTES = 25 * 1024


class NotASecret(Exception):
    """The file was read but cannot be the secret; the message says why without a byte of its content."""


def read_secret(path: str) -> str:
    """The file's text, or NotASecret when it is longer than MAX_BYTES or not UTF-8.

    Decoding the bytes ourselves keeps UnicodeDecodeError's message (the offending byte and its position, that is
    part of the secret) out of the log, in every mode.
    """
    with open(path, "rb") as file:
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise NotASecret(f"it is longer than {MAX_BYTES} bytes, more than a Key Vault secret can hold")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotASecret(f"it is not UTF-8 text ({len(data)} bytes)") from None


class FilePoller:
    """Reads `path` until `stop` is set; a missing or unreadable file is logged and retried, never fatal."""

    def __init__(
        self, path: str, interval: float, reveal: bool, console: Console, health: Health, stop: threading.Event
    ) -> None:
        self._path = path
        self._interval = interval
        self._reveal = reveal
        self._console = console
        self._health = health
        self._stop = stop

    def run(self) -> None:
        last: str | None = None
        failures = 0
        while not self._stop.is_set():
            self._health.beat(self._interval)
            try:
                value = read_secret(self._path)
            except (OSError, NotASecret) as exc:
                failures += 1
                self._health.failed()
                problem = (
                    str(exc) if isinstance(exc, NotASecret) else f"{type(exc).__name__}: {one_line(str(exc), 300)}"
                )
                self._console.log(
                    "ERROR",
                    f"Cannot read the secret file {self._path}: {problem}. "
                    f"Retrying in {self._interval:g} s (consecutive failure {failures}).",
                )
            else:
                failures = 0
                self._health.succeeded()
                shown = value if self._reveal else mask(value, None)
                if last is not None and value != last:
                    self._console.log("INFO", f"The secret file {self._path} changed: now '{shown}'.")
                last = value
                self._console.say(f"Your secret is '{shown}'.")
            self._stop.wait(self._interval)
        self._console.log("INFO", STOPPED_LINE)
