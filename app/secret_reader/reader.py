"""The poll loop: read the secret every interval; survive every failure with a backoff instead of crashing.

Failures the SDK does not retry (401/403 while RBAC propagates, AADSTS70021 while a federated credential
propagates, 404, a pod without workload identity) and the ones it gave up on (429/5xx/network after its own
5 retries) are each logged as one line; then the loop waits and tries again. The wait after the n-th
consecutive failure is min(interval x 2^(n-1), Settings.backoff_cap) scaled by a random 50-100 % (jitter, so
many replicas do not retry in step); a success resets it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Protocol

from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import RetryMode
from azure.keyvault.secrets import SecretClient

from secret_reader.config import Settings
from secret_reader.console import Console, mask
from secret_reader.diagnose import Context, describe
from secret_reader.health import Health

#: The walkthrough's SecretClient retry policy (exponential, 2 s factor, 16 s cap, 5 retries), in azure-core's
#: RetryPolicy keywords. azure-core retries 408, 429 and 5xx only, never 401/403 (facts: Key Vault), so the
#: loop must survive those itself. azure-core retries the first failure at once, then waits 4, 8, 16, 16 s.
SDK_RETRY_POLICY: dict[str, object] = {
    "retry_mode": RetryMode.Exponential,
    "retry_backoff_factor": 2,
    "retry_backoff_max": 16,
    "retry_total": 5,
    "retry_connect": 5,
    "retry_read": 5,
    "retry_status": 5,
}
#: Transport timeouts (seconds) so a silent network cannot hang a poll: 6 attempts x (10 + 30) s plus the
#: backoffs above stay under REQUEST_STALL_SECONDS. The credential gets them too.
SDK_TIMEOUTS = {"connection_timeout": 10, "read_timeout": 30}
#: A single poll (token, challenge, GET, SDK retries) that takes longer than this counts as stalled.
REQUEST_STALL_SECONDS = 300.0
#: What the loop logs as it returns, so an exit shows the loop itself stopped, not only the process.
STOPPED_LINE = "Poll loop stopped."


class SecretProperties(Protocol):
    version: str | None


class Secret(Protocol):
    value: str | None
    properties: SecretProperties


class SecretSource(Protocol):
    def get_secret(self, name: str, version: str | None = None) -> Secret: ...


def secret_client(settings: Settings, credential: TokenCredential) -> SecretClient:
    """One client for the process's life: the credential caches tokens and the client caches the challenge."""
    return SecretClient(settings.vault_url, credential, **SDK_RETRY_POLICY, **SDK_TIMEOUTS)


def backoff(failures: int, settings: Settings, jitter: Callable[[], float] = random.random) -> float:
    """Seconds to wait after `failures` consecutive failures (the rule in this module's docstring)."""
    delay = min(settings.poll_interval * 2.0 ** min(failures - 1, 60), settings.backoff_cap)
    return delay * (0.5 + 0.5 * jitter())


class Poller:
    """Reads the secret until `stop` is set; every wait is on `stop`, so a signal ends it at once."""

    def __init__(
        self,
        settings: Settings,
        client: SecretSource,
        context: Context,
        console: Console,
        health: Health,
        stop: threading.Event,
    ) -> None:
        self._settings = settings
        self._client = client
        self._context = context
        self._console = console
        self._health = health
        self._stop = stop

    def run(self) -> None:
        """Poll until stopped; never raises for a failed read."""
        failures = 0
        while not self._stop.is_set():
            self._health.beat(REQUEST_STALL_SECONDS)
            self._console.say(f"Retrieving your secret from {self._settings.vault_name}.")
            try:
                secret = self._client.get_secret(self._settings.secret_name, self._settings.version)
            except Exception as exc:  # any failure is logged and retried, never fatal
                failures += 1
                delay = backoff(failures, self._settings)
                retry = f"Retrying in {delay:.2f} s (consecutive failure {failures})."
                self._console.log("ERROR", f"{describe(exc, self._context)} {retry}")
            else:
                if failures:
                    self._console.log("INFO", f"Read the secret again after {failures} failed attempts.")
                failures = 0
                delay = self._settings.poll_interval
                self._health.succeeded()
                value = secret.value or ""
                shown = value if self._settings.reveal else mask(value, secret.properties.version)
                self._console.say(f"Your secret is '{shown}'.")
            delay = min(delay, threading.TIMEOUT_MAX)
            self._health.beat(delay)
            self._stop.wait(delay)
        self._console.log("INFO", STOPPED_LINE)
