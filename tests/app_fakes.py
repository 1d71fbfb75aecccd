"""Small scripted fakes of Entra ID and Key Vault for the app's tests, and a handle on the app process.

The transport is the twin's (`twin.proxy.Proxy`): the app keeps its real hostnames and reaches the fakes through
the proxy as its HTTPS_PROXY/HTTP_PROXY, with the proxy's test CA trusted through REQUESTS_CA_BUNDLE; the proxy
answers IMDS itself, resets a connection for `RESET` and refuses every other host. The app's interpreter also
carries the twin's loopback guard, so nothing can leave the machine even if a library ignored the proxy.
What stays here is what these tests are about: reply queues that script each service's next answers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from http.client import HTTPConnection
from pathlib import Path

import trustme

from twin.messages import Request, Response, json_response
from twin.proxy import Proxy
from twin.run import GUARD_DIR

APP_DIR = Path(__file__).resolve().parent.parent / "app"
#: How long a wait for the app may take before it counts as a hang: far above what any step takes even on a busy
#: machine, so it never measures speed (`tests/app_bench.py` does).
HANG_SECONDS = 60.0
LOGIN_HOST = "login.microsoftonline.com"
VAULT_SUFFIX = "vault.azure.net"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
#: A tenant that is not the identity's: a vault there names it in its challenge.
OTHER_TENANT_ID = "0f6a3c1e-2b4d-4e8f-9a7c-5d3e1b2a4c6f"
CLIENT_ID = "5b1f3a2c-8d4e-4f6a-9b7c-1e2d3f4a5b6c"
VAULT_NAME = "wi-demo-kv"
VAULT_HOST = f"{VAULT_NAME}.{VAULT_SUFFIX}"
SECRET_NAME = "Secret"
#: The version every fake secret GET answers with.
SECRET_VERSION = "0123456789abcdef0123456789abcdef"
ACCESS_TOKEN = "fake-access-token-Zm9vYmFy"
SERVICE_ACCOUNT_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDp3aSJ9.c2ln"


def challenge(tenant: str = TENANT_ID) -> str:
    """Key Vault's bearer challenge, naming the vault's tenant."""
    return f'Bearer authorization="https://{LOGIN_HOST}/{tenant}", resource="https://vault.azure.net"'


def entra_error(code: int, error: str = "invalid_client", status: int = 400) -> Response:
    """An Entra ID token-endpoint error, shaped like the real ones."""
    texts = {
        700211: "No matching federated identity record found for presented assertion issuer "
        "'https://oidc.example/abc/'. Please check your federated identity credential Subject, Audience "
        "and Issuer against the presented assertion.",
        70021: "No matching federated identity record found for presented assertion. "
        "Assertion Issuer: 'https://oidc.example/abc/'. "
        "Assertion Subject: 'system:serviceaccount:default:wi'.",
        700016: f"Application with identifier '{CLIENT_ID}' was not found in the directory '{TENANT_ID}'.",
        90061: "Request to External OIDC endpoint failed.",
    }
    description = f"AADSTS{code}: {texts.get(code, 'Error.')}\r\nTrace ID: 0000\r\nCorrelation ID: 1111"
    return json_response(status, {"error": error, "error_description": description, "error_codes": [code]})


def key_vault_error(status: int, code: str, inner: str | None = None, **headers: str) -> Response:
    """A Key Vault data-plane error, shaped like the real ones."""
    error: dict[str, object] = {
        "code": code,
        "message": f"{code}: a message from the fake.\r\nVault: {VAULT_NAME}",
    }
    if inner:
        error["innererror"] = {"code": inner}
    if status == 401:
        headers = {"WWW-Authenticate": challenge(), **headers}
    return json_response(status, {"error": error}, headers)


def start_proxy(workdir: Path) -> Proxy:
    """The twin's proxy with a throwaway CA; one can serve many `FakeAzure`s in turn (each installs its routes)."""
    proxy = Proxy(trustme.CA(), workdir)
    proxy.start()
    return proxy


class FakeAzure:
    """Scripted Entra ID and Key Vault behind the twin's proxy; script replies, then read what the app asked.

    Given a running `proxy`, it takes the proxy's routes and counters over until closed; otherwise it starts its
    own (stopping a proxy takes up to half a second, so the tests share one).
    """

    def __init__(self, workdir: Path, secret_value: str = "Hello", proxy: Proxy | None = None) -> None:
        self.secret_value = secret_value
        #: The tenant Key Vault's challenge names; another than TENANT_ID makes azure-identity refuse.
        self.vault_tenant = TENANT_ID
        self.token_forms: list[dict[str, str]] = []
        self._counts: Counter[str] = Counter()
        self._token_script: deque[Response] = deque()
        self._secret_script: deque[Response] = deque()
        self._secret_default: Response | None = None
        self._lock = threading.Lock()
        self.token_file = workdir / "azure-identity-token"
        self.token_file.write_text(SERVICE_ACCOUNT_TOKEN)
        self._owns_proxy = proxy is None
        self.proxy = start_proxy(workdir) if proxy is None else proxy
        self.proxy.routes = {LOGIN_HOST: self._token, VAULT_HOST: self._vault}
        self.proxy.reset_counters()

    def close(self) -> None:
        self.proxy.routes = {}
        if self._owns_proxy:
            self.proxy.stop()

    def __enter__(self) -> FakeAzure:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scripting ---------------------------------------------------------------------------------------

    def script_token(self, *replies: Response) -> None:
        """Answer the next token requests with these, then succeed."""
        with self._lock:
            self._token_script.extend(replies)

    def script_secret(self, *replies: Response) -> None:
        """Answer the next authorized secret GETs with these, then succeed (or `fail_secret_reads`)."""
        with self._lock:
            self._secret_script.extend(replies)

    def fail_secret_reads(self, reply: Response | None) -> None:
        """Answer every unscripted authorized GET with `reply` (None: succeed again)."""
        with self._lock:
            self._secret_default = reply

    def count(self, what: str) -> int:
        """Requests seen: token, challenge (401 to an unauthorized GET), get, reset, imds, refused."""
        if what == "imds":
            return self.proxy.imds_requests
        if what == "refused":
            return len(self.proxy.refused)
        with self._lock:
            return self._counts[what]

    def env(self, *, workload_identity: bool = True) -> dict[str, str]:
        """Variables routing the app's traffic here, with the webhook's injected variables unless told not."""
        env = {
            "HTTPS_PROXY": self.proxy.url,
            "HTTP_PROXY": self.proxy.url,
            "NO_PROXY": "",
            "no_proxy": "",
            "REQUESTS_CA_BUNDLE": str(self.proxy.ca_bundle),
        }
        if workload_identity:
            env |= {
                "AZURE_CLIENT_ID": CLIENT_ID,
                "AZURE_TENANT_ID": TENANT_ID,
                "AZURE_FEDERATED_TOKEN_FILE": str(self.token_file),
                "AZURE_AUTHORITY_HOST": f"https://{LOGIN_HOST}/",
            }
        return env

    # --- the routes --------------------------------------------------------------------------------------

    def _next(self, script: deque[Response], otherwise: Response, what: str) -> Response:
        with self._lock:
            self._counts[what] += 1
            reply = script.popleft() if script else otherwise
            if reply.reset:
                self._counts["reset"] += 1
            return reply

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            return json_response(404, {"error": "no such fake endpoint"})
        if request.path != f"/{TENANT_ID}/oauth2/v2.0/token":
            unknown = {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."}
            return json_response(404, unknown)
        with self._lock:
            self.token_forms.append(request.form())
        token = {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": ACCESS_TOKEN}
        return self._next(self._token_script, json_response(200, token), "token")

    def _vault(self, request: Request) -> Response:
        if request.method != "GET":
            return json_response(404, {"error": "no such fake endpoint"})
        if request.header("Authorization") != f"Bearer {ACCESS_TOKEN}":
            # Key Vault's answer to a request without a (valid) token: 401 with the challenge.
            with self._lock:
                self._counts["challenge"] += 1
            error = {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}
            return json_response(401, {"error": error}, {"WWW-Authenticate": challenge(self.vault_tenant)})
        match = re.fullmatch(r"/secrets/(?P<name>[^/]+)/?(?P<version>[0-9a-f]{32})?", request.path)
        if match is None or match["name"] != SECRET_NAME:
            with self._lock:
                self._counts["get"] += 1
            return key_vault_error(404, "SecretNotFound")
        version = match["version"] or SECRET_VERSION
        secret = {
            "value": self.secret_value,
            "id": f"https://{VAULT_HOST}/secrets/{SECRET_NAME}/{version}",
            "attributes": {"enabled": True},
        }
        with self._lock:
            default = self._secret_default or json_response(200, secret)
        return self._next(self._secret_script, default, "get")


def app_process_env(workdir: Path, env: dict[str, str]) -> dict[str, str]:
    """The app's whole environment: the twin's loopback guard first on PYTHONPATH (as `twin.run` does), the app
    next, an empty PATH (a container has no az, pwsh or azd either), and `env` on top."""
    empty_bin = workdir / "empty-bin"
    empty_bin.mkdir(exist_ok=True)
    base = {
        "PATH": str(empty_bin),
        "HOME": str(workdir),
        "PYTHONPATH": os.pathsep.join([str(GUARD_DIR), str(APP_DIR)]),
        "PYTHONUNBUFFERED": "1",
        "HEALTH_PORT": "0",
    }
    return base | env


class App:
    """The real app (`python -m secret_reader`) in a subprocess; its stdout+stderr collected line by line."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "secret_reader"],
            env=app_process_env(workdir, env),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.health_port = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, count: int = 1, timeout: float = HANG_SECONDS) -> list[re.Match[str]]:
        """The first `count` lines matching `pattern` (re.search), waiting up to `timeout` seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in map(regex.search, self.lines) if m]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    output = "\n".join(self.lines)
                    raise AssertionError(f"no {count} line(s) matching {pattern!r}; output:\n{output}")
                self._changed.wait(min(left, 0.5))

    def wait_for_health_port(self) -> int:
        self.health_port = int(self.wait_for(r"on port (\d+)\.")[0][1])
        return self.health_port

    def probe(self, path: str) -> tuple[int, str]:
        """GET a health endpoint over loopback, bypassing any proxy."""
        connection = HTTPConnection("127.0.0.1", self.health_port or self.wait_for_health_port(), timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def wait_for_probe(self, path: str, status: int, timeout: float = HANG_SECONDS) -> str:
        deadline = time.monotonic() + timeout
        while True:
            got, body = self.probe(path)
            if got == status:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} stayed {got} ({body.strip()}), expected {status}")
            time.sleep(0.02)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10) -> tuple[int, float]:
        """Send `signum`; return the exit code and the seconds from the signal to the exit."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        elapsed = time.monotonic() - sent
        self._reader.join(5)
        return code, elapsed

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._reader.join(5)


def app_env(fake: FakeAzure, *, workload_identity: bool = True, **settings: str) -> dict[str, str]:
    """The fake's routing variables plus the app's settings (vault, secret, a short interval by default)."""
    defaults = {
        "KEY_VAULT_URL": f"https://{VAULT_HOST}/",
        "SECRET_NAME": SECRET_NAME,
        "POLL_INTERVAL_SECONDS": "0.05",
    }
    return fake.env(workload_identity=workload_identity) | defaults | settings


def lines_matching(lines: Iterable[str], pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [line for line in lines if regex.search(line)]
