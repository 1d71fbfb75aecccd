"""The only way the app reaches the twin: a loopback HTTPS proxy that terminates TLS for the real hostnames.

The app runs with its production URLs and `HTTPS_PROXY`/`HTTP_PROXY` pointing here and `REQUESTS_CA_BUNDLE`
naming the twin's test CA (azure-core's requests transport honours both). For `CONNECT host:443` to a host the
twin serves, the proxy answers 200, completes a TLS handshake with a certificate for that host signed by the
test CA, and hands each HTTP request inside the tunnel to that host's handler. So the SDK's own rules (https-only
authority, the Key Vault challenge's domain check, certificate verification) hold as in production.

Plain-HTTP requests (absolute URIs) are answered only for the node's IMDS address, as IMDS answers a pod that
has no identity assigned; nothing ever leaves the machine. Any other host gets 502.

It listens on several ports, each a place on the network. `pod_url(pod)` is a pod's way out (one listener per
pod, as each pod has an address of its own): the cluster's DNS resolves names (a vault with a private endpoint
to that endpoint's address) and the declared NetworkPolicies apply. `egress(pod, host, port)` says why they
stop the pod reaching a destination, and the proxy then records the drop (`dropped`) and cuts the connection
without an answer. In the cluster a dropped packet shows as a connect time-out after the app's
`connection_timeout`; the cut gives the app the same failure (a connection error that azure-core retries)
without the wait. `url` is a machine on the internet, outside the cluster's network: public DNS, no policy (the
app's own tests use it too). `azure_url` is Azure's own way out (Entra ID fetching the issuer's documents):
public DNS, no pod's policy. Every request handed on carries the address its connection reached
(`Request.address`), so a vault can tell its private endpoint from its public address.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import trustme

from aks_workload_identity import facts
from twin.messages import RESET, Request, Response, json_response
from twin.model import public_address
from twin.netpol import Pod

#: Seconds an idle connection is kept before the proxy closes it.
IDLE_TIMEOUT = 15

Handler = Callable[[Request], Response]
#: Why `pod` may not reach `host`:`port` (None: it may).
Egress = Callable[[Pod, str, int], str | None]
#: The address a name resolves to, from where the client is.
Resolver = Callable[[str], str]


@dataclass(frozen=True)
class Hit:
    """One request the proxy saw, for counting and for timing the app's retries."""

    at: float
    host: str
    method: str
    path: str
    status: int


class Proxy:
    """Routes by host; `routes` may be replaced between runs (the servers are rebuilt, the proxy stays)."""

    def __init__(self, ca: trustme.CA, workdir: Path) -> None:
        self.ca = ca
        self.ca_bundle = workdir / "twin-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_bundle))
        self.routes: dict[str, Handler] = {}
        #: The pods' egress rule; None: no NetworkPolicy, all egress allowed.
        self.egress: Egress | None = None
        #: The cluster's DNS, as the pods use it.
        self.cluster_dns: Resolver = public_address
        self.hits: list[Hit] = []
        self.refused: list[str] = []
        #: "host:port: why" for each connection of a pod that its NetworkPolicies dropped.
        self.dropped: list[str] = []
        self.imds_requests = 0
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._started = False
        self._servers = {side: self._server(None) for side in ("outside", "azure")}
        self._pods: dict[tuple, _Server] = {}

    def _server(self, pod: Pod | None) -> _Server:
        server = _Server(("127.0.0.1", 0), _ProxyHandler)
        server.proxy = self
        server.pod = pod
        return server

    @property
    def url(self) -> str:
        """A machine on the internet: public DNS, no NetworkPolicy."""
        return _url(self._servers["outside"])

    @property
    def azure_url(self) -> str:
        """Azure's own outbound calls (Entra ID fetching the issuer's documents): no pod's policy applies."""
        return _url(self._servers["azure"])

    def pod_url(self, pod: Pod) -> str:
        """The way out of `pod`: the cluster's DNS and the declared NetworkPolicies apply. Pods alike to the
        policies (namespace and labels) share one listener."""
        key = (pod.namespace, tuple(sorted(pod.labels.items())), tuple(sorted(pod.namespace_labels.items())))
        with self._lock:
            if key not in self._pods:
                self._pods[key] = self._server(pod)
                if self._started:
                    _serve(self._pods[key])
            return _url(self._pods[key])

    def start(self) -> None:
        with self._lock:
            self._started = True
            for server in [*self._servers.values(), *self._pods.values()]:
                _serve(server)

    def stop(self) -> None:
        with self._lock:
            servers = [*self._servers.values(), *self._pods.values()]
        for server in servers:
            server.shutdown()
            server.server_close()

    def reset_counters(self) -> None:
        with self._lock:
            self.hits.clear()
            self.refused.clear()
            self.dropped.clear()
            self.imds_requests = 0

    def drops(self, pod: Pod, host: str, port: int) -> bool:
        """Whether the pod's NetworkPolicies stop `host`:`port`; the drop is recorded."""
        why = self.egress(pod, host, port) if self.egress else None
        if why is not None:
            with self._lock:
                self.dropped.append(f"{host}:{port}: {why}")
        return why is not None

    def resolve(self, server: _Server, host: str) -> str:
        """`host`'s address as seen from the listener's place: a pod's cluster DNS, else public DNS."""
        return self.cluster_dns(host) if server.pod is not None else public_address(host)

    def tls_context(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host not in self._contexts:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self.ca.issue_cert(host).configure_cert(context)
                self._contexts[host] = context
            return self._contexts[host]

    def dispatch(self, request: Request) -> Response:
        handler = self.routes.get(request.host.lower())
        if handler is None:  # the host went away while a tunnel to it was open
            self.refuse(f"{request.host}:443")
            return RESET
        response = handler(request)
        with self._lock:
            self.hits.append(Hit(time.monotonic(), request.host, request.method, request.path, response.status))
        return response

    def refuse(self, target: str) -> None:
        with self._lock:
            self.refused.append(target)

    def imds(self, request: Request) -> Response:
        with self._lock:
            self.imds_requests += 1
            self.hits.append(Hit(time.monotonic(), request.host, request.method, request.path, 400))
        return json_response(400, {"error": "invalid_request", "error_description": "Identity not found"})


def _url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def _serve(server: ThreadingHTTPServer) -> None:
    # A short poll so that stop() returns quickly.
    threading.Thread(target=server.serve_forever, args=(0.05,), name="twin-proxy", daemon=True).start()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: Proxy
    #: The pod whose way out this listener is (its NetworkPolicies apply); None: no pod's.
    pod: Pod | None


class _ExchangeMixin(BaseHTTPRequestHandler):
    """Reads one request, asks the proxy for the answer, writes it (or resets the connection)."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    # typeshed can only type the handler's server BaseServer; socketserver always gives it the one that made it.
    server: _Server  # pyright: ignore[reportIncompatibleVariableOverride]

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle and delayed ACKs add ~40 ms to each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _read_request(self, host: str, path: str) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(path)
        address = self.server.proxy.resolve(self.server, host)
        return Request(self.command, host, parts.path, parts.query, dict(self.headers.items()), body, address)

    def _write(self, response: Response) -> None:
        if response.reset:
            # SO_LINGER with a zero timeout makes close() send RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


class _TunnelHandler(_ExchangeMixin):
    """Serves the decrypted requests inside one CONNECT tunnel, for the tunnel's host."""

    def __init__(self, request: ssl.SSLSocket, client_address: tuple, server: _Server, host: str) -> None:
        self.host = host
        super().__init__(request, client_address, server)

    def _serve(self) -> None:
        host_header = (self.headers.get("Host") or "").split(":")[0].lower()
        if host_header != self.host:
            self._write(Response(400, f"twin: Host {host_header!r} in a tunnel to {self.host!r}\n".encode()))
            return
        self._write(self.server.proxy.dispatch(self._read_request(self.host, self.path)))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class _ProxyHandler(_ExchangeMixin):
    def do_CONNECT(self) -> None:
        proxy = self.server.proxy
        host, _, port = self.path.rpartition(":")
        host = host.lower()
        self.close_connection = True
        if port != "443" or host not in proxy.routes:
            proxy.refuse(self.path)
            self.send_error(502, f"twin: {self.path} is not a host the twin serves")
            return
        if self.server.pod is not None and proxy.drops(self.server.pod, host, int(port)):
            self._write(RESET)
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        try:
            tls = proxy.tls_context(host).wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _TunnelHandler(tls, self.client_address, self.server, host)
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()

    def _plain(self) -> None:
        proxy = self.server.proxy
        parts = urlsplit(self.path)
        request = self._read_request(parts.hostname or "", self.path)
        if parts.scheme == "http" and parts.hostname == facts.IMDS_ADDRESS:
            if self.server.pod is not None and proxy.drops(self.server.pod, parts.hostname, parts.port or 80):
                self._write(RESET)
                return
            self._write(proxy.imds(request))
            return
        proxy.refuse(self.path)
        self.close_connection = True
        self._write(Response(502, f"twin: {parts.hostname} is not a host the twin serves\n".encode()))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _plain
