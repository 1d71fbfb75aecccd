"""A minimal local fake of Entra ID, Key Vault and IMDS for the app's tests, and a handle on the app process.

The app keeps its real hostnames: it reaches the fake as its HTTPS_PROXY/HTTP_PROXY, the fake answers CONNECT
for `login.microsoftonline.com` and `*.vault.azure.net` itself (TLS with a throwaway trustme CA the app trusts
through REQUESTS_CA_BUNDLE), and refuses anything else. Nothing leaves loopback.
"""

from __future__ import annotations

import functools
import json
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import trustme

APP_DIR = Path(__file__).resolve().parent.parent / "app"
LOGIN_HOST = "login.microsoftonline.com"
VAULT_SUFFIX = "vault.azure.net"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "5b1f3a2c-8d4e-4f6a-9b7c-1e2d3f4a5b6c"
VAULT_NAME = "wi-demo-kv"
SECRET_NAME = "Secret"
#: The version every fake secret GET answers with.
SECRET_VERSION = "0123456789abcdef0123456789abcdef"
ACCESS_TOKEN = "fake-access-token-Zm9vYmFy"
SERVICE_ACCOUNT_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDp3aSJ9.c2ln"
CHALLENGE = f'Bearer authorization="https://{LOGIN_HOST}/{TENANT_ID}", resource="https://vault.azure.net"'


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer."""

    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)


#: Scripted in place of a Reply: drop the connection with a TCP reset instead of answering.
RESET = "reset"


def entra_error(code: int, error: str = "invalid_client", status: int = 400) -> Reply:
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
    description = f"AADSTS{code}: {texts.get(code, 'Error.')} Trace ID: 0000 Correlation ID: 1111"
    return Reply(status, {"error": error, "error_description": description, "error_codes": [code]})


def key_vault_error(status: int, code: str, inner: str | None = None, **headers: str) -> Reply:
    """A Key Vault data-plane error, shaped like the real ones."""
    error: dict[str, object] = {
        "code": code,
        "message": f"{code}: a message from the fake.\r\nVault: {VAULT_NAME}",
    }
    if inner:
        error["innererror"] = {"code": inner}
    if status == 401:
        headers = {"WWW-Authenticate": CHALLENGE, **headers}
    return Reply(status, {"error": error}, headers)


class FakeAzure:
    """The fake services behind one loopback proxy; script replies, then read what the app asked for."""

    def __init__(self, workdir: Path, secret_value: str = "Hello") -> None:
        self.secret_value = secret_value
        self.counts: Counter[str] = Counter()
        self.token_forms: list[dict[str, str]] = []
        self._token_script: deque[Reply | str] = deque()
        self._secret_script: deque[Reply | str] = deque()
        self._secret_default: Reply | None = None
        self._lock = threading.Lock()
        ca = trustme.CA()
        self.ca_file = workdir / "fake-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(LOGIN_HOST, f"*.{VAULT_SUFFIX}").configure_cert(self._tls)
        self.token_file = workdir / "azure-identity-token"
        self.token_file.write_text(SERVICE_ACCOUNT_TOKEN)
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.proxy_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        serve_forever = functools.partial(self._server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeAzure:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scripting ---------------------------------------------------------------------------------------

    def script_token(self, *replies: Reply | str) -> None:
        """Answer the next token requests with these, then succeed."""
        with self._lock:
            self._token_script.extend(replies)

    def script_secret(self, *replies: Reply | str) -> None:
        """Answer the next authorized secret GETs with these, then succeed (or `fail_secret_reads`)."""
        with self._lock:
            self._secret_script.extend(replies)

    def fail_secret_reads(self, reply: Reply | None) -> None:
        """Answer every unscripted authorized GET with `reply` (None: succeed again)."""
        with self._lock:
            self._secret_default = reply

    def count(self, what: str) -> int:
        with self._lock:
            return self.counts[what]

    def env(self, *, workload_identity: bool = True) -> dict[str, str]:
        """Variables routing the app's traffic here, with the webhook's injected variables unless told not."""
        env = {
            "HTTPS_PROXY": self.proxy_url,
            "HTTP_PROXY": self.proxy_url,
            "NO_PROXY": "",
            "no_proxy": "",
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
        }
        if workload_identity:
            env |= {
                "AZURE_CLIENT_ID": CLIENT_ID,
                "AZURE_TENANT_ID": TENANT_ID,
                "AZURE_FEDERATED_TOKEN_FILE": str(self.token_file),
                "AZURE_AUTHORITY_HOST": f"https://{LOGIN_HOST}/",
            }
        return env

    # --- what the handler calls --------------------------------------------------------------------------

    def _next(self, script: deque[Reply | str], default: Reply | None, fallback: Reply) -> Reply | str:
        with self._lock:
            if script:
                return script.popleft()
            return default or fallback

    def _bump(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def answer_token(self, path: str, form: dict[str, str]) -> Reply | str:
        if path != f"/{TENANT_ID}/oauth2/v2.0/token":
            unknown = {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."}
            return Reply(404, unknown)
        self._bump("token")
        with self._lock:
            self.token_forms.append(form)
        ok = Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3600,
                "ext_expires_in": 3600,
                "access_token": ACCESS_TOKEN,
            },
        )
        return self._next(self._token_script, None, ok)

    def answer_vault(self, host: str, path: str, authorization: str | None) -> Reply | str:
        match = re.fullmatch(r"/secrets/(?P<name>[^/]+)/?(?P<version>[0-9a-f]{32})?", path)
        if authorization != f"Bearer {ACCESS_TOKEN}":
            # Key Vault's answer to a request without a (valid) token: 401 with the challenge.
            self._bump("challenge")
            return key_vault_error(401, "Unauthorized")
        self._bump("get")
        if match is None or match["name"] != SECRET_NAME:
            return key_vault_error(404, "SecretNotFound")
        version = match["version"] or SECRET_VERSION
        vault = host.split(".")[0]
        ok = Reply(
            200,
            {
                "value": self.secret_value,
                "id": f"https://{vault}.{VAULT_SUFFIX}/secrets/{SECRET_NAME}/{version}",
                "attributes": {"enabled": True},
            },
        )
        with self._lock:
            default = self._secret_default
        return self._next(self._secret_script, default, ok)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that dies mid-request (the app on SIGTERM) is expected, not worth a traceback."""


def _handler(fake: FakeAzure) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10
        tunnel_host: str | None = None

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_CONNECT(self) -> None:  # noqa: N802
            host, _, port = self.path.rpartition(":")
            if port != "443" or not (host == LOGIN_HOST or host.endswith("." + VAULT_SUFFIX)):
                fake._bump("refused")
                self._send(Reply(403, {"refused": self.path}), close=True)
                return
            fake._bump("connect")
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            self.connection = fake._tls.wrap_socket(self.connection, server_side=True)
            self.rfile = self.connection.makefile("rb")
            self.wfile = self.connection.makefile("wb")
            self.tunnel_host = host
            self.close_connection = False

        def do_GET(self) -> None:  # noqa: N802
            self._dispatch()

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch()

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            if self.tunnel_host is None:  # plain-HTTP proxying: only IMDS is known here
                target = urlsplit(self.path)
                if target.hostname == "169.254.169.254":
                    fake._bump("imds")
                    reply: Reply | str = Reply(
                        400, {"error": "invalid_request", "error_description": "Identity not found"}
                    )
                else:
                    fake._bump("refused")
                    reply = Reply(403, {"refused": self.path})
            elif self.tunnel_host == LOGIN_HOST and self.command == "POST":
                form = {k: v[0] for k, v in parse_qs(body).items()}
                reply = fake.answer_token(urlsplit(self.path).path, form)
            elif self.tunnel_host.endswith("." + VAULT_SUFFIX) and self.command == "GET":
                authorization = self.headers.get("Authorization")
                reply = fake.answer_vault(self.tunnel_host, urlsplit(self.path).path, authorization)
            else:
                reply = Reply(404, {"error": "no such fake endpoint"})
            if reply == RESET:
                fake._bump("reset")
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            assert isinstance(reply, Reply)
            self._send(reply)

        def _send(self, reply: Reply, close: bool = False) -> None:
            payload = json.dumps(reply.body).encode() if reply.body is not None else b""
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:
                pass
            try:
                self.connection.close()
            except OSError:
                pass

    return Handler


class App:
    """The real app (`python -m secret_reader`) in a subprocess; its stdout+stderr collected line by line."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        # No az, pwsh or azd on PATH for DefaultAzureCredential's developer credentials to run.
        empty_bin = workdir / "empty-bin"
        empty_bin.mkdir(exist_ok=True)
        base = {
            "PATH": str(empty_bin),
            "HOME": str(workdir),
            "PYTHONPATH": str(APP_DIR),
            "PYTHONUNBUFFERED": "1",
        }
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "secret_reader"],
            env=base | {"HEALTH_PORT": "0"} | env,
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

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 15) -> list[re.Match[str]]:
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

    def wait_for_probe(self, path: str, status: int, timeout: float = 10) -> str:
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
        "KEY_VAULT_URL": f"https://{VAULT_NAME}.{VAULT_SUFFIX}/",
        "SECRET_NAME": SECRET_NAME,
        "POLL_INTERVAL_SECONDS": "0.05",
    }
    return fake.env(workload_identity=workload_identity) | defaults | settings


def lines_matching(lines: Iterable[str], pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [line for line in lines if regex.search(line)]
