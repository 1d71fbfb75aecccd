"""The environment contract, validated once at start so a bad deployment fails in one clear line, not later.

An empty variable counts as unset; one with leading or trailing whitespace is refused (a pasted value that a
URL parser would quietly trim). `KEY_VAULT_URL` (the vault's `vaultUri`, right for every cloud) or, for the
walkthrough's compatibility, `KEY_VAULT_NAME` (public cloud only) is required; when both are set the URL wins,
and a name that disagrees with the URL's host is rejected rather than silently ignored.

The workload identity the webhook injects is required too: the app authenticates with it alone, never with the
node's identity, so a pod the webhook did not mutate stops at once and says why.

File mode (`SECRET_FILE` set) reads a file the Secrets Store CSI driver keeps and needs none of the vault or identity
variables; it wins when they are set too (a `both` workload's pods get `KEY_VAULT_URL` as well), and ignores them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from secret_reader.facts import (
    AUTHORITY_HOST_ENV,
    CLIENT_ID_ANNOTATION,
    KNOWN_VAULT_SUFFIXES,
    PUBLIC_VAULT_SUFFIX,
    SECRET_FILE_ENV,
    SECRET_NAME_RULE,
    SECRET_VERSION_RULE,
    UNMUTATED_NAMESPACE,
    VAULT_NAME_RULE,
    WORKLOAD_IDENTITY_ENV,
    WORKLOAD_IDENTITY_USE_LABEL,
)

#: `<name>.vault.<domain>`: the known suffixes and any plausible future cloud's.
_VAULT_HOST = re.compile(r"^(?P<name>[^.]+)\.(?P<suffix>vault(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)$")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_PORT = re.compile(r"^[0-9]{1,5}$")

#: Backoff after failures starts at the poll interval, doubles, and is capped at this many intervals ...
BACKOFF_CAP_INTERVALS = 12
#: ... but never above this many seconds (nor below one interval).
BACKOFF_CAP_SECONDS = 60.0
#: /readyz is 200 while the last successful read is at most this many intervals old ...
READY_INTERVALS = 3
#: ... or this many seconds, whichever is longer, so a tiny interval still leaves time for one request.
READY_FLOOR_SECONDS = 1.0
#: Longest POLL_INTERVAL_SECONDS: a day. Far longer waits overflow threading's timeouts (an OverflowError that
#: would end the poll thread); a secret reader that looks less than once a day is a misconfiguration.
MAX_POLL_INTERVAL_SECONDS = 86400.0


class ConfigError(Exception):
    """A missing or malformed variable; the message names it, shows the value and states the rule."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class WorkloadIdentity:
    """What the webhook injected: who the pod is to Entra ID, and the projected token that proves it."""

    client_id: str
    tenant_id: str
    token_file: str
    #: None: azure-identity's default, the public cloud's authority.
    authority_host: str | None


@dataclass(frozen=True)
class Settings:
    """What the app was asked to do, already checked."""

    identity: WorkloadIdentity
    vault_url: str
    vault_name: str
    secret_name: str
    version: str | None
    poll_interval: float
    reveal: bool
    health_port: int

    @property
    def backoff_cap(self) -> float:
        """Longest wait between failed attempts: min(12 x interval, 60 s), but at least one interval."""
        return max(self.poll_interval, min(BACKOFF_CAP_INTERVALS * self.poll_interval, BACKOFF_CAP_SECONDS))

    @property
    def ready_window(self) -> float:
        return ready_window(self.poll_interval)


@dataclass(frozen=True)
class FileSettings:
    """File mode (SECRET_FILE set): read a file the Secrets Store CSI driver keeps, instead of Key Vault."""

    path: str
    poll_interval: float
    reveal: bool
    health_port: int

    @property
    def ready_window(self) -> float:
        return ready_window(self.poll_interval)


def ready_window(poll_interval: float) -> float:
    """How old the last successful read may be for /readyz to answer 200, in either mode."""
    return max(READY_INTERVALS * poll_interval, READY_FLOOR_SECONDS)


def _getter(environ: Mapping[str, str]) -> Callable[[str], str | None]:
    def get(name: str) -> str | None:
        value = environ.get(name) or None
        if value is not None and value != value.strip():
            raise ConfigError(name, f"{_shown(value)} has leading or trailing whitespace; set the value alone")
        return value

    return get


def load_file_settings(environ: Mapping[str, str]) -> FileSettings | None:
    """File mode's settings when SECRET_FILE is set (no vault or identity variable is needed then), else None."""
    get = _getter(environ)
    path = get(SECRET_FILE_ENV)
    if path is None:
        return None
    if not path.startswith("/"):
        raise ConfigError(SECRET_FILE_ENV, f"{_shown(path)} must be an absolute path, e.g. /mnt/secrets/db-password")
    return FileSettings(
        path=path,
        poll_interval=_interval(get("POLL_INTERVAL_SECONDS")),
        reveal=_boolean("REVEAL_SECRET", get("REVEAL_SECRET"), default=False),
        health_port=_port(get("HEALTH_PORT")),
    )


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Parse and check every variable; raise ConfigError for the first one that is wrong."""
    get = _getter(environ)

    vault_url, vault_name = _vault(get("KEY_VAULT_URL"), get("KEY_VAULT_NAME"))
    secret_name = _secret_name(get("SECRET_NAME"))
    version = _version(get("VERSION_ID"))
    poll_interval = _interval(get("POLL_INTERVAL_SECONDS"))
    reveal = _boolean("REVEAL_SECRET", get("REVEAL_SECRET"), default=False)
    health_port = _port(get("HEALTH_PORT"))
    return Settings(
        identity=_injected_identity({name: get(name) for name in (*WORKLOAD_IDENTITY_ENV, AUTHORITY_HOST_ENV)}),
        vault_url=vault_url,
        vault_name=vault_name,
        secret_name=secret_name,
        version=version,
        poll_interval=poll_interval,
        reveal=reveal,
        health_port=health_port,
    )


def _shown(value: str) -> str:
    """The value as it appears in an error line: quoted, escaped, never more than a line."""
    return repr(value if len(value) <= 100 else value[:100] + "...")


def _vault(url: str | None, name: str | None) -> tuple[str, str]:
    if name is not None and not VAULT_NAME_RULE.match(name):
        raise ConfigError(
            "KEY_VAULT_NAME",
            f"{_shown(name)} is not a vault name: 3-24 letters, digits and hyphens, starting with a letter",
        )
    if url is None:
        if name is None:
            raise ConfigError(
                "KEY_VAULT_URL",
                "is required (the vault URI, e.g. https://myvault.vault.azure.net/), or KEY_VAULT_NAME",
            )
        return f"https://{name.lower()}.{PUBLIC_VAULT_SUFFIX}/", name
    url_name = _vault_url_name(url)
    if name is not None and name.lower() != url_name.lower():
        raise ConfigError(
            "KEY_VAULT_NAME",
            f"{_shown(name)} conflicts with KEY_VAULT_URL's vault {url_name!r}; set only KEY_VAULT_URL",
        )
    return f"https://{urlsplit(url).hostname}/", url_name


def _vault_url_name(url: str) -> str:
    """The vault name in a vault URI, after checking the URI is nothing but `https://<name>.vault.<domain>/`."""
    example = "like https://myvault.vault.azure.net/"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        problem = f"{_shown(url)} is not a URL ({exc}); expected one {example}"
        raise ConfigError("KEY_VAULT_URL", problem) from None
    if parts.scheme.lower() != "https":
        raise ConfigError("KEY_VAULT_URL", f"{_shown(url)} must use https, {example}")
    if parts.username or parts.password or port is not None or parts.path not in ("", "/"):
        raise ConfigError("KEY_VAULT_URL", f"{_shown(url)} must be the vault URI alone, {example}")
    if parts.query or parts.fragment:
        raise ConfigError("KEY_VAULT_URL", f"{_shown(url)} must be the vault URI alone, {example}")
    host = _VAULT_HOST.match(parts.hostname or "")
    if host is None:
        known = ", ".join(KNOWN_VAULT_SUFFIXES)
        raise ConfigError(
            "KEY_VAULT_URL", f"{_shown(url)} is not a Key Vault host <name>.vault.<cloud domain> ({known})"
        )
    if not VAULT_NAME_RULE.match(host["name"]):
        raise ConfigError(
            "KEY_VAULT_URL",
            f"{_shown(url)}: vault name {host['name']!r} must be 3-24 letters, digits and hyphens, "
            "starting with a letter",
        )
    return host["name"]


def _injected_identity(injected: Mapping[str, str | None]) -> WorkloadIdentity:
    """The webhook's variables, or a ConfigError naming the missing ones and the likely cause.

    The webhook injects the token file, tenant and authority into every container of a labelled pod, and the
    client id only from the service account's annotation (facts: Workload identity).
    """
    missing = [name for name in WORKLOAD_IDENTITY_ENV if injected[name] is None]
    if missing == ["AZURE_CLIENT_ID"]:
        raise ConfigError(
            "AZURE_CLIENT_ID",
            "is not set, though AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE are: the pod's service account "
            f"lacks the {CLIENT_ID_ANNOTATION} annotation (the identity's client id)",
        )
    if missing:
        raise ConfigError(
            ", ".join(missing),
            "not set: the workload identity webhook did not inject them, and the app uses no other identity. "
            f'Likely: the pod template lacks the label {WORKLOAD_IDENTITY_USE_LABEL}: "true", or the service '
            f"account lacks the {CLIENT_ID_ANNOTATION} annotation, or the cluster has no workload identity "
            f"(or the pod is in {UNMUTATED_NAMESPACE}). Outside a cluster, set them yourself (app/README.md)",
        )
    present = {name: value for name, value in injected.items() if value is not None}
    return WorkloadIdentity(
        client_id=present["AZURE_CLIENT_ID"],
        tenant_id=present["AZURE_TENANT_ID"],
        token_file=present["AZURE_FEDERATED_TOKEN_FILE"],
        authority_host=present.get(AUTHORITY_HOST_ENV),
    )


def _secret_name(value: str | None) -> str:
    if value is None:
        raise ConfigError("SECRET_NAME", "is required (the name of the secret to read)")
    if not SECRET_NAME_RULE.match(value):
        raise ConfigError("SECRET_NAME", f"{_shown(value)} must be 1-127 letters, digits and hyphens")
    return value


def _version(value: str | None) -> str | None:
    if value is not None and not SECRET_VERSION_RULE.match(value):
        problem = f"{_shown(value)} must be 32 hex digits, or empty for the latest version"
        raise ConfigError("VERSION_ID", problem)
    return value


def _interval(value: str | None) -> float:
    if value is None:
        return 5.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(
            "POLL_INTERVAL_SECONDS", f"{_shown(value)} must be a positive number of seconds, e.g. 5 or 0.5"
        )
    if seconds > MAX_POLL_INTERVAL_SECONDS:
        raise ConfigError(
            "POLL_INTERVAL_SECONDS", f"{_shown(value)} is too long: at most {MAX_POLL_INTERVAL_SECONDS:g} s (a day)"
        )
    return seconds


def _boolean(variable: str, value: str | None, *, default: bool) -> bool:
    if value is None:
        return default
    try:
        return _BOOLEANS[value.lower()]
    except KeyError:
        raise ConfigError(variable, f"{_shown(value)} must be true/false, 1/0 or yes/no") from None


def _port(value: str | None) -> int:
    if value is None:
        return 8080
    if not (_PORT.match(value) and int(value) <= 65535):
        problem = f"{_shown(value)} must be a port number 1-65535 (0 picks a free port)"
        raise ConfigError("HEALTH_PORT", problem)
    return int(value)
