"""The poll loop: read the secret every interval; survive every failure instead of crashing.

Failures the SDK does not retry (401/403 while RBAC propagates, AADSTS70021 while a federated credential
propagates, 404) and the ones it gave up on (429/5xx/network after its own 5 retries, each announced in a log
line) are each logged as one line; then the loop waits and tries again:

- until the first successful read, after one poll interval scaled by a random 90-100 %: a pod becomes ready
  within about one interval of the chain starting to work, which is when `pulumi up` can finish. That rate is
  far below the services' limits (facts.py: Throttling);
- after it, min(interval x 2^(n-1), Settings.backoff_cap) after the n-th consecutive failure, scaled by a
  random 50-100 %, so replicas that fail together do not retry in step; a success resets it.
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import RetryMode, RetryPolicy
from azure.identity import WorkloadIdentityCredential
from azure.keyvault.secrets import SecretClient

from secret_reader.config import Settings
from secret_reader.console import Console, mask, one_line
from secret_reader.diagnose import Context, describe
from secret_reader.health import Health

#: The walkthrough's SecretClient retry policy (exponential, 2 s factor, 16 s cap, 5 retries), in azure-core's
#: RetryPolicy keywords, for Key Vault and Entra ID alike. azure-core retries 408, 429, 5xx and network errors,
#: never 401/403 (facts: Key Vault), so the loop must survive those itself. It retries the first failure at
#: once, then waits 4, 8, 16, 16 s (or a Retry-After): 44 s in all, each retry announced by AnnouncedRetryPolicy.
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


# Read-only, as azure-keyvault-secrets' KeyVaultSecret exposes them.
class SecretProperties(Protocol):
    @property
    def version(self) -> str | None: ...


class Secret(Protocol):
    @property
    def value(self) -> str | None: ...
    @property
    def properties(self) -> SecretProperties: ...


class SecretSource(Protocol):
    def get_secret(self, name: str, version: str | None = None) -> Secret: ...


class AnnouncedRetryPolicy(RetryPolicy):
    """azure-core's retry policy, logging one line per retry: without it a network failure is 44 s of silence.

    The line names the host, the status code or the exception, and the wait; never a header, body or query.
    """

    def __init__(self, console: Console, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._console = console

    def sleep(self, settings: dict[str, Any], transport: Any, response: Any = None) -> None:
        history = settings["history"]
        if history:
            last = history[-1]
            host = urlsplit(last.http_request.url).hostname
            if last.error is not None:
                failure = f"{type(last.error).__name__}: {one_line(str(last.error), 300)}"
            else:
                failure = f"HTTP {last.http_response.status_code}"
            wait = (self.get_retry_after(response) if response is not None else None) or self.get_backoff_time(settings)
            self._console.log(
                "WARNING",
                f"Request to {host} failed ({failure}); the Azure SDK retries in {wait:g} s "
                f"(retry {len(history)} of {self.total_retries}).",
            )
        super().sleep(settings, transport, response)


def workload_identity_credential(settings: Settings, console: Console) -> WorkloadIdentityCredential:
    """The only credential the app uses (no fallback to the node's identity); raises ValueError for a bad
    AZURE_AUTHORITY_HOST. It caches its token for the token's lifetime (facts: Entra ID token exchange)."""
    identity = settings.identity
    authority = {"authority": identity.authority_host} if identity.authority_host else {}
    return WorkloadIdentityCredential(
        tenant_id=identity.tenant_id,
        client_id=identity.client_id,
        token_file_path=identity.token_file,
        retry_policy_class=functools.partial(AnnouncedRetryPolicy, console),
        **authority,
        **SDK_RETRY_POLICY,
        **SDK_TIMEOUTS,
    )


def secret_client(settings: Settings, credential: TokenCredential, console: Console) -> SecretClient:
    """One client for the process's life: the credential caches tokens and the client caches the challenge."""
    retry = AnnouncedRetryPolicy(console, **SDK_RETRY_POLICY)
    return SecretClient(settings.vault_url, credential, retry_policy=retry, **SDK_TIMEOUTS)


def retry_delay(
    failures: int, settings: Settings, *, read_before: bool, jitter: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after `failures` consecutive failures (the rules in this module's docstring)."""
    if not read_before:
        return settings.poll_interval * (0.9 + 0.1 * jitter())
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
        read_before = False
        while not self._stop.is_set():
            self._health.beat(REQUEST_STALL_SECONDS)
            self._console.say(f"Retrieving your secret from {self._settings.vault_name}.")
            try:
                secret = self._client.get_secret(self._settings.secret_name, self._settings.version)
            except Exception as exc:  # any failure is logged and retried, never fatal
                failures += 1
                self._health.failed()
                delay = retry_delay(failures, self._settings, read_before=read_before)
                retry = f"Retrying in {delay:.2f} s (consecutive failure {failures})."
                self._console.log("ERROR", f"{describe(exc, self._context)} {retry}")
            else:
                if failures:
                    again = "again " if read_before else ""
                    self._console.log("INFO", f"Read the secret {again}after {failures} failed attempts.")
                failures = 0
                read_before = True
                delay = self._settings.poll_interval
                self._health.succeeded()
                value = secret.value or ""
                shown = value if self._settings.reveal else mask(value, secret.properties.version)
                self._console.say(f"Your secret is '{shown}'.")
            delay = min(delay, threading.TIMEOUT_MAX)
            self._health.beat(delay)
            self._stop.wait(delay)
        self._console.log("INFO", STOPPED_LINE)
