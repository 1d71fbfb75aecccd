"""The app's promises: a strict environment contract (workload identity or nothing), masked values, one greppable
line per failure and per SDK retry, a loop that survives failures and retries promptly until its first read,
health endpoints that tell the truth without flapping, and a prompt exit on SIGTERM/SIGINT.

End-to-end tests run the real `python -m secret_reader` against `app_fakes.FakeAzure`'s scripted services,
reached only through the twin's loopback proxy, with the real hostnames and the real azure-identity /
azure-keyvault-secrets code paths, and under the twin's loopback guard.
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
from urllib.parse import urlsplit

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.core.pipeline.policies import RequestHistory
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from secret_reader import facts
from secret_reader.config import ConfigError, Settings, WorkloadIdentity, load_settings
from secret_reader.console import Console, mask
from secret_reader.diagnose import Context, describe
from secret_reader.health import LIVENESS_GRACE_SECONDS, Health, serve
from secret_reader.reader import (
    REQUEST_STALL_SECONDS,
    SDK_RETRY_POLICY,
    STOPPED_LINE,
    AnnouncedRetryPolicy,
    Poller,
    retry_delay,
    secret_client,
    workload_identity_credential,
)

from tests.app_fakes import (
    ACCESS_TOKEN,
    CLIENT_ID,
    OTHER_TENANT_ID,
    SECRET_NAME,
    SECRET_VERSION,
    SERVICE_ACCOUNT_TOKEN,
    TENANT_ID,
    VAULT_HOST,
    VAULT_NAME,
    App,
    FakeAzure,
    app_env,
    app_process_env,
    entra_error,
    json_response,
    key_vault_error,
    lines_matching,
    start_proxy,
)
from twin.messages import RESET
from twin.proxy import Proxy
from twin.run import GUARD_DIR, GUARD_MARK

#: What the webhook injects into a container of a labelled pod whose service account has the client-id annotation.
TOKEN_FILE = "/var/run/secrets/azure/tokens/azure-identity-token"
INJECTED = {
    "AZURE_CLIENT_ID": CLIENT_ID,
    "AZURE_TENANT_ID": TENANT_ID,
    "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
    "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/",
}
MINIMAL = INJECTED | {"KEY_VAULT_NAME": VAULT_NAME, "SECRET_NAME": SECRET_NAME}
#: The app's own lines: `<UTC timestamp> <LEVEL> `.
PREFIX = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?:INFO|WARNING|ERROR) "
ERROR_LINE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR "
#: The walkthrough's two lines, the only ones without the prefix.
WALKTHROUGH = rf"^(?:Retrieving your secret from {VAULT_NAME}\.|Your secret is '.*'\.)$"
#: A generous bound on the time from a stop signal to the exit: it catches a hang (the tests poll every 30 s),
#: it measures nothing (`tests/app_bench.py` does).
HANG_SECONDS = 5.0


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    proxy = start_proxy(tmp_path_factory.mktemp("proxy"))
    yield proxy
    proxy.stop()


@pytest.fixture
def fake(tmp_path: Path, proxy: Proxy) -> Iterator[FakeAzure]:
    with FakeAzure(tmp_path, proxy=proxy) as azure:
        yield azure
    assert azure.count("refused") == 0, "the app tried to reach a host the fake does not serve"


def assert_stayed_on_loopback(output: str) -> None:
    assert GUARD_MARK not in output, output


def assert_one_line_per_event(lines: list[str]) -> None:
    """Every line is a walkthrough line or the app's prefixed one: nothing else (an SDK's text) got through."""
    strays = [line for line in lines if not re.match(PREFIX, line) and not re.match(WALKTHROUGH, line)]
    assert not strays, "\n".join(strays)


def settings(**env: str) -> Settings:
    return load_settings(MINIMAL | env)


# --- the environment contract -------------------------------------------------------------------------------


def test_vault_name_alone_means_the_public_cloud_and_other_variables_default() -> None:
    got = load_settings(MINIMAL)
    assert got == Settings(
        identity=WorkloadIdentity(CLIENT_ID, TENANT_ID, TOKEN_FILE, "https://login.microsoftonline.com/"),
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
        ("https://KV-Next.vault.sovereign-cloud.example/", "https://kv-next.vault.sovereign-cloud.example/"),
    ],
)
def test_vault_url_accepts_sovereign_and_plausible_new_clouds(url: str, normalized: str) -> None:
    got = load_settings(INJECTED | {"KEY_VAULT_URL": url, "SECRET_NAME": SECRET_NAME})
    assert (got.vault_url, got.vault_name) == (normalized, normalized.split("//")[1].split(".")[0])


def test_vault_url_wins_over_an_agreeing_name_and_a_conflicting_name_is_rejected() -> None:
    url = "https://wi-demo-kv.vault.azure.cn/"
    assert settings(KEY_VAULT_URL=url).vault_url == url
    with pytest.raises(ConfigError, match=r"^KEY_VAULT_NAME: 'other-kv' conflicts with KEY_VAULT_URL"):
        load_settings(INJECTED | {"KEY_VAULT_URL": url, "KEY_VAULT_NAME": "other-kv", "SECRET_NAME": SECRET_NAME})


#: What the app says when the webhook injected none (or only some) of its variables.
NOT_INJECTED = (
    "not set: the workload identity webhook did not inject them, and the app uses no other identity. Likely: the pod "
    'template lacks the label azure.workload.identity/use: "true", or the service account lacks the '
    "azure.workload.identity/client-id annotation, or the cluster has no workload identity (or the pod is in "
    "kube-system). Outside a cluster, set them yourself (app/README.md)"
)
LIKE = "like https://myvault.vault.azure.net/"
NAME_RULE = "3-24 letters, digits and hyphens, starting with a letter"
WHITESPACE = "has leading or trailing whitespace; set the value alone"
SECONDS = "must be a positive number of seconds, e.g. 5 or 0.5"
PORT = "must be a port number 1-65535 (0 picks a free port)"
VERSION = "must be 32 hex digits, or empty for the latest version"
URL = "KEY_VAULT_URL"


@pytest.mark.parametrize(
    ("env", "variable", "problem"),
    [
        (
            {"KEY_VAULT_NAME": ""},
            URL,
            "is required (the vault URI, e.g. https://myvault.vault.azure.net/), or KEY_VAULT_NAME",
        ),
        ({URL: "http://kv1.vault.azure.net/"}, URL, f"'http://kv1.vault.azure.net/' must use https, {LIKE}"),
        (
            {URL: "https://kv1.vault.azure.net:8443/"},
            URL,
            f"'https://kv1.vault.azure.net:8443/' must be the vault URI alone, {LIKE}",
        ),
        (
            {URL: "https://kv1.vault.azure.net/secrets/x"},
            URL,
            f"'https://kv1.vault.azure.net/secrets/x' must be the vault URI alone, {LIKE}",
        ),
        (
            {URL: "https://kv1.vault.azure.net/?a=b"},
            URL,
            f"'https://kv1.vault.azure.net/?a=b' must be the vault URI alone, {LIKE}",
        ),
        (
            {URL: "https://kv1.vault.azure.net/#x"},
            URL,
            f"'https://kv1.vault.azure.net/#x' must be the vault URI alone, {LIKE}",
        ),
        (
            {URL: "https://user@kv1.vault.azure.net/"},
            URL,
            f"'https://user@kv1.vault.azure.net/' must be the vault URI alone, {LIKE}",
        ),
        (
            {URL: "https://:pw@kv1.vault.azure.net/"},
            URL,
            f"'https://:pw@kv1.vault.azure.net/' must be the vault URI alone, {LIKE}",
        ),
        (
            {URL: "https://kv1.vault.azure.net:99999/"},
            URL,
            f"'https://kv1.vault.azure.net:99999/' is not a URL (Port out of range 0-65535); expected one {LIKE}",
        ),
        (
            {URL: "https://kv1.blob.core.windows.net/"},
            URL,
            "'https://kv1.blob.core.windows.net/' is not a Key Vault host <name>.vault.<cloud domain> "
            "(vault.azure.net, vault.azure.cn, vault.usgovcloudapi.net)",
        ),
        (
            {URL: "https://1kv.vault.azure.net/"},
            URL,
            f"'https://1kv.vault.azure.net/': vault name '1kv' must be {NAME_RULE}",
        ),
        ({URL: " https://kv1.vault.azure.net/"}, URL, f"' https://kv1.vault.azure.net/' {WHITESPACE}"),
        ({URL: "https://kv1.vault.azure.net/ "}, URL, f"'https://kv1.vault.azure.net/ ' {WHITESPACE}"),
        ({"POLL_INTERVAL_SECONDS": "5\n"}, "POLL_INTERVAL_SECONDS", f"'5\\n' {WHITESPACE}"),
        ({"KEY_VAULT_NAME": "kv"}, "KEY_VAULT_NAME", f"'kv' is not a vault name: {NAME_RULE}"),
        ({"KEY_VAULT_NAME": "a" * 25}, "KEY_VAULT_NAME", f"'{'a' * 25}' is not a vault name: {NAME_RULE}"),
        ({"KEY_VAULT_NAME": "kv_1"}, "KEY_VAULT_NAME", f"'kv_1' is not a vault name: {NAME_RULE}"),
        ({"SECRET_NAME": ""}, "SECRET_NAME", "is required (the name of the secret to read)"),
        ({"SECRET_NAME": "my_secret"}, "SECRET_NAME", "'my_secret' must be 1-127 letters, digits and hyphens"),
        ({"SECRET_NAME": "s" * 128}, "SECRET_NAME", f"'{'s' * 100}...' must be 1-127 letters, digits and hyphens"),
        (
            {"VERSION_ID": "ded8e5e3b3e040e9bfa5c47d0e28848"},
            "VERSION_ID",
            f"'ded8e5e3b3e040e9bfa5c47d0e28848' {VERSION}",
        ),
        (
            {"VERSION_ID": "zed8e5e3b3e040e9bfa5c47d0e28848a"},
            "VERSION_ID",
            f"'zed8e5e3b3e040e9bfa5c47d0e28848a' {VERSION}",
        ),
        ({"POLL_INTERVAL_SECONDS": "0"}, "POLL_INTERVAL_SECONDS", f"'0' {SECONDS}"),
        ({"POLL_INTERVAL_SECONDS": "-5"}, "POLL_INTERVAL_SECONDS", f"'-5' {SECONDS}"),
        ({"POLL_INTERVAL_SECONDS": "inf"}, "POLL_INTERVAL_SECONDS", f"'inf' {SECONDS}"),
        ({"POLL_INTERVAL_SECONDS": "nan"}, "POLL_INTERVAL_SECONDS", f"'nan' {SECONDS}"),
        ({"POLL_INTERVAL_SECONDS": "5s"}, "POLL_INTERVAL_SECONDS", f"'5s' {SECONDS}"),
        ({"REVEAL_SECRET": "maybe"}, "REVEAL_SECRET", "'maybe' must be true/false, 1/0 or yes/no"),
        ({"HEALTH_PORT": "65536"}, "HEALTH_PORT", f"'65536' {PORT}"),
        ({"HEALTH_PORT": "-1"}, "HEALTH_PORT", f"'-1' {PORT}"),
        ({"HEALTH_PORT": "8_080"}, "HEALTH_PORT", f"'8_080' {PORT}"),
        (
            {"AZURE_CLIENT_ID": ""},
            "AZURE_CLIENT_ID",
            "is not set, though AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE are: the pod's service account lacks "
            "the azure.workload.identity/client-id annotation (the identity's client id)",
        ),
        (
            {"AZURE_CLIENT_ID": "", "AZURE_TENANT_ID": "", "AZURE_FEDERATED_TOKEN_FILE": ""},
            "AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE",
            NOT_INJECTED,
        ),
        ({"AZURE_FEDERATED_TOKEN_FILE": ""}, "AZURE_FEDERATED_TOKEN_FILE", NOT_INJECTED),
    ],
)
def test_each_bad_variable_is_rejected_naming_the_variable_its_value_and_the_rule(
    env: dict[str, str], variable: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(**env)
    assert raised.value.variable == variable
    assert str(raised.value) == f"{variable}: {problem}"


def test_a_bad_value_is_shown_whole_up_to_100_characters_and_cut_short_beyond() -> None:
    for value, shown in (("kv_" + "x" * 97, None), ("kv_" + "x" * 98, "kv_" + "x" * 97 + "...")):
        with pytest.raises(ConfigError) as raised:
            settings(KEY_VAULT_NAME=value)
        assert f"KEY_VAULT_NAME: {shown and repr(shown) or repr(value)} is not a vault name" in str(raised.value)


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
    assert settings(HEALTH_PORT="65535").health_port == 65535  # the highest port; 65536 is refused above
    empty = settings(VERSION_ID="", POLL_INTERVAL_SECONDS="", REVEAL_SECRET="", HEALTH_PORT="", AZURE_AUTHORITY_HOST="")
    assert (empty.version, empty.poll_interval, empty.reveal, empty.health_port) == (None, 5.0, False, 8080)
    assert empty.identity.authority_host is None


def run_to_exit(tmp_path: Path, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The app run to its own end (bounded, to catch a hang), as a container would start it."""
    return subprocess.run(
        [sys.executable, "-m", "secret_reader"],
        env=app_process_env(tmp_path, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"KEY_VAULT_NAME": VAULT_NAME}, "SECRET_NAME"),
        (MINIMAL | {"POLL_INTERVAL_SECONDS": "-1"}, "POLL_INTERVAL_SECONDS"),
        ({"KEY_VAULT_URL": "http://kv1.vault.azure.net/", "SECRET_NAME": "s"}, "KEY_VAULT_URL"),
        (INJECTED | {"KEY_VAULT_URL": f" https://{VAULT_HOST}/", "SECRET_NAME": SECRET_NAME}, "KEY_VAULT_URL"),
        # What the webhook injects for a service account without the client-id annotation.
        (MINIMAL | {"AZURE_CLIENT_ID": ""}, "AZURE_CLIENT_ID"),
        (MINIMAL | {"AZURE_AUTHORITY_HOST": "http://login.microsoftonline.com/"}, "AZURE_AUTHORITY_HOST"),
    ],
)
def test_bad_environment_exits_2_at_once_with_one_stderr_line_and_no_traceback(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    done = run_to_exit(tmp_path, env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert_stayed_on_loopback(done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"secret_reader: configuration error: {variable}: ")


def test_a_pod_without_workload_identity_exits_2_naming_the_missing_variables_and_never_asks_the_node(
    fake: FakeAzure, tmp_path: Path
) -> None:
    """No fallback to the node's identity (IMDS holds the kubelet's AcrPull): a permanent error, said at once."""
    done = run_to_exit(tmp_path, app_env(fake, workload_identity=False), timeout=10)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "secret_reader: configuration error: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE: not set"
    )
    for cause in ('label azure.workload.identity/use: "true"', "client-id annotation", "no workload identity"):
        assert cause in lines[0]
    assert (fake.count("imds"), fake.count("token"), fake.count("challenge"), fake.count("get")) == (0, 0, 0, 0)
    assert_stayed_on_loopback(done.stderr)


def test_name_rules_agree_with_the_projects_facts_module() -> None:
    """Every fact both modules hold has one name and one value; a new shared name is checked without a change."""
    from aks_workload_identity import facts as project

    def constants(module: object) -> dict[str, object]:
        return {name: value for name, value in vars(module).items() if name.isupper()}

    def comparable(value: object) -> object:
        return (value.pattern, value.flags) if isinstance(value, re.Pattern) else value

    app_facts, project_facts = constants(facts), constants(project)
    shared = app_facts.keys() & project_facts.keys()
    # The facts the app must share: if one is renamed on either side, this says so rather than checking less.
    assert {
        "VAULT_NAME_RULE",
        "SECRET_NAME_RULE",
        "WORKLOAD_IDENTITY_USE_LABEL",
        "CLIENT_ID_ANNOTATION",
        "TENANT_ID_ANNOTATION",
        "TOKEN_AUDIENCE",
        "RBAC_PROPAGATION_SECONDS",
        "UNMUTATED_NAMESPACE",
    } <= shared
    for name in sorted(shared):
        assert comparable(app_facts[name]) == comparable(project_facts[name]), name
    # The same text or rule under another name only would be a fact typed twice (numbers coincide too easily).
    # Two project facts may share a value (the webhook's unmutated namespace and DNS's are both kube-system).
    for name, value in app_facts.items():
        if not isinstance(value, str | re.Pattern):
            continue
        twins = [other for other, known in project_facts.items() if comparable(known) == comparable(value)]
        assert not twins or name in twins, f"app's {name} is the project's {twins}"


# --- masking, backoff, health, diagnosis (in process) -------------------------------------------------------


def test_a_log_line_carries_at_most_2000_characters_of_message_on_one_line() -> None:
    out = io.StringIO()
    console = Console(out)
    console.log("INFO", "x" * 2000)
    console.log("INFO", "y" * 1000 + "\r\n" + "y" * 1001)
    first, second = (line.split(" INFO ", 1)[1] for line in out.getvalue().splitlines())
    assert first == "x" * 2000
    assert second == "y" * 1000 + " " + "y" * 996 + "..."


def test_mask_shows_length_and_version_but_nothing_derived_from_the_value() -> None:
    value = "Hello-s3cr3t"
    shown = mask(value, "ded8e5e3b3e040e9bfa5c47d0e28848a")
    assert shown == "<hidden: 12 characters, version ded8e5e3>"
    assert mask(value + "!", "ded8e5e3b3e040e9bfa5c47d0e28848a") == "<hidden: 13 characters, version ded8e5e3>"
    assert mask("x", None) == "<hidden: 1 character>"


def test_before_the_first_read_every_retry_comes_after_90_to_100_percent_of_one_interval() -> None:
    five = settings(POLL_INTERVAL_SECONDS="5")
    for n in (1, 2, 5, 10_000):
        assert retry_delay(n, five, read_before=False, jitter=lambda: 1.0) == 5
        assert retry_delay(n, five, read_before=False, jitter=lambda: 0.0) == 4.5


def test_after_a_read_backoff_starts_at_the_interval_doubles_and_stops_at_the_cap_with_50_to_100_percent_jitter() -> (
    None
):
    five = settings(POLL_INTERVAL_SECONDS="5")

    def delays(jitter: float, failures: range) -> list[float]:
        return [retry_delay(n, five, read_before=True, jitter=lambda: jitter) for n in failures]

    assert delays(1.0, range(1, 8)) == [5, 10, 20, 40, 60, 60, 60]
    assert delays(0.0, range(1, 4)) == [2.5, 5, 10]
    assert delays(1.0, range(10_000, 10_001)) == [60]


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


def test_readiness_is_false_before_the_first_read_and_true_after_while_recent_or_one_failure_since() -> None:
    clock = Clock()
    health = Health(ready_window=15, clock=clock)
    assert health.ready() == (False, "not ready: no successful read yet")
    health.failed()
    assert health.ready()[0] is False  # failures before any read never make it ready
    health.succeeded()
    clock.now += 15
    assert health.ready()[0] is True
    clock.now += 100  # a slow attempt in flight has not failed: still ready however long it takes
    assert health.ready()[0] is True
    health.failed()  # one failure, however stale the last read
    assert health.ready()[0] is True
    health.failed()  # the second consecutive one
    ok, reason = health.ready()
    assert not ok
    assert reason == "not ready: last successful read 115.0 s ago (limit 15 s) and 2 failed attempts since (limit 1)"
    health.succeeded()
    assert health.ready()[0] is True


def test_readiness_survives_failures_while_the_last_read_is_within_the_window() -> None:
    clock = Clock()
    health = Health(ready_window=15, clock=clock)
    health.succeeded()
    for _ in range(5):
        health.failed()
    clock.now += 15
    assert health.ready()[0] is True
    clock.now += 0.1
    assert health.ready()[0] is False


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


CONTEXT = Context(VAULT_NAME, SECRET_NAME, None, token_file=TOKEN_FILE)


def test_network_failures_are_one_line_naming_the_exception_and_what_to_check() -> None:
    line = describe(ServiceRequestError("Connection reset by peer\nmore"), CONTEXT)
    assert line.startswith("Network error talking to Key Vault (ServiceRequestError) after the SDK's retries")
    assert "Connection reset by peer more" in line
    assert "\n" not in line


def test_a_credential_failure_without_a_response_names_workload_identity_credential() -> None:
    line = describe(ClientAuthenticationError(message="Connection aborted.\nmore"), CONTEXT)
    assert line.startswith("Token request failed (WorkloadIdentityCredential): Connection aborted. more. Check")
    assert "AZURE_FEDERATED_TOKEN_FILE" in line


def test_an_unexpected_exception_is_still_one_line_naming_its_type() -> None:
    line = describe(ValueError("bad\nthing"), CONTEXT)
    assert line == "Unexpected error (ValueError) reading the secret: bad thing."


def run_loop(poller: Poller, health: Health | None = None) -> None:
    """Runs the loop in a thread until its source stops it; a loop that never ends fails the test, not pytest."""
    thread = threading.Thread(target=poller.run, daemon=True)
    if health is not None:
        health.watch(thread)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()


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


class VersionedVault:
    """Stands in for SecretClient as Key Vault answers: a version when one is asked for, else the latest."""

    def __init__(self, versions: dict[str, str], latest: str, stop: threading.Event) -> None:
        self.versions, self.latest, self.stop = versions, latest, stop
        self.asked: list[tuple[str, str | None]] = []

    def get_secret(self, name: str, version: str | None = None) -> object:
        self.stop.set()
        self.asked.append((name, version))
        version = version or self.latest
        return SimpleNamespace(value=self.versions[version], properties=SimpleNamespace(version=version))


def test_a_pinned_version_is_the_one_read_not_the_latest() -> None:
    old, new = "ded8e5e3b3e040e9bfa5c47d0e28848a", "0123456789abcdef0123456789abcdef"
    stop = threading.Event()
    vault = VersionedVault({old: "first value", new: "rotated value"}, new, stop)
    out = io.StringIO()
    pinned = settings(VERSION_ID=old, REVEAL_SECRET="true")
    Poller(pinned, vault, CONTEXT, Console(out), Health(ready_window=1), stop).run()
    assert "Your secret is 'first value'." in out.getvalue().splitlines()
    assert vault.asked == [(SECRET_NAME, old)]


@pytest.mark.parametrize(
    ("reveal", "shown"), [("true", ""), ("false", f"<hidden: 0 characters, version {SECRET_VERSION[:8]}>")]
)
def test_a_secret_without_a_value_is_shown_as_empty(reveal: str, shown: str) -> None:
    # Key Vault may return a secret with an empty value; the SDK's KeyVaultSecret.value may be None.
    stop = threading.Event()
    out = io.StringIO()
    source = ScriptedSource(["", None], stop)
    poller = Poller(
        settings(REVEAL_SECRET=reveal, POLL_INTERVAL_SECONDS="0.001"),
        source,
        CONTEXT,
        Console(out),
        Health(ready_window=1),
        stop,
    )
    poller.run()
    assert lines_matching(out.getvalue().splitlines(), "^Your secret is ") == [f"Your secret is '{shown}'."] * 2


def test_loop_survives_failures_resets_backoff_after_a_success_and_masks_the_value() -> None:
    stop = threading.Event()
    failures = [ServiceRequestError("reset"), ValueError("boom")]
    source = ScriptedSource([*failures, "Hello", RuntimeError("again"), "Hello"], stop)
    out = io.StringIO()
    health = Health(ready_window=1)
    poller = Poller(settings(POLL_INTERVAL_SECONDS="0.001"), source, CONTEXT, Console(out), health, stop)
    run_loop(poller)
    lines = out.getvalue().splitlines()
    errors = [re.sub(ERROR_LINE, "", line) for line in lines_matching(lines, ERROR_LINE)]
    # Every wait is 50-100 % of 0.001 s, shown as 0.00; the count restarts after the read.
    assert errors == [
        f"{describe(failures[0], CONTEXT)} Retrying in 0.00 s (consecutive failure 1).",
        "Unexpected error (ValueError) reading the secret: boom. Retrying in 0.00 s (consecutive failure 2).",
        "Unexpected error (RuntimeError) reading the secret: again. Retrying in 0.00 s (consecutive failure 1).",
    ]
    assert lines.count(f"Your secret is '{mask('Hello', SECRET_VERSION)}'.") == 2
    assert lines.count(f"Retrieving your secret from {VAULT_NAME}.") == 5
    assert "Hello'" not in out.getvalue()
    assert health.ready()[0] is True
    assert re.match(PREFIX, lines[-1]) and lines[-1].endswith(f"Z INFO {STOPPED_LINE}")


def test_the_loop_retries_every_interval_until_its_first_read_and_backs_off_only_after_it() -> None:
    stop = threading.Event()
    fail = ClientAuthenticationError("AADSTS70021: No matching federated identity record found.")
    source = ScriptedSource([*[fail] * 5, "Hello", *[fail] * 5, "Hello"], stop)
    out = io.StringIO()
    health = Health(ready_window=1)
    poller = Poller(settings(POLL_INTERVAL_SECONDS="0.01"), source, CONTEXT, Console(out), health, stop)
    run_loop(poller)
    waits = [float(m[1]) for m in re.finditer(r"Retrying in ([0-9.]+) s", out.getvalue())]
    assert len(waits) == 10
    assert waits[:5] == [0.01] * 5  # 90-100 % of the interval, shown to 2 places
    # After the read: min(0.01 x 2^(n-1), 0.12) x 50-100 %, so the 4th and 5th waits are at least 0.04 and 0.06.
    assert waits[8] >= 0.04 and waits[9] >= 0.06, waits
    lines = out.getvalue().splitlines()
    assert lines_matching(lines, r" INFO Read the secret after 5 failed attempts\.$")
    assert lines_matching(lines, r" INFO Read the secret again after 5 failed attempts\.$")


class FastForward(threading.Event):
    """The loop's stop event on a fake clock: each wait lets its whole timeout pass at once, then notes /livez."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.health: Health | None = None
        self.seen: list[tuple[str, bool]] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None and self.health is not None
        self.clock.now += timeout
        self.seen.append(("after a wait", self.health.alive()[0]))
        return self.is_set()


def test_liveness_holds_through_long_waits_and_slow_requests_because_the_loop_beats_before_each() -> None:
    # Each wait (1000 s) and each request (100 s) outlasts the deadline the other one announced, so /livez
    # stays 200 only if the loop announces a new deadline before every wait and before every request.
    clock = Clock()
    stop = FastForward(clock)
    health = Health(ready_window=3000, clock=clock)
    stop.health = health
    request_seconds = 100.0
    assert request_seconds < REQUEST_STALL_SECONDS < 1000

    class SlowSource(ScriptedSource):
        def get_secret(self, name: str, version: str | None = None) -> object:
            clock.now += request_seconds
            stop.seen.append(("during a request", health.alive()[0]))
            return super().get_secret(name, version)

    source = SlowSource(["Hello", "Hello", "Hello"], stop)
    poller = Poller(settings(POLL_INTERVAL_SECONDS="1000"), source, CONTEXT, Console(io.StringIO()), health, stop)
    run_loop(poller, health)
    assert stop.seen == [("during a request", True), ("after a wait", True)] * 3


# --- the SDK clients the app builds, in process against the fake services ----------------------------------------


def assert_announced_retries(retries: list[str]) -> None:
    """The three retry lines the scripted 503, dropped connection and 429 give, in order."""
    assert retries[0] == (
        "Request to login.microsoftonline.com failed (HTTP 503); the Azure SDK retries in 0.005 s (retry 1 of 5)."
    )
    assert re.fullmatch(
        rf"Request to {re.escape(VAULT_HOST)} failed \(Service(?:Request|Response)Error: .*[Cc]onnection.*\); "
        r"the Azure SDK retries in 0 s \(retry 1 of 5\)\.",
        retries[1],
    ), retries[1]
    assert retries[2] == f"Request to {VAULT_HOST} failed (HTTP 429); the Azure SDK retries in 0.01 s (retry 2 of 5)."


def test_the_apps_credential_and_client_read_through_announced_sdk_retries_within_the_transport_timeouts(
    proxy: Proxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `python -m secret_reader` builds, here in process: each SDK retry is one line and waits what the
    service asked (Retry-After) or the SDK's backoff; every request carries the 10 s connect / 30 s read timeouts
    that keep a silent network from hanging a poll."""
    sent: list[tuple[str | None, object]] = []
    slept: list[float] = []
    session_request = requests.Session.request

    def recording_request(self: requests.Session, method: str, url: str, **kwargs: object) -> requests.Response:
        sent.append((urlsplit(url).hostname, kwargs.get("timeout")))
        return session_request(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", recording_request)
    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, seconds: slept.append(seconds))
    out = io.StringIO()
    console = Console(out)
    with FakeAzure(tmp_path, proxy=proxy) as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        fake.script_token(json_response(503, {"error": "temporarily_unavailable"}, {"retry-after-ms": "5"}))
        fake.script_secret(RESET, key_vault_error(429, "Throttled", **{"Retry-After": "0.01"}))
        got = load_settings(fake.env() | {"KEY_VAULT_NAME": VAULT_NAME, "SECRET_NAME": SECRET_NAME})
        client = secret_client(got, workload_identity_credential(got, console), console)
        secret = client.get_secret(SECRET_NAME)
        assert fake.count("refused") == 0
        assert (fake.count("token"), fake.count("get"), fake.count("reset")) == (2, 3, 1)
    assert (secret.value, secret.properties.version) == ("Hello", SECRET_VERSION)
    retries = [re.sub(PREFIX, "", line) for line in out.getvalue().splitlines()]
    assert len(retries) == 3, retries
    assert_announced_retries(retries)
    assert slept == [0.005, 0.01]  # the first retry after a dropped connection is at once
    assert {host for host, _ in sent} == {"login.microsoftonline.com", VAULT_HOST}
    assert {timeout for _, timeout in sent} == {(10, 30)}


def test_an_sdk_retry_line_cuts_a_long_error_at_300_characters_and_the_retry_waits_its_backoff() -> None:
    out = io.StringIO()
    policy = AnnouncedRetryPolicy(Console(out), **SDK_RETRY_POLICY)
    retry = policy.configure_retries({})
    url = f"https://{VAULT_HOST}/secrets/{SECRET_NAME}?api-version=7.5"
    for error in (ServiceRequestError("first"), ServiceRequestError("x" * 150 + "\r\n" + "y" * 150)):
        retry["history"].append(RequestHistory(HttpRequest("GET", url), error=error))
    slept: list[float] = []
    policy.sleep(retry, SimpleNamespace(sleep=slept.append))
    # The second consecutive failure waits 2 s x 2^1 (exponential, factor 2).
    assert slept == [4]
    line = re.sub(PREFIX, "", out.getvalue().splitlines()[0])
    shown = "x" * 150 + " " + "y" * 146 + "..."
    wait = "the Azure SDK retries in 4 s (retry 2 of 5)"
    assert line == f"Request to {VAULT_HOST} failed (ServiceRequestError: {shown}); {wait}."


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
    assert_one_line_per_event(app.lines)
    assert_stayed_on_loopback(app.output)


def test_by_default_the_value_is_masked_and_never_reaches_the_log(fake: FakeAzure, tmp_path: Path) -> None:
    fake.secret_value = "Hello-s3cr3t-v4lue"
    with App(app_env(fake), tmp_path) as app:
        app.wait_for(r"^Your secret is '<hidden: 18 characters, version 01234567>'\.$", count=3)
        assert app.stop()[0] == 0
    assert "s3cr3t" not in app.output
    assert f"Your secret is '{mask(fake.secret_value, SECRET_VERSION)}'." in app.lines
    assert_stayed_on_loopback(app.output)


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
        RESET,  # retried by the SDK at once: no error line, one retry line
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
    retries = lines_matching(app.lines, r" WARNING Request to ")
    assert len(retries) == 5 + 5 + 1, "\n".join(retries)
    assert "Traceback" not in app.output
    assert ACCESS_TOKEN not in app.output
    assert_one_line_per_event(app.lines)
    assert_stayed_on_loopback(app.output)


def test_each_sdk_retry_is_announced_at_once_in_one_line_naming_the_host_the_cause_and_the_wait(
    fake: FakeAzure, tmp_path: Path
) -> None:
    """A network failure costs the SDK 44 s of retries; the operator sees each one as it happens, not silence."""
    fake.script_token(json_response(503, {"error": "temporarily_unavailable"}, {"retry-after-ms": "5"}))
    fake.script_secret(RESET, key_vault_error(429, "Throttled", **{"Retry-After": "0.01"}))
    with App(app_env(fake), tmp_path) as app:
        app.wait_for(r"^Your secret is ")
        assert app.stop()[0] == 0
    retries = [re.sub(PREFIX, "", line) for line in lines_matching(app.lines, r" WARNING ")]
    assert_announced_retries(retries)
    assert len(retries) == 3
    assert not lines_matching(app.lines, ERROR_LINE)
    assert ACCESS_TOKEN not in app.output and SERVICE_ACCOUNT_TOKEN not in app.output
    assert_one_line_per_event(app.lines)
    assert_stayed_on_loopback(app.output)


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
        assert "(limit 1 s) and " in stale and "failed attempts since (limit 1)" in stale
        assert app.probe("/livez")[0] == 200
        assert app.stop()[0] == 0
    assert_stayed_on_loopback(app.output)


def test_one_slow_failed_poll_after_the_first_read_keeps_readyz_200(fake: FakeAzure, tmp_path: Path) -> None:
    """A poll that Key Vault holds up for twice the readiness window, then fails, hits every replica at once:
    it must not take them all out of their Service."""
    with App(app_env(fake), tmp_path) as app:
        app.wait_for_probe("/readyz", 200)
        # 1 try + 5 SDK retries, each after a 0.4 s Retry-After: about 2 s (the window is 1 s), then one failure.
        fake.script_secret(*[key_vault_error(503, "ServiceUnavailable", **{"retry-after-ms": "400"})] * 6)
        scripted = time.monotonic()  # the last successful read was before this
        seen: list[tuple[float, int]] = []
        deadline = scripted + HANG_SECONDS * 3
        while not lines_matching(app.lines, r"Read the secret again after 1 failed attempts") and (
            time.monotonic() < deadline
        ):
            seen.append((time.monotonic(), app.probe("/readyz")[0]))
            time.sleep(0.02)
        assert app.stop()[0] == 0
    assert lines_matching(app.lines, r"HTTP 503 ServiceUnavailable: .* \(consecutive failure 1\)\.$"), app.output
    assert {status for _, status in seen} == {200}, seen
    # Probed after the readiness window (1 s) had passed with no successful read: the SDK's Retry-After waits alone
    # hold the poll for 2 s, however slow the machine, so however few probes fit in, the last ones come after it.
    assert any(at - scripted > 1.0 for at, _ in seen), seen
    assert_stayed_on_loopback(app.output)


def test_an_unreadable_token_file_is_one_line_naming_the_variable_and_the_path(fake: FakeAzure, tmp_path: Path) -> None:
    fake.token_file.unlink()
    with App(app_env(fake), tmp_path) as app:
        line = app.wait_for(ERROR_LINE)[0].string
        assert app.stop()[0] == 0
    assert re.sub(ERROR_LINE, "", line).startswith(
        f"Cannot read the projected service-account token AZURE_FEDERATED_TOKEN_FILE={fake.token_file} "
        "(FileNotFoundError): No such file or directory."
    )
    assert fake.count("token") == 0
    assert_one_line_per_event(app.lines)
    assert_stayed_on_loopback(app.output)


def test_a_vault_in_another_tenant_than_the_identity_points_at_the_tenant_id_annotation(
    fake: FakeAzure, tmp_path: Path
) -> None:
    # The vault's challenge names its own tenant; azure-identity refuses a token for a tenant other than
    # AZURE_TENANT_ID before asking Entra ID, so nothing about the token file or the network is at fault.
    fake.vault_tenant = OTHER_TENANT_ID
    with App(app_env(fake), tmp_path) as app:
        lines = [m.string for m in app.wait_for(ERROR_LINE, count=2)]
        assert app.stop()[0] == 0
    for line in lines:
        assert "Token request refused by azure-identity (tenant mismatch)" in line, line
        assert "azure.workload.identity/tenant-id annotation" in line
        assert f"not configured to acquire tokens for tenant {OTHER_TENANT_ID}." in line
        assert "AZURE_FEDERATED_TOKEN_FILE" not in line
        assert "additionally_allowed_tenants" not in line  # advice for code, not for the operator
    assert fake.count("token") == 0
    assert_one_line_per_event(app.lines)
    assert_stayed_on_loopback(app.output)


@pytest.mark.parametrize(
    ("signum", "moment"),
    [
        pytest.param(signal.SIGTERM, "backoff", id="SIGTERM-mid-backoff"),
        pytest.param(signal.SIGINT, "backoff", id="SIGINT-mid-backoff"),
        pytest.param(signal.SIGTERM, "sleep", id="SIGTERM-mid-sleep"),
    ],
)
def test_a_signal_stops_the_loop_and_ends_the_app_with_exit_0_even_mid_backoff_or_mid_sleep(
    signum: signal.Signals, moment: str, fake: FakeAzure, tmp_path: Path
) -> None:
    if moment == "backoff":
        fake.fail_secret_reads(key_vault_error(403, "Forbidden", "ForbiddenByRbac"))
    with App(app_env(fake, POLL_INTERVAL_SECONDS="30"), tmp_path) as app:
        app.wait_for(r"Retrying in \d+\.\d+ s" if moment == "backoff" else r"^Your secret is ")
        code, elapsed = app.stop(signum)
    assert code == 0
    assert elapsed < HANG_SECONDS
    assert_stopped_cleanly(app.lines, signum)
    assert_stayed_on_loopback(app.output)


def assert_stopped_cleanly(lines: list[str], signum: signal.Signals) -> None:
    """The last lines show the loop itself returned (its wait woke up), not only that the process ended."""
    tail = [re.sub(PREFIX, "", line) for line in lines[-3:]]
    assert tail == [f"Received {signum.name}; stopping.", STOPPED_LINE, "Exiting."], "\n".join(lines[-5:])


def test_a_health_port_already_in_use_exits_2_with_one_line_naming_health_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        env = MINIMAL | {"HEALTH_PORT": str(taken.getsockname()[1])}
        done = run_to_exit(tmp_path, env)
    assert done.returncode == 2
    assert_stayed_on_loopback(done.stderr)
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("secret_reader: configuration error: HEALTH_PORT: cannot listen: ")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to find the app's threads")
def test_sigterm_sent_to_a_worker_thread_still_stops_the_loop_and_exits_0(fake: FakeAzure, tmp_path: Path) -> None:
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
    assert elapsed < HANG_SECONDS
    app.wait_for("Exiting", timeout=5)  # the reader thread may still be taking the last lines
    assert_stopped_cleanly(app.lines, signal.SIGTERM)
    assert_stayed_on_loopback(app.output)


def test_the_apps_interpreter_carries_the_loopback_guard(tmp_path: Path) -> None:
    """Without this, "the guard never spoke" would hold for an app that never had a guard.

    The connect is attempted only once the guard is seen in place, so a broken setup cannot send anything.
    """
    probe = (
        "import pathlib, socket, sitecustomize\n"
        "print(pathlib.Path(sitecustomize.__file__).parent)\n"
        "assert socket.socket.connect is sitecustomize.connect\n"
        "try:\n"
        "    socket.socket().connect(('192.0.2.1', 443))\n"
        "except ConnectionRefusedError:\n"
        "    print('refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=app_process_env(tmp_path, {}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.splitlines() == [str(GUARD_DIR), "refused"], done.stderr
    assert GUARD_MARK in done.stderr
