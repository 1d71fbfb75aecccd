"""Wiring: the twin's servers configured from the declarations, and the real app run against them.

`Twin.configure(declarations, faults)` builds the issuer (at the cluster's issuer URL), Entra ID (its token
endpoint) and Key Vault (every declared vault's host), routes the proxy to them, and has it apply the declared
NetworkPolicies to each pod's connections. `Twin.launch(workload=...)` asks the webhook model what it would inject
into that workload's pod, has the twin's kubelet write the projected token, and starts `python -m secret_reader`
with the pod template's container env, the injected env, and the transport env (the pod's own proxy listener, CA
bundle, HEALTH_PORT=0 so the app picks a free port). Nothing is configured by hand.

`run_all(program, ...)` does all of it for every workload a program declares, side by side, and returns each
one's result (`read_all` does the same on a twin already configured).
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

from aks_workload_identity import facts
from twin.chain import BROKEN, Link, trust_chain
from twin.csi import Mount, MountFailed, SecretsStore, files_chain
from twin.declared import from_program
from twin.entra import HOST as ENTRA_HOST
from twin.entra import Entra
from twin.faults import Faults, FaultState
from twin.issuer import Clock, Issuer, ProjectedToken, new_signing_key
from twin.keyvault import KeyVault
from twin.mocks import Program
from twin.model import Declarations, Workload, address_of, pod_egress
from twin.netpol import Pod
from twin.proxy import Proxy
from twin.webhook import Admission, PodRejected, admit

REPO = Path(__file__).resolve().parents[1]
APP_DIR = REPO / "app"
GUARD_DIR = Path(__file__).resolve().parent / "guard"
#: What the guard prints when it stops a connection that would have left the machine.
GUARD_MARK = "twin-guard: refused"
#: The app's log line for each successful read.
READ_LINE = r"^Your secret is "


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
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="twin-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.proxy = Proxy(self.keys.ca, self.workdir)
        #: An HTTPS client on the internet, outside the cluster's network (public DNS, no NetworkPolicy), that
        #: reaches the twin and nothing else; for tests. `pod_client(workload)` is one inside a pod.
        self.client = self._session(self.proxy.url)
        #: Azure's own client (Entra ID fetching the issuer's discovery document and JWKS): no pod's
        #: NetworkPolicies apply to it.
        self._azure = self._session(self.proxy.azure_url)
        self._pod_clients: list[requests.Session] = []
        self.declarations: Declarations | None = None
        #: The node's Secrets Store CSI driver and Azure provider: mounts pods' CSI volumes (`twin.csi`).
        self.secrets_store = SecretsStore(self)

    def _session(self, proxy_url: str) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.proxies = {"https": proxy_url, "http": proxy_url}
        session.verify = str(self.proxy.ca_bundle)
        return session

    def pod_client(self, workload: Workload) -> requests.Session:
        """An HTTPS client inside the workload's pod: the cluster's DNS and the pod's NetworkPolicies apply."""
        session = self._session(self.proxy.pod_url(workload.pod))
        self._pod_clients.append(session)
        return session

    def __enter__(self) -> Twin:
        self.proxy.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.secrets_store.stop()
        self.proxy.stop()
        for session in [self.client, self._azure, *self._pod_clients]:
            session.close()
        if self._tmp:
            self._tmp.cleanup()

    def configure(self, declarations: Declarations, faults: Faults | None = None) -> None:
        """Rebuilds every server from `declarations` and resets all counters."""
        self.declarations = declarations
        self.secrets_store.stop()
        self.secrets_store = SecretsStore(self)
        self.faults = FaultState(faults or Faults())
        #: The cluster's and Entra ID's wall clock; a test moves it forward to let token lifetimes pass.
        self.clock = Clock()
        self.issuer = Issuer(declarations.cluster.issuer_url, self.keys.issuer_key, self.clock)
        self.entra = Entra(declarations, self.keys.entra_key, self._fetch_json, self.faults, self.clock)
        self.keyvault = KeyVault(
            declarations, self.keys.entra_key, facts.DEFAULT_AUTHORITY_HOST, self.faults, self.clock
        )
        routes = {ENTRA_HOST: self.entra.handle}
        if not self.faults.options.issuer_unreachable:
            routes[self.issuer.host] = self.issuer.handle
        routes.update({host: self.keyvault.handle for host in self.keyvault.hosts})
        self.proxy.routes = routes
        self.proxy.cluster_dns = lambda host: address_of(declarations, host)
        self.proxy.egress = self._pod_egress if declarations.network_policies else None
        self.proxy.reset_counters()
        for session in [self.client, self._azure, *self._pod_clients]:
            session.close()  # no tunnel kept from the previous configuration

    def _pod_egress(self, pod: Pod, host: str, port: int) -> str | None:
        assert self.declarations is not None
        verdict = pod_egress(self.declarations, pod, host, port)
        return None if verdict.allowed else verdict.reason

    def _fetch_json(self, url: str) -> dict:
        response = self._azure.get(url, timeout=5)
        response.raise_for_status()
        return response.json()

    def launch(
        self,
        poll_interval: float = 0.05,
        on_line: Callable[[str], None] | None = None,
        workload: Workload | str | None = None,
    ) -> App:
        """Admits a pod of `workload` through the webhook model and starts the real app as its container.

        `workload` is a declared workload's name, a `Workload` record (a declared one, or one changed to run its
        pod differently, e.g. with another env), or None for the stack's only workload. Raises `PodRejected` when
        the API server would refuse the pod.
        """
        assert self.declarations is not None, "configure() first"
        pod = self._workload(workload)
        pod_dir = Path(tempfile.mkdtemp(prefix=f"pod-{pod.name}-", dir=self.workdir))
        token_file = pod_dir / "tokens" / "azure-identity-token"
        admission = admit(self.declarations, pod, str(token_file))
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
        try:
            mount = self.secrets_store.mount(pod, pod_dir)
        except MountFailed:
            if token:
                token.stop()
            raise
        env = {
            "PATH": os.path.dirname(sys.executable),  # a container has no az, pwsh or azd either
            "HOME": str(pod_dir),
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([str(GUARD_DIR), str(APP_DIR)]),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **pod.env,
            **(mount.env(pod.env) if mount else {}),
            **admission.env,
            **self.transport_env(pod),
            "POLL_INTERVAL_SECONDS": str(poll_interval),
        }
        return App(pod, env, admission, token, pod_dir, on_line, mount)

    def _workload(self, workload: Workload | str | None) -> Workload:
        assert self.declarations is not None
        if isinstance(workload, Workload):
            return workload
        if workload is not None:
            return self.declarations.workload(workload)
        if len(self.declarations.workloads) != 1:
            names = [w.name for w in self.declarations.workloads]
            raise ValueError(f"the stack declares {len(names)} workloads {names}: launch() needs one of them")
        return self.declarations.workloads[0]

    def transport_env(self, pod: Workload) -> dict[str, str]:
        """How the pod's container reaches the twin: its own way out through the proxy, and the twin's CA."""
        proxy = self.proxy.pod_url(pod.pod)
        return {
            "HTTPS_PROXY": proxy,
            "HTTP_PROXY": proxy,
            "NO_PROXY": "",
            "REQUESTS_CA_BUNDLE": str(self.proxy.ca_bundle),
            # 0: the app picks a free port and announces it (see `App.health_port`), so nothing can take it first.
            "HEALTH_PORT": "0",
        }


class App:
    """The app's process: its merged stdout/stderr as timestamped lines, and a SIGTERM stop."""

    def __init__(
        self,
        workload: Workload,
        env: dict[str, str],
        admission: Admission,
        token: ProjectedToken | None,
        pod_dir: Path,
        on_line: Callable[[str], None] | None,
        mount: Mount | None = None,
    ) -> None:
        #: The workload whose pod this is, as it was launched.
        self.workload = workload
        self.env = env
        self.admission = admission
        self.token = token
        self.pod_dir = pod_dir
        #: The pod's CSI volume, when it has one (`twin.csi`).
        self.mount = mount
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
        if self.mount:
            self.mount.mounted = False
        return self.process.returncode


# --- every workload of a stack, side by side ---------------------------------------------------------------------


@dataclass(frozen=True)
class WorkloadResult:
    """One workload's run: its app's reads, how it ended, and its trust chain as the twin saw it."""

    workload: Workload
    #: Successful reads the app logged, and those Key Vault served to the pod's identity for its own secret.
    reads: int
    served: int
    #: Seconds from the app's start to its `wanted`-th read; None when it did not get there.
    seconds: float | None
    #: The app's exit code after the twin stopped it (or on its own: `exited_early`); None if never started.
    exit_code: int | None
    exited_early: bool
    last_line: str
    log: str
    links: tuple[Link, ...]
    #: Why the pod did not start (empty when it did): the API server refused it, or the kubelet could not mount it.
    rejected: str = ""
    #: The refusal is the kubelet's failed CSI mount (`MountFailed`), not the API server's.
    mount_failed: bool = False

    @property
    def name(self) -> str:
        return self.workload.name

    @property
    def read(self) -> bool:
        """The app read its secret as often as asked, and the twin served each of those reads."""
        return self.seconds is not None and self.served >= self.reads

    @property
    def ok(self) -> bool:
        """It read, no link of its chain is broken, and it reached nothing but the twin."""
        broken = any(link.status == BROKEN for link in self.links)
        return self.read and not broken and not self.rejected and GUARD_MARK not in self.log


@dataclass(frozen=True)
class Results:
    """Every workload's result and the twin's counters, for one run of all of a stack's workloads."""

    workloads: tuple[WorkloadResult, ...]
    #: The reads each app was asked for.
    reads: int
    #: Wall time from the first app's start to the last one's `reads`-th read (or the time-out).
    seconds: float
    token_requests: int
    challenges: int
    gets: int
    #: Connections any app tried that the twin does not serve, and those the NetworkPolicies dropped.
    refused: tuple[str, ...]
    dropped: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return all(w.ok for w in self.workloads) and not self.refused

    def of(self, name: str) -> WorkloadResult:
        return next(w for w in self.workloads if w.name == name)


def read_all(
    twin: Twin,
    reads: int = 3,
    poll_interval: float = 0.05,
    timeout: float = 60.0,
    on_line: Callable[[str, str], None] | None = None,
) -> Results:
    """Starts every declared workload's app at once on a configured twin, waits until each has logged `reads`
    reads (at most `timeout` seconds in all), stops them, and reports each one. `on_line(workload, line)` sees
    every log line as it comes."""
    declarations = twin.declarations
    assert declarations is not None, "configure() first"
    started = time.monotonic()
    apps: dict[str, App] = {}
    rejected: dict[str, PodRejected] = {}
    try:
        for workload in declarations.workloads:
            printer = functools.partial(on_line, workload.name) if on_line else None
            try:
                apps[workload.name] = twin.launch(poll_interval, printer, workload)
            except PodRejected as refusal:
                rejected[workload.name] = refusal
        for app in apps.values():
            app.wait_for(READ_LINE, reads, max(0.0, started + timeout - time.monotonic()))
        seconds = time.monotonic() - started
        exited = {name: app.process.poll() is not None for name, app in apps.items()}
    finally:
        with ThreadPoolExecutor(max_workers=max(1, len(apps))) as pool:
            list(pool.map(App.stop, apps.values()))
    results = []
    for workload in declarations.workloads:
        app = apps.get(workload.name)
        if app is None:
            results.append(
                WorkloadResult(
                    workload=workload,
                    reads=0,
                    served=0,
                    seconds=None,
                    exit_code=None,
                    exited_early=False,
                    last_line="",
                    log="",
                    links=(),
                    rejected=str(rejected[workload.name]),
                    mount_failed=isinstance(rejected[workload.name], MountFailed),
                )
            )
            continue
        results.append(_result(twin, app, reads, exited[workload.name]))
    return Results(
        workloads=tuple(results),
        reads=reads,
        seconds=seconds,
        token_requests=twin.entra.token_requests,
        challenges=twin.keyvault.challenges,
        gets=twin.keyvault.gets,
        refused=tuple(twin.proxy.refused),
        dropped=tuple(twin.proxy.dropped),
    )


def _result(twin: Twin, app: App, wanted: int, exited_early: bool) -> WorkloadResult:
    assert twin.declarations is not None
    pod = app.workload
    # A files-only pod has no vault URL: its chain is the CSI driver's alone.
    links = (
        trust_chain(twin.declarations, pod, app.admission, list(twin.entra.grants), list(twin.keyvault.reads))
        if pod.vault_url
        else []
    )
    if app.mount:
        links += files_chain(twin, pod, app.mount.spc, mounted=True)
    client_id = app.env.get("AZURE_CLIENT_ID", "")
    served = sum(
        1
        for r in twin.keyvault.reads
        if r.client_id == client_id
        and r.vault.uri.rstrip("/") == pod.vault_url.rstrip("/")
        and r.secret.name.lower() == pod.secret_name.lower()
    )
    read_at = [at for at, line in app.lines if re.search(READ_LINE, line)]
    if facts.SECRET_FILE_ENV in pod.env:
        # The app read the mount, which holds what the provider read from Key Vault before the pod started.
        served = len(read_at) if app.mount else 0
    return WorkloadResult(
        workload=pod,
        reads=len(read_at),
        served=served,
        seconds=read_at[wanted - 1] - app.started if len(read_at) >= wanted else None,
        exit_code=app.process.returncode,
        exited_early=exited_early,
        last_line=app.last_line,
        log=app.log,
        links=tuple(links),
    )


def run_all(
    program: Program,
    reads: int = 3,
    poll_interval: float = 0.05,
    timeout: float = 60.0,
    keys: Keys | None = None,
    on_line: Callable[[str, str], None] | None = None,
) -> Results:
    """The twin end to end for `program`, every workload at once; for `python -m twin` and the benches.

    The program's declarations configure one twin (`keys`, if given, spares generating its RSA keys again);
    every declared workload's pod is admitted and its real app started, polling every `poll_interval` seconds,
    until each has logged `reads` successful reads or `timeout` seconds have passed in all; then the apps get
    SIGTERM. Returns a `Results`: per workload (`Results.workloads`, or `Results.of(name)`) the reads the app
    logged and Key Vault served, the seconds to its `reads`-th read (None if it did not get there), its exit
    code, its trust chain and `ok`; for the run, the wall time in `seconds` (first start to last read), the
    twin's counters, and any connection refused or dropped. `Results.ok` says whether every workload read
    through an unbroken chain. Raises `ValueError` when the twin cannot model the program.
    """
    declarations = from_program(program)
    with Twin(keys) as twin:
        twin.configure(declarations)
        return read_all(twin, reads, poll_interval, timeout, on_line)
