"""`python -m secret_reader`: check the environment, start the health server and poll loop; stop on signal.

Exit codes: 0 after SIGTERM/SIGINT, 2 for a bad environment (one line on stderr naming the variable), including,
when it reads Key Vault, a container the workload identity webhook did not inject: the app never falls back to
another identity. With SECRET_FILE (file mode) it reads that file instead and needs no identity.
The process takes SIGTERM/SIGINT itself, so it stops promptly as PID 1 in a container, where signals without a
handler are ignored (Pod security: Kubernetes sends SIGTERM, then SIGKILL). It waits briefly for the poll loop
to return, so the log shows the loop stopped, not only the process.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping

from secret_reader.config import ConfigError, FileSettings, Settings, load_file_settings, load_settings
from secret_reader.console import Console
from secret_reader.diagnose import Context
from secret_reader.facts import DEFAULT_AUTHORITY_HOST
from secret_reader.files import FilePoller
from secret_reader.health import Health, serve
from secret_reader.reader import Poller, secret_client, workload_identity_credential

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
#: After a stop signal, how long a request in flight may take to finish so the loop ends cleanly; then the
#: process exits anyway (its thread is a daemon), so every exit takes under 1 s (facts: Pod security).
STOP_JOIN_SECONDS = 0.5


def main(environ: Mapping[str, str] = os.environ) -> int:
    """Run until SIGTERM/SIGINT; return the exit code."""
    # Block the stop signals first: every thread started later inherits the mask, and the main thread takes
    # them with sigwait() below. No handler runs, so none can land on the wrong thread, and a signal that
    # arrives while starting waits for sigwait() (facts: Pod security).
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        file_settings = load_file_settings(environ)
        if file_settings is not None:
            return _file_mode(file_settings)
        settings = load_settings(environ)
    except ConfigError as exc:
        return _refuse(str(exc))
    stop = threading.Event()
    # The SDK's own warnings repeat, over many lines, what our one-line diagnosis and retry lines say.
    logging.getLogger("azure").addHandler(logging.NullHandler())

    console = Console(sys.stdout)
    context = Context(settings.vault_name, settings.secret_name, settings.version, settings.identity.token_file)
    health = Health(settings.ready_window)
    try:
        credential = workload_identity_credential(settings, console)
    except ValueError as exc:  # azure-identity's own checks, e.g. an http AZURE_AUTHORITY_HOST
        return _refuse(f"AZURE_AUTHORITY_HOST: {exc}")
    client = secret_client(settings, credential, console)
    poller = Poller(settings, client, context, console, health, stop)
    return _serve_and_poll(
        poller.run, settings.health_port, health, console, stop, lambda port: _announce(console, settings, port)
    )


def _file_mode(settings: FileSettings) -> int:
    """Read the CSI driver's file every interval: no identity, no network beyond the health endpoints."""
    stop = threading.Event()
    console = Console(sys.stdout)
    health = Health(settings.ready_window)
    poller = FilePoller(settings.path, settings.poll_interval, settings.reveal, console, health, stop)

    def announce(port: int) -> None:
        console.log(
            "INFO",
            f"Starting in file mode: secret file {settings.path}, every {settings.poll_interval:g} s, "
            f"value {'revealed' if settings.reveal else 'masked'}; health endpoints /readyz /livez on port {port}.",
        )

    return _serve_and_poll(poller.run, settings.health_port, health, console, stop, announce)


def _serve_and_poll(
    poll: Callable[[], None],
    health_port: int,
    health: Health,
    console: Console,
    stop: threading.Event,
    announce: Callable[[int], None],
) -> int:
    """Both modes: the poll thread under /livez's watch, the health server, the start line; then wait for a stop
    signal, stop the poll loop, exit 0 (or 2 when the health port cannot be had)."""
    thread = threading.Thread(target=poll, name="poller", daemon=True)
    health.watch(thread)
    try:
        server = serve(health_port, health)
    except OSError as exc:
        return _refuse(f"HEALTH_PORT: cannot listen: {exc}")
    announce(server.server_address[1])
    thread.start()
    received = signal.sigwait(STOP_SIGNALS)
    console.log("INFO", f"Received {signal.Signals(received).name}; stopping.")
    stop.set()
    thread.join(STOP_JOIN_SECONDS)
    if thread.is_alive():
        console.log("WARNING", f"The poll loop did not stop within {STOP_JOIN_SECONDS:g} s; exiting without it.")
    console.log("INFO", "Exiting.")
    console.close()
    return 0


def _refuse(problem: str) -> int:
    print(f"secret_reader: configuration error: {problem}", file=sys.stderr, flush=True)
    return 2


def _announce(console: Console, settings: Settings, port: int) -> None:
    console.log(
        "INFO",
        f"Starting: vault {settings.vault_url} secret {settings.secret_name} "
        f"version {settings.version or 'latest'}, every {settings.poll_interval:g} s, "
        f"value {'revealed' if settings.reveal else 'masked'}; "
        f"health endpoints /readyz /livez on port {port}.",
    )
    identity = settings.identity
    console.log(
        "INFO",
        f"Workload identity: client {identity.client_id}, tenant {identity.tenant_id}, token file "
        f"{identity.token_file}, authority {identity.authority_host or DEFAULT_AUTHORITY_HOST + ' (default)'}"
        "; the first read asks Key Vault, then Entra ID for a token, then Key Vault again.",
    )


if __name__ == "__main__":
    raise SystemExit(main())
