"""The app's promises: a strict environment contract, masked values, one greppable line per failure and a loop
that survives them, health endpoints that tell the truth, and a prompt exit on SIGTERM/SIGINT.

End-to-end tests run the real `python -m secret_reader` against `app_fakes.FakeAzure`, reached only through
loopback proxies, with the real hostnames and the real azure-identity / azure-keyvault-secrets code paths.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from types import SimpleNamespace

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from secret_reader import facts
from secret_reader.config import ConfigError, Settings, load_settings
from secret_reader.console import Console, mask
from secret_reader.diagnose import Context, describe
from secret_reader.health import LIVENESS_GRACE_SECONDS, Health, serve
from secret_reader.reader import Poller, backoff

from tests.app_fakes import (
    ACCESS_TOKEN,
    APP_DIR,
    CLIENT_ID,
    RESET,
    SECRET_NAME,
    SECRET_VERSION,
    SERVICE_ACCOUNT_TOKEN,
    VAULT_NAME,
    App,
    FakeAzure,
    app_env,
    entra_error,
    key_vault_error,
    lines_matching,
)

MINIMAL = {"KEY_VAULT_NAME": VAULT_NAME, "SECRET_NAME": SECRET_NAME}
ERROR_LINE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR "


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeAzure]:
    with FakeAzure(tmp_path) as azure:
        yield azure
    assert azure.count("refused") == 0, "the app tried to reach a host the fake does not serve"


def settings(**env: str) -> Settings:
    return load_settings(MINIMAL | env)


# --- the environment contract -------------------------------------------------------------------------------


def test_vault_name_alone_means_the_public_cloud_and_other_variables_default() -> None:
    got = load_settings(MINIMAL)
    assert got == Settings(
        vault_url=f"https://{VAULT_NAME}.vault.azure.net/",
        vault_name=VAULT_NAME,
        secret_name=SECRET_NAME,
        version=None,
        poll_interval=5.0,
        reveal=False,
        health_port=8080,
    )


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://kv-cn1.vault.azure.cn/", "https://kv-cn1.vault.azure.cn/"),
        ("https://kvgov.vault.usgovcloudapi.net", "https://kvgov.vault.usgovcloudapi.net/"),
        ("https://kvde.vault.microsoftazure.de/", "https://kvde.vault.microsoftazure.de/"),
        ("https://KV-Next.vault.sovereign-cloud.example/", "https://kv-next.vault.sovereign-cloud.example/"),
    ],
)
def test_vault_url_accepts_sovereign_and_plausible_new_clouds(url: str, normalized: str) -> None:
    got = load_settings({"KEY_VAULT_URL": url, "SECRET_NAME": SECRET_NAME})
    assert (got.vault_url, got.vault_name) == (normalized, normalized.split("//")[1].split(".")[0])


def test_vault_url_wins_over_an_agreeing_name_and_a_conflicting_name_is_rejected() -> None:
    url = "https://wi-demo-kv.vault.azure.cn/"
    assert settings(KEY_VAULT_URL=url).vault_url == url
    with pytest.raises(ConfigError, match=r"^KEY_VAULT_NAME: 'other-kv' conflicts with KEY_VAULT_URL"):
        load_settings({"KEY_VAULT_URL": url, "KEY_VAULT_NAME": "other-kv", "SECRET_NAME": SECRET_NAME})


@pytest.mark.parametrize(
    ("env", "variable", "problem"),
    [
        ({"KEY_VAULT_NAME": ""}, "KEY_VAULT_URL", "is required"),
        ({"KEY_VAULT_URL": "http://kv1.vault.azure.net/"}, "KEY_VAULT_URL", "must use https"),
        ({"KEY_VAULT_URL": "https://kv1.vault.azure.net:8443/"}, "KEY_VAULT_URL", "vault URI alone"),
        ({"KEY_VAULT_URL": "https://kv1.vault.azure.net/secrets/x"}, "KEY_VAULT_URL", "vault URI alone"),
        ({"KEY_VAULT_URL": "https://kv1.vault.azure.net/?a=b"}, "KEY_VAULT_URL", "vault URI alone"),
        ({"KEY_VAULT_URL": "https://kv1.blob.core.windows.net/"}, "KEY_VAULT_URL", "not a Key Vault host"),
        ({"KEY_VAULT_URL": "https://1kv.vault.azure.net/"}, "KEY_VAULT_URL", "vault name '1kv'"),
        ({"KEY_VAULT_NAME": "kv"}, "KEY_VAULT_NAME", "3-24 letters"),
        ({"KEY_VAULT_NAME": "a" * 25}, "KEY_VAULT_NAME", "3-24 letters"),
        ({"KEY_VAULT_NAME": "kv_1"}, "KEY_VAULT_NAME", "3-24 letters"),
        ({"SECRET_NAME": ""}, "SECRET_NAME", "is required"),
        ({"SECRET_NAME": "my_secret"}, "SECRET_NAME", "1-127 letters"),
        ({"SECRET_NAME": "s" * 128}, "SECRET_NAME", "1-127 letters"),
        ({"VERSION_ID": "ded8e5e3b3e040e9bfa5c47d0e28848"}, "VERSION_ID", "32 hex digits"),
        ({"VERSION_ID": "zed8e5e3b3e040e9bfa5c47d0e28848a"}, "VERSION_ID", "32 hex digits"),
        ({"POLL_INTERVAL_SECONDS": "0"}, "POLL_INTERVAL_SECONDS", "positive number"),
        ({"POLL_INTERVAL_SECONDS": "-5"}, "POLL_INTERVAL_SECONDS", "positive number"),
        ({"POLL_INTERVAL_SECONDS": "inf"}, "POLL_INTERVAL_SECONDS", "positive number"),
        ({"POLL_INTERVAL_SECONDS": "nan"}, "POLL_INTERVAL_SECONDS", "positive number"),
        ({"POLL_INTERVAL_SECONDS": "5s"}, "POLL_INTERVAL_SECONDS", "positive number"),
        ({"REVEAL_SECRET": "maybe"}, "REVEAL_SECRET", "true/false"),
        ({"HEALTH_PORT": "65536"}, "HEALTH_PORT", "1-65535"),
        ({"HEALTH_PORT": "-1"}, "HEALTH_PORT", "1-65535"),
        ({"HEALTH_PORT": "8_080"}, "HEALTH_PORT", "1-65535"),
    ],
)
def test_each_bad_variable_is_rejected_naming_the_variable_its_value_and_the_rule(
    env: dict[str, str], variable: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(**env)
    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ")
    assert problem in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("TRUE", True), ("1", True), ("Yes", True), ("false", False), ("0", False)],
)
def test_reveal_secret_accepts_true_false_1_0_yes_no_in_any_case(text: str, value: bool) -> None:
    assert settings(REVEAL_SECRET=text).reveal is value


def test_fractional_interval_port_zero_and_a_version_are_accepted_and_empty_means_unset() -> None:
    version = "ded8e5e3b3e040e9bfa5c47d0e28848a"
    got = settings(POLL_INTERVAL_SECONDS="0.05", HEALTH_PORT="0", VERSION_ID=version)
    assert (got.poll_interval, got.health_port, got.version) == (0.05, 0, version)
    empty = settings(VERSION_ID="", POLL_INTERVAL_SECONDS="", REVEAL_SECRET="", HEALTH_PORT="")
    assert (empty.version, empty.poll_interval, empty.reveal, empty.health_port) == (None, 5.0, False, 8080)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"KEY_VAULT_NAME": VAULT_NAME}, "SECRET_NAME"),
        (MINIMAL | {"POLL_INTERVAL_SECONDS": "-1"}, "POLL_INTERVAL_SECONDS"),
        ({"KEY_VAULT_URL": "http://kv1.vault.azure.net/", "SECRET_NAME": "s"}, "KEY_VAULT_URL"),
        # What the webhook injects for a service account without the client-id annotation.
        (
            MINIMAL
            | {
                "AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
                "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/",
            },
            "AZURE_CLIENT_ID",
        ),
    ],
)
def test_bad_environment_exits_2_at_once_with_one_stderr_line_and_no_traceback(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "secret_reader"],
        env={"PYTHONPATH": str(APP_DIR), "HOME": str(tmp_path)} | env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"secret_reader: configuration error: {variable}: ")


def test_name_rules_agree_with_the_projects_facts_module() -> None:
    from components import facts as project

    names = ["kv", "kv1", "1kv", "k-v", "kv_1", "a" * 24, "a" * 25, "Kv-Upper"]
    for name in names:
        assert bool(facts.VAULT_NAME_RULE.match(name)) == bool(project.VAULT_NAME_RULE.match(name)), name
    for name in ["s", "my-secret", "my_secret", "s" * 127, "s" * 128, ""]:
        assert bool(facts.SECRET_NAME_RULE.match(name)) == bool(project.SECRET_NAME_RULE.match(name)), name


# --- masking, backoff, health, diagnosis (in process) -------------------------------------------------------


def test_mask_shows_length_and_version_but_nothing_derived_from_the_value() -> None:
    value = "Hello-s3cr3t"
    shown = mask(value, "ded8e5e3b3e040e9bfa5c47d0e28848a")
    assert shown == "<hidden: 12 characters, version ded8e5e3>"
    assert mask(value + "!", "ded8e5e3b3e040e9bfa5c47d0e28848a") == "<hidden: 13 characters, version ded8e5e3>"
    assert mask("x", None) == "<hidden: 1 character>"


def test_backoff_starts_at_the_interval_doubles_and_stops_at_the_cap_with_50_to_100_percent_jitter() -> None:
    five = settings(POLL_INTERVAL_SECONDS="5")
    assert [backoff(n, five, lambda: 1.0) for n in range(1, 8)] == [5, 10, 20, 40, 60, 60, 60]
    assert [backoff(n, five, lambda: 0.0) for n in range(1, 4)] == [2.5, 5, 10]
    assert backoff(10_000, five, lambda: 1.0) == 60


@pytest.mark.parametrize(("interval", "cap", "ready"), [("0.05", 0.6, 1.0), ("5", 60, 15), ("300", 300, 900)])
def test_backoff_cap_and_readiness_window_derive_from_the_poll_interval(
    interval: str, cap: float, ready: float
) -> None:
    got = settings(POLL_INTERVAL_SECONDS=interval)
    assert got.backoff_cap == pytest.approx(cap)
    assert got.ready_window == pytest.approx(ready)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_readiness_is_false_before_the_first_read_true_after_and_false_once_stale() -> None:
    clock = Clock()
    health = Health(ready_window=15, clock=clock)
    assert health.ready() == (False, "not ready: no successful read yet")
    health.succeeded()
    clock.now += 15
    assert health.ready()[0] is True
    clock.now += 0.1
    ok, reason = health.ready()
    assert not ok
    assert "last successful read 15.1 s ago (limit 15 s)" in reason


def test_liveness_is_false_when_the_loop_thread_is_gone_or_misses_its_heartbeat_deadline() -> None:
    clock = Clock()
    health = Health(ready_window=15, clock=clock)
    assert health.alive()[0] is False  # no loop thread yet
    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    try:
        health.watch(thread)
        health.beat(30)
        clock.now += 30 + LIVENESS_GRACE_SECONDS
        assert health.alive() == (True, "alive")
        clock.now += 0.5
        assert health.alive()[0] is False
        health.beat(1)
        assert health.alive()[0] is True
    finally:
        release.set()
        thread.join(5)
    assert health.alive() == (False, "not alive: the poll loop is not running")


def test_health_server_serves_readyz_and_livez_404s_the_rest_and_logs_no_probe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    health = Health(ready_window=15)
    server = serve(0, health)
    try:

        def get(path: str) -> int:
            connection = HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
            connection.request("GET", path)
            status = connection.getresponse().status
            connection.close()
            return status

        assert (get("/readyz"), get("/livez"), get("/"), get("/metrics")) == (503, 503, 404, 404)
        health.succeeded()
        assert get("/readyz?verbose=1") == 200
    finally:
        server.shutdown()
        server.server_close()
    assert capsys.readouterr() == ("", "")


CONTEXT = Context(VAULT_NAME, SECRET_NAME, None, injected=True)


def test_network_failures_are_one_line_naming_the_exception_and_what_to_check() -> None:
    line = describe(ServiceRequestError("Connection reset by peer\nmore"), CONTEXT)
    assert line.startswith("Network error talking to Key Vault (ServiceRequestError) after the SDK's retries")
    assert "Connection reset by peer more" in line
    assert "\n" not in line


def test_a_token_file_problem_names_workload_identity_credential_and_the_token_file() -> None:
    message = (
        "DefaultAzureCredential failed to retrieve a token from the included credentials."
        "\nAttempted credentials:"
        "\n\tEnvironmentCredential: EnvironmentCredential authentication unavailable."
        "\n\tWorkloadIdentityCredential: [Errno 2] No such file or directory: '/var/run/tokens/x'"
        "\nTo mitigate this issue, please refer to the troubleshooting guidelines."
    )
    line = describe(ClientAuthenticationError(message=message), CONTEXT)
    assert line.startswith("Token request failed (WorkloadIdentityCredential): [Errno 2] No such file")
    assert "AZURE_FEDERATED_TOKEN_FILE" in line
    assert "EnvironmentCredential" not in line


def test_an_unexpected_exception_is_still_one_line_naming_its_type() -> None:
    line = describe(ValueError("bad\nthing"), CONTEXT)
    assert line == "Unexpected error (ValueError) reading the secret: bad thing."


class ScriptedSource:
    """Stands in for SecretClient: raises or returns in order, then sets `stop`."""

    def __init__(self, outcomes: list[object], stop: threading.Event) -> None:
        self.outcomes = outcomes
        self.stop = stop

    def get_secret(self, name: str, version: str | None = None) -> object:
        outcome = self.outcomes.pop(0)
        if not self.outcomes:
            self.stop.set()
        if isinstance(outcome, Exception):
            raise outcome
        return SimpleNamespace(value=outcome, properties=SimpleNamespace(version=SECRET_VERSION))


def test_loop_survives_failures_resets_backoff_after_a_success_and_masks_the_value() -> None:
    stop = threading.Event()
    failures = [ServiceRequestError("reset"), ValueError("boom")]
    source = ScriptedSource([*failures, "Hello", RuntimeError("again"), "Hello"], stop)
    out = io.StringIO()
    health = Health(ready_window=1)
    poller = Poller(settings(POLL_INTERVAL_SECONDS="0.001"), source, CONTEXT, Console(out), health, stop)
    thread = threading.Thread(target=poller.run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    lines = out.getvalue().splitlines()
    errors = lines_matching(lines, ERROR_LINE)
    counters = [re.search(r"consecutive failure (\d+)", line)[1] for line in errors]
    assert counters == ["1", "2", "1"]
    assert lines.count(f"Your secret is '{mask('Hello', SECRET_VERSION)}'.") == 2
    assert lines.count(f"Retrieving your secret from {VAULT_NAME}.") == 5
    assert "Hello'" not in out.getvalue()
    assert health.ready()[0] is True


# --- the real app against the fake services -----------------------------------------------------------------


def test_steady_state_prints_the_walkthrough_lines_with_one_token_request_and_one_challenge(
    fake: FakeAzure, tmp_path: Path
) -> None:
    with App(app_env(fake, REVEAL_SECRET="true"), tmp_path) as app:
        app.wait_for(r"^Your secret is 'Hello'\.$", count=10)
        assert app.probe("/readyz")[0] == 200
        assert app.probe("/livez")[0] == 200
        assert app.probe("/healthz")[0] == 404
        code, _ = app.stop()
    assert code == 0
    body = [line for line in app.lines if not re.match(r"^\d{4}-", line)]
    pairs = list(zip(body[0::2], body[1::2], strict=False))[:10]
    assert pairs == [(f"Retrieving your secret from {VAULT_NAME}.", "Your secret is 'Hello'.")] * 10
    assert (fake.count("token"), fake.count("challenge")) == (1, 1)
    assert fake.count("get") >= 10
    form = fake.token_forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == CLIENT_ID
    assert form["client_assertion"] == SERVICE_ACCOUNT_TOKEN
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert form["scope"] == "https://vault.azure.net/.default"
    assert ACCESS_TOKEN not in app.output and SERVICE_ACCOUNT_TOKEN not in app.output
    assert "Traceback" not in app.output


def test_by_default_the_value_is_masked_and_never_reaches_the_log(fake: FakeAzure, tmp_path: Path) -> None:
    fake.secret_value = "Hello-s3cr3t-v4lue"
    with App(app_env(fake), tmp_path) as app:
        app.wait_for(r"^Your secret is '<hidden: 18 characters, version 01234567>'\.$", count=3)
        assert app.stop()[0] == 0
    assert "s3cr3t" not in app.output
    assert f"Your secret is '{mask(fake.secret_value, SECRET_VERSION)}'." in app.lines


def test_each_failure_the_sdk_does_not_absorb_is_one_greppable_line_and_the_loop_then_reads(
    fake: FakeAzure, tmp_path: Path
) -> None:
    fake.script_token(
        entra_error(700211, status=401),
        entra_error(70021),
        entra_error(700016, "unauthorized_client"),
        entra_error(90061, "invalid_request"),
    )
    fake.script_secret(
        key_vault_error(403, "Forbidden", "ForbiddenByRbac"),
        *[key_vault_error(401, "Unauthorized")] * 2,  # the SDK answers one challenge itself, then gives up
        key_vault_error(404, "SecretNotFound"),
        *[key_vault_error(429, "Throttled", **{"Retry-After": "0.01"})] * 6,  # 1 try + 5 SDK retries
        *[key_vault_error(503, "ServiceUnavailable", **{"retry-after-ms": "5"})] * 6,
        RESET,  # retried by the SDK at once: no error line
    )
    with App(app_env(fake, POLL_INTERVAL_SECONDS="0.02"), tmp_path) as app:
        app.wait_for(r"^Your secret is '<hidden: ", timeout=20)
        assert app.process.poll() is None
        assert app.stop()[0] == 0
    errors = lines_matching(app.lines, ERROR_LINE)
    expected = [
        "Token request to Microsoft Entra ID failed: AADSTS700211 (invalid_client): no federated credential",
        "Token request to Microsoft Entra ID failed: AADSTS70021 (invalid_client): no federated credential",
        "Token request to Microsoft Entra ID failed: AADSTS700016 (unauthorized_client): the client id is",
        "Token request to Microsoft Entra ID failed: AADSTS90061 (invalid_request): Entra ID could not reach",
        "Key Vault GET secret Secret failed: HTTP 403 Forbidden/ForbiddenByRbac: a new role assignment may "
        "still be propagating (up to 10 minutes); check the identity has Key Vault Secrets User on the "
        "vault.",
        "Key Vault GET secret Secret failed: HTTP 401 Unauthorized: Key Vault rejected the token",
        "Key Vault GET secret Secret failed: HTTP 404 SecretNotFound: check SECRET_NAME (Secret) exists",
        "Key Vault GET secret Secret failed: HTTP 429 Throttled: ",
        "Key Vault GET secret Secret failed: HTTP 503 ServiceUnavailable: ",
    ]
    assert len(errors) == len(expected), "\n".join(errors)
    for number, (line, start) in enumerate(zip(errors, expected, strict=True), start=1):
        assert re.sub(ERROR_LINE, "", line).startswith(start), line
        assert line.endswith(f"(consecutive failure {number}).")
    assert fake.count("reset") == 1
    assert "Traceback" not in app.output
    assert ACCESS_TOKEN not in app.output


def test_readyz_is_503_until_the_first_read_200_after_and_503_when_reads_go_stale_while_livez_stays_200(
    fake: FakeAzure, tmp_path: Path
) -> None:
    forbidden = key_vault_error(403, "Forbidden", "ForbiddenByRbac")
    fake.fail_secret_reads(forbidden)
    with App(app_env(fake), tmp_path) as app:
        app.wait_for(r"ForbiddenByRbac")
        assert app.probe("/readyz") == (503, "not ready: no successful read yet\n")
        assert app.probe("/livez") == (200, "alive\n")
        fake.fail_secret_reads(None)
        app.wait_for_probe("/readyz", 200)
        fake.fail_secret_reads(forbidden)
        stale = app.wait_for_probe("/readyz", 503)
        assert "last successful read" in stale and "(limit 1 s)" in stale
        assert app.probe("/livez")[0] == 200
        assert app.stop()[0] == 0


def test_a_pod_without_workload_identity_logs_credential_unavailable_and_keeps_trying(
    fake: FakeAzure, tmp_path: Path
) -> None:
    with App(app_env(fake, workload_identity=False), tmp_path) as app:
        lines = [m.string for m in app.wait_for(ERROR_LINE, count=3)]
        assert app.process.poll() is None
        assert app.stop()[0] == 0
    for line in lines:
        assert "No credential available (CredentialUnavailable)" in line
        assert "ManagedIdentityCredential" in line
        assert 'azure.workload.identity/use: "true"' in line
    assert lines_matching(app.lines, r" WARNING No workload identity injected")
    # IMDS was asked, through the loopback proxy, and said "Identity not found".
    assert fake.count("imds") >= 1
    assert fake.count("token") == 0


@pytest.mark.parametrize(
    ("signum", "moment"),
    [
        pytest.param(signal.SIGTERM, "backoff", id="SIGTERM-mid-backoff"),
        pytest.param(signal.SIGINT, "backoff", id="SIGINT-mid-backoff"),
        pytest.param(signal.SIGTERM, "sleep", id="SIGTERM-mid-sleep"),
    ],
)
def test_a_signal_ends_the_app_with_exit_0_within_1_second_even_mid_backoff_or_mid_sleep(
    signum: signal.Signals, moment: str, fake: FakeAzure, tmp_path: Path
) -> None:
    if moment == "backoff":
        fake.fail_secret_reads(key_vault_error(403, "Forbidden", "ForbiddenByRbac"))
    with App(app_env(fake, POLL_INTERVAL_SECONDS="30"), tmp_path) as app:
        app.wait_for(r"Retrying in \d+\.\d+ s" if moment == "backoff" else r"^Your secret is ")
        code, elapsed = app.stop(signum)
    assert code == 0
    assert elapsed < 1.0
    assert app.lines[-1].endswith(f"INFO Received {signum.name}; exiting.")


def test_a_health_port_already_in_use_exits_2_with_one_line_naming_health_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        env = MINIMAL | {"HEALTH_PORT": str(taken.getsockname()[1]), "PYTHONPATH": str(APP_DIR)}
        done = subprocess.run(
            [sys.executable, "-m", "secret_reader"],
            env=env | {"HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("secret_reader: configuration error: HEALTH_PORT: cannot listen: ")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to find the app's threads")
def test_sigterm_sent_to_a_worker_thread_still_exits_0_within_1_s(fake: FakeAzure, tmp_path: Path) -> None:
    # kill(2) on a thread id prefers that thread; Python runs handlers only on the main thread, which must
    # still wake up.
    with App(app_env(fake, POLL_INTERVAL_SECONDS="30"), tmp_path) as app:
        app.wait_for(r"^Your secret is ")
        pid = app.process.pid
        workers = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
        assert workers, "the app runs its loop and health server in threads"
        sent = time.monotonic()
        os.kill(workers[0], signal.SIGTERM)
        code = app.process.wait(10)
        elapsed = time.monotonic() - sent
    assert code == 0
    assert elapsed < 1.0
