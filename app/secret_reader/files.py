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

#: Longest value the app reads from the file; a secret in Key Vault is at most 25 KiB.
MAX_BYTES = 25 * 1024


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
                with open(self._path, encoding="utf-8") as file:
                    value = file.read(MAX_BYTES)
            except (OSError, UnicodeDecodeError) as exc:
                failures += 1
                self._health.failed()
                self._console.log(
                    "ERROR",
                    f"Cannot read the secret file {self._path}: {type(exc).__name__}: {one_line(str(exc), 300)}. "
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
