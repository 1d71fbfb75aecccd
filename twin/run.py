"""Wiring: the twin's servers configured from the declarations, and the real app run against them.

`Twin.configure(declarations, faults)` builds the issuer (at the cluster's issuer URL), Entra ID (its token
endpoint) and Key Vault (every declared vault's host), routes the proxy to them, and has it apply the declared
NetworkPolicies to the pod's connections. `Twin.launch()` asks the
webhook model what it would inject into the declared pod, has the twin's kubelet write the projected token, and
starts `python -m secret_reader` with the pod template's container env, the injected env, and the transport env
(proxies, CA bundle, HEALTH_PORT=0 so the app picks a free port). Nothing is configured by hand.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

from aks_workload_identity import facts
from twin.entra import HOST as ENTRA_HOST
from twin.entra import Entra
from twin.faults import Faults, FaultState
from twin.issuer import Issuer, ProjectedToken, new_signing_key
from twin.keyvault import KeyVault
from twin.model import Declarations, pod_egress
from twin.proxy import Proxy
from twin.webhook import Admission, admit

REPO = Path(__file__).resolve().parents[1]
APP_DIR = REPO / "app"
GUARD_DIR = Path(__file__).resolve().parent / "guard"
#: What the guard prints when it stops a connection that would have left the machine.
GUARD_MARK = "twin-guard: refused"


@dataclass(frozen=True)
class Keys:
    """The twin's key material; made once per session because RSA key generation is the slow part."""

    ca: trustme.CA
    issuer_key: rsa.RSAPrivateKey
    entra_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> Keys:
        return cls(trustme.CA(), new_signing_key(), new_signing_key())


class Twin:
    def __init__(self, keys: Keys | None = None, workdir: Path | None = None) -> None:
        self.keys = keys or Keys.generate()
        self._tmp = tempfile.TemporaryDirectory(prefix="twin-") if workdir is None else None
        self.workdir = Path(self._tmp.name) if self._tmp else workdir
        self.proxy = Proxy(self.keys.ca, self.workdir)
        #: An HTTPS client that reaches the twin as the pod does (its proxy, its CA) and nothing else: Entra ID's
        #: fetches of the issuer's discovery document and JWKS use it, and so can tests.
        self.client = requests.Session()
        self.client.trust_env = False
        self.client.proxies = {"https": self.proxy.url}
        self.client.verify = str(self.proxy.ca_bundle)
        #: Azure's own client (Entra ID fetching the issuer's discovery document and JWKS): the pod's
        #: NetworkPolicies do not apply to it.
        self._azure = requests.Session()
        self._azure.trust_env = False
        self._azure.proxies = {"https": self.proxy.azure_url}
        self._azure.verify = str(self.proxy.ca_bundle)
        self.declarations: Declarations | None = None

    def __enter__(self) -> Twin:
        self.proxy.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proxy.stop()
        self.client.close()
        self._azure.close()
        if self._tmp:
            self._tmp.cleanup()

    def configure(self, declarations: Declarations, faults: Faults | None = None) -> None:
        """Rebuilds every server from `declarations` and resets all counters."""
        self.declarations = declarations
        self.faults = FaultState(faults or Faults())
        self.issuer = Issuer(declarations.cluster.issuer_url, self.keys.issuer_key)
        self.entra = Entra(declarations, self.keys.entra_key, self._fetch_json, self.faults)
        self.keyvault = KeyVault(declarations, self.keys.entra_key, facts.DEFAULT_AUTHORITY_HOST, self.faults)
        routes = {ENTRA_HOST: self.entra.handle}
        if not self.faults.options.issuer_unreachable:
            routes[self.issuer.host] = self.issuer.handle
        routes.update({host: self.keyvault.handle for host in self.keyvault.hosts})
        self.proxy.routes = routes
        self.proxy.egress = self._pod_egress if declarations.network_policies else None
        self.proxy.reset_counters()
        self.client.close()  # no tunnel kept from the previous configuration
        self._azure.close()

    def _pod_egress(self, host: str, port: int) -> str | None:
        assert self.declarations is not None
        verdict = pod_egress(self.declarations, host, port)
        return None if verdict.allowed else verdict.reason

    def _fetch_json(self, url: str) -> dict:
        response = self._azure.get(url, timeout=5)
        response.raise_for_status()
        return response.json()

    def launch(
        self,
        poll_interval: float = 0.05,
        on_line: Callable[[str], None] | None = None,
    ) -> App:
        """Admits the declared pod through the webhook model and starts the real app as that pod's container."""
        assert self.declarations is not None, "configure() first"
        pod_dir = Path(tempfile.mkdtemp(prefix="pod-", dir=self.workdir))
        token_file = pod_dir / "tokens" / "azure-identity-token"
        admission = admit(self.declarations, str(token_file))
        token = None
        if admission.mutated:
            token = ProjectedToken(
                self.issuer,
                token_file,
                admission.token_subject,
                admission.token_audience,
                self.faults.options.token_lifetime_seconds,
            )
            token.start()
        env = {
            "PATH": os.path.dirname(sys.executable),  # a container has no az, pwsh or azd either
            "HOME": str(pod_dir),
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([str(GUARD_DIR), str(APP_DIR)]),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.declarations.workload.env,
            **admission.env,
            **self.transport_env(),
            "POLL_INTERVAL_SECONDS": str(poll_interval),
        }
        return App(env, admission, token, pod_dir, on_line)

    def transport_env(self) -> dict[str, str]:
        return {
            "HTTPS_PROXY": self.proxy.url,
            "HTTP_PROXY": self.proxy.url,
            "NO_PROXY": "",
            "REQUESTS_CA_BUNDLE": str(self.proxy.ca_bundle),
            # 0: the app picks a free port and announces it (see `App.health_port`), so nothing can take it first.
            "HEALTH_PORT": "0",
        }


class App:
    """The app's process: its merged stdout/stderr as timestamped lines, and a SIGTERM stop."""

    def __init__(
        self,
        env: dict[str, str],
        admission: Admission,
        token: ProjectedToken | None,
        pod_dir: Path,
        on_line: Callable[[str], None] | None,
    ) -> None:
        self.env = env
        self.admission = admission
        self.token = token
        self.pod_dir = pod_dir
        self.lines: list[tuple[float, str]] = []
        self.started = time.monotonic()
        self._on_line = on_line
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "secret_reader"],
            env=env,
            cwd=pod_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, name="app-log", daemon=True)
        self._reader.start()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            line = line.rstrip("\n")
            with self._changed:
                self.lines.append((time.monotonic(), line))
                self._changed.notify_all()
            if self._on_line:
                self._on_line(line)
        with self._changed:
            self._changed.notify_all()

    @property
    def log(self) -> str:
        return "\n".join(line for _, line in self.lines)

    @property
    def last_line(self) -> str:
        """The app's last non-blank line (its stdout and stderr are one stream), e.g. why it exited."""
        return next((line for _, line in reversed(self.lines) if line.strip()), "")

    @property
    def health_port(self) -> int | None:
        """The port the app announced for its health endpoints, once it has started."""
        for _, line in self.lines:
            if found := re.search(r"on port (\d+)\.$", line):
                return int(found[1])
        return None

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        return sum(1 for _, line in self.lines if regex.search(line))

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 15) -> bool:
        """Waits until `count` log lines match `pattern`; False on timeout or if the app exits first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.count(pattern) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    return self.count(pattern) >= count
                self._changed.wait(min(remaining, 0.2))
        return True

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, as the kubelet sends it; SIGKILL after `timeout` (the grace period). Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        if self.token:
            self.token.stop()
        return self.process.returncode
