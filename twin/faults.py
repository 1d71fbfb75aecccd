"""Faults the twin can inject, switchable per run, and the counters that decide when each one ends.

Each fault is one the real services show (facts: Workload identity, Key Vault): a federated credential or a role
assignment that has not propagated yet, throttling, brief unavailability, dropped connections, and a projected
token that rotates and expires. They are sized by counts (or seconds) so a test stays short.

Time windows all start at one origin, the app's first token request (its first attempt to sign in, a moment
after its first Key Vault challenge), so a run can chain them: federation unpropagated for F seconds, then RBAC
for R more (`rbac_unpropagated_seconds = F + R`), and `FaultState.window_end()` is when the last one ends.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Faults:
    #: The first N token requests fail with AADSTS70021, as while a new federated credential propagates.
    federation_unpropagated_requests: int = 0
    #: ... or every token request in the first T seconds from the first one does.
    federation_unpropagated_seconds: float = 0.0
    #: The first N authorized secret GETs get 403 ForbiddenByRbac, as while a role assignment propagates.
    rbac_unpropagated_gets: int = 0
    #: ... or every authorized secret GET in the first T seconds from the first token request does.
    rbac_unpropagated_seconds: float = 0.0
    #: The first N secret GETs get 429 with `Retry-After: retry_after_seconds`.
    throttled_gets: int = 0
    retry_after_seconds: int = 1
    #: The first N secret GETs get 503 (a burst of unavailability).
    unavailable_gets: int = 0
    #: The first N secret GETs have their connection reset instead of an answer.
    reset_gets: int = 0
    #: The cluster's issuer does not answer (OIDC issuer disabled or unreachable): Entra ID says AADSTS90061.
    issuer_unreachable: bool = False
    #: Lifetime of each projected service-account token; the kubelet rotates it at 80 % of that and the old one
    #: expires. Real tokens live 3600-86400 s.
    token_lifetime_seconds: float = 3600.0


class FaultState:
    """The running counters for one twin run; thread-safe, since the proxy serves requests on threads."""

    def __init__(self, faults: Faults) -> None:
        self.options = faults
        self._first_token_request: float | None = None
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}

    def take(self, name: str) -> bool:
        """True while the fault `name` (a count field of `Faults`) still has uses left, consuming one."""
        with self._lock:
            used = self._used.get(name, 0)
            if used >= getattr(self.options, name):
                return False
            self._used[name] = used + 1
            return True

    def used(self, name: str) -> int:
        with self._lock:
            return self._used.get(name, 0)

    @property
    def origin(self) -> float | None:
        """When the time windows started (`time.monotonic()` of the first token request), once they have."""
        with self._lock:
            return self._first_token_request

    def window_end(self) -> float | None:
        """When the last time window ends (monotonic), once they have started."""
        origin = self.origin
        longest = max(self.options.federation_unpropagated_seconds, self.options.rbac_unpropagated_seconds)
        return None if origin is None else origin + longest

    def federation_unpropagated(self) -> bool:
        """Called once per token request: whether this one fails as if the credential had not propagated."""
        now = time.monotonic()
        with self._lock:
            if self._first_token_request is None:
                self._first_token_request = now
            in_window = now - self._first_token_request < self.options.federation_unpropagated_seconds
        return self.take("federation_unpropagated_requests") or in_window

    def rbac_unpropagated(self) -> bool:
        """Called once per authorized secret GET: whether this one gets 403 as if the role had not propagated."""
        now = time.monotonic()
        with self._lock:
            origin = self._first_token_request
            in_window = origin is not None and now - origin < self.options.rbac_unpropagated_seconds
        return self.take("rbac_unpropagated_gets") or in_window
