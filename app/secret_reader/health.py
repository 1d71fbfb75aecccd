"""Health endpoints, so Kubernetes (and `pulumi up`, through the readiness probe) knows the chain works.

`/readyz` is 503 until the first successful read. From then on it is 200 while the last successful read is at
most `Settings.ready_window` (max(3 x POLL_INTERVAL_SECONDS, 1 s)) old, or while at most one attempt since that
read has failed (an attempt still in flight has not failed). So one slow or failed poll, which would hit every
replica at once, does not take them all out of their Service; a second consecutive failure does. A request that
never returns is /livez's business. `/livez` is 200 while the poll thread is alive and keeps the
deadline it announced before each step (a request: `reader.REQUEST_STALL_SECONDS`; a wait: its length), plus a grace.
Anything else is 404. Probes are not logged.
"""

from __future__ import annotations

import functools
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: Slack on top of each announced deadline before /livez calls the loop stalled.
LIVENESS_GRACE_SECONDS = 5.0
#: Failed attempts since the last successful read that /readyz tolerates, however old that read is.
READY_TOLERATED_FAILURES = 1


class Health:
    """What the poll loop reports and the probes read; thread-safe through atomic attribute updates."""

    def __init__(self, ready_window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ready_window = ready_window
        self._clock = clock
        self._last_success: float | None = None
        self._failures_since_success = 0
        self._deadline = clock() + LIVENESS_GRACE_SECONDS
        self._thread: threading.Thread | None = None

    def watch(self, thread: threading.Thread) -> None:
        """The thread whose death makes /livez fail."""
        self._thread = thread

    def beat(self, seconds: float) -> None:
        """The loop promises to beat again within `seconds` (plus the grace)."""
        self._deadline = self._clock() + seconds + LIVENESS_GRACE_SECONDS

    def succeeded(self) -> None:
        """A secret was read just now."""
        self._failures_since_success = 0
        self._last_success = self._clock()

    def failed(self) -> None:
        """An attempt to read the secret failed just now."""
        self._failures_since_success += 1

    def ready(self) -> tuple[bool, str]:
        """(200?, reason) for /readyz: the rule in this module's docstring."""
        if self._last_success is None:
            return False, "not ready: no successful read yet"
        age = self._clock() - self._last_success
        failures = self._failures_since_success
        state = (
            f"last successful read {age:.1f} s ago (limit {self._ready_window:g} s) and {failures} failed "
            f"attempt{'' if failures == 1 else 's'} since (limit {READY_TOLERATED_FAILURES})"
        )
        if age > self._ready_window and failures > READY_TOLERATED_FAILURES:
            return False, f"not ready: {state}"
        return True, f"ready: {state}"

    def alive(self) -> tuple[bool, str]:
        """(200?, reason) for /livez."""
        if self._thread is None or not self._thread.is_alive():
            return False, "not alive: the poll loop is not running"
        late = self._clock() - self._deadline
        if late > 0:
            return False, f"not alive: the poll loop is {late:.1f} s past its heartbeat deadline"
        return True, "alive"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        """Bind without http.server's reverse DNS lookup of the host name, which nothing here uses."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "secret-reader", self.server_address[1]


def serve(port: int, health: Health) -> ThreadingHTTPServer:
    """Listen on all interfaces (the kubelet probes the pod IP) from a daemon thread; 0 picks a free port."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 5
        server_version = "secret-reader"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            checks = {"/readyz": health.ready, "/livez": health.alive}
            check = checks.get(urlsplit(self.path).path)
            ok, reason = check() if check else (False, "not found: try /readyz or /livez")
            status = 200 if ok else 503 if check else 404
            body = (reason + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature from http.server)
            """Probes every few seconds would drown the lines the operator came for."""

    server = _Server(("", port), Handler)
    serve_forever = functools.partial(server.serve_forever, poll_interval=0.1)
    threading.Thread(target=serve_forever, name="health", daemon=True).start()
    return server
