"""The app's file mode: with SECRET_FILE it reads the file the Secrets Store CSI driver keeps, needs no identity,
masks the value as the SDK mode does, says when the content changes, and is ready only once it has read it."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from secret_reader.config import (
    MAX_POLL_INTERVAL_SECONDS,
    ConfigError,
    FileSettings,
    load_file_settings,
    load_settings,
    ready_window,
)
from secret_reader.console import Console
from secret_reader.files import MAX_BYTES, FilePoller
from secret_reader.health import Health
from secret_reader.reader import STOPPED_LINE

VALUE = "s3cret-value"
APP = Path(__file__).resolve().parents[1] / "app"
#: SDK mode's minimal valid environment (the webhook's variables included).
SDK_ENV = {
    "KEY_VAULT_URL": "https://myvault.vault.azure.net/",
    "SECRET_NAME": "db",
    "AZURE_CLIENT_ID": "client",
    "AZURE_TENANT_ID": "tenant",
    "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
}


def test_secret_file_selects_file_mode_without_vault_or_identity_variables():
    assert load_file_settings({"SECRET_FILE": "/mnt/secrets/db", "POLL_INTERVAL_SECONDS": "2"}) == FileSettings(
        path="/mnt/secrets/db", poll_interval=2.0, reveal=False, health_port=8080
    )
    assert load_file_settings({"KEY_VAULT_URL": "https://kv.vault.azure.net/"}) is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SECRET_FILE": "secrets/db"}, "SECRET_FILE: 'secrets/db' must be an absolute path"),
        ({"SECRET_FILE": "/mnt/x "}, "SECRET_FILE: '/mnt/x ' has leading or trailing whitespace"),
        ({"SECRET_FILE": "/mnt/x", "POLL_INTERVAL_SECONDS": "0"}, "POLL_INTERVAL_SECONDS: '0' must be a positive"),
        ({"SECRET_FILE": "/mnt/x", "REVEAL_SECRET": "maybe"}, "REVEAL_SECRET: 'maybe' must be true/false"),
    ],
)
def test_a_bad_file_mode_variable_is_named_with_its_value_and_rule(environ, message):
    with pytest.raises(ConfigError) as refused:
        load_file_settings(environ)
    assert str(refused.value).startswith(message)


class Loop:
    """A FilePoller on its own thread, its console captured; every wait is on a log line, with a deadline."""

    def __init__(self, path: Path, reveal: bool) -> None:
        self.out = io.StringIO()
        self.health = Health(ready_window=60.0)
        self.stop = threading.Event()
        self._lines = threading.Condition()
        console = Console(self)  # pyright: ignore[reportArgumentType] (a stream with write and flush)
        self.thread = threading.Thread(
            target=FilePoller(str(path), 0.01, reveal, console, self.health, self.stop).run, daemon=True
        )

    def write(self, text: str) -> None:
        with self._lines:
            self.out.write(text)
            self._lines.notify_all()

    def flush(self) -> None:
        pass

    def wait_for(self, fragment: str, count: int = 1) -> str:
        with self._lines:
            assert self._lines.wait_for(lambda: self.out.getvalue().count(fragment) >= count, timeout=10), (
                self.out.getvalue()
            )
            return self.out.getvalue()


def replace(path: Path, value: str) -> None:
    """Write the file as the CSI driver does, atomically: a reader sees the old value or the new one."""
    tmp = path.with_name(".tmp")
    tmp.write_text(value)
    os.replace(tmp, path)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    return tmp_path / "db-password"


@pytest.fixture
def loop(secret_file: Path, request: pytest.FixtureRequest) -> Iterator[Loop]:
    running = Loop(secret_file, reveal=getattr(request, "param", False))
    yield running
    running.stop.set()
    running.thread.join(5)


def test_the_loop_reads_the_file_masked_and_logs_each_change(secret_file: Path, loop: Loop) -> None:
    replace(secret_file, VALUE)
    loop.thread.start()
    loop.wait_for("Your secret is '<hidden: 12 characters>'.")
    assert loop.health.ready()[0]
    replace(secret_file, VALUE + "-rotated")
    shown = loop.wait_for("changed: now '<hidden: 20 characters>'.")
    assert shown.count("changed: now") == 1  # once per change, not once per read
    loop.stop.set()
    loop.thread.join(5)
    assert STOPPED_LINE in loop.out.getvalue()
    assert VALUE not in loop.out.getvalue()


@pytest.mark.parametrize("loop", [True], indirect=True)
def test_reveal_secret_shows_the_value_and_its_change(secret_file: Path, loop: Loop) -> None:
    replace(secret_file, VALUE)
    loop.thread.start()
    loop.wait_for(f"Your secret is '{VALUE}'.")
    replace(secret_file, "next")
    loop.wait_for("changed: now 'next'.")


def test_a_missing_file_is_logged_and_retried_and_not_ready_until_read(secret_file: Path, loop: Loop) -> None:
    loop.thread.start()
    out = loop.wait_for("consecutive failure 2")
    assert f"ERROR Cannot read the secret file {secret_file}: FileNotFoundError" in out
    assert loop.health.ready() == (False, "not ready: no successful read yet")
    replace(secret_file, VALUE)
    loop.wait_for("Your secret is ")
    assert loop.health.ready()[0]


def test_a_poll_interval_beyond_a_day_is_refused_in_both_modes_not_left_to_overflow_the_poll_thread():
    # 1e10 s would raise OverflowError in Event.wait and end the file mode's poll thread.
    too_long = f"POLL_INTERVAL_SECONDS: '1e10' is too long: at most {MAX_POLL_INTERVAL_SECONDS:g} s (a day)"
    with pytest.raises(ConfigError, match=re.escape(too_long)):
        load_file_settings({"SECRET_FILE": "/mnt/x", "POLL_INTERVAL_SECONDS": "1e10"})
    with pytest.raises(ConfigError, match=re.escape(too_long)):
        load_settings(SDK_ENV | {"POLL_INTERVAL_SECONDS": "1e10"})
    day = load_file_settings({"SECRET_FILE": "/mnt/x", "POLL_INTERVAL_SECONDS": "86400"})
    assert day is not None and day.poll_interval == MAX_POLL_INTERVAL_SECONDS


def test_a_bad_interval_in_file_mode_ends_the_process_with_exit_2_and_one_line() -> None:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(APP), "SECRET_FILE": "/mnt/x", "POLL_INTERVAL_SECONDS": "1e10"}
    done = subprocess.run(
        [sys.executable, "-m", "secret_reader"], env=env, capture_output=True, text=True, timeout=10, check=False
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"secret_reader: configuration error: POLL_INTERVAL_SECONDS: '1e10' is too long: at most "
        f"{MAX_POLL_INTERVAL_SECONDS:g} s (a day)"
    ]


def test_secret_file_wins_over_vault_variables_set_alongside():
    environ = {"SECRET_FILE": "/mnt/x", "KEY_VAULT_URL": "https://kv.vault.azure.net/", "SECRET_NAME": "db"}
    assert load_file_settings(environ) == FileSettings(path="/mnt/x", poll_interval=5.0, reveal=False, health_port=8080)


@pytest.mark.parametrize("interval", [0.05, 0.5, 5, 300])
def test_both_modes_share_one_readiness_window(interval: float):
    sdk = load_settings(SDK_ENV | {"POLL_INTERVAL_SECONDS": str(interval)})
    files = FileSettings(path="/mnt/x", poll_interval=interval, reveal=False, health_port=8080)
    assert files.ready_window == sdk.ready_window == ready_window(interval)


def test_a_file_that_is_not_utf8_is_logged_by_its_length_alone(secret_file: Path, loop: Loop) -> None:
    secret_file.write_bytes(b"ab\xffcd")  # UnicodeDecodeError: "can't decode byte 0xff in position 2"
    loop.thread.start()
    out = loop.wait_for("consecutive failure 2")
    assert f"ERROR Cannot read the secret file {secret_file}: it is not UTF-8 text (5 bytes). Retrying" in out
    assert "0xff" not in out and "\\xff" not in out and "position" not in out
    assert not loop.health.ready()[0]


def test_a_file_longer_than_a_key_vault_secret_is_an_error_not_cut_short(secret_file: Path, loop: Loop) -> None:
    secret_file.write_bytes(b"x" * MAX_BYTES + "é".encode())  # MAX_BYTES + 2 bytes, MAX_BYTES + 1 characters
    loop.thread.start()
    out = loop.wait_for("consecutive failure 1")
    assert f"ERROR Cannot read the secret file {secret_file}: it is longer than {MAX_BYTES} bytes" in out
    assert "Your secret is" not in out
    replace(secret_file, "é" * (MAX_BYTES // 2))  # exactly MAX_BYTES bytes: read whole
    loop.wait_for(f"Your secret is '<hidden: {MAX_BYTES // 2} characters>'.")
