"""The stack's settings: read once, validated before any resource is declared.

Types, defaults and descriptions live in the `config:` block of Pulumi.yaml. The Pulumi CLI applies those
defaults itself; this module applies them too, from the same file, so that a program run under test mocks sees
the same values as a real `pulumi up`. Every rule is checked and every violation reported in one error that names
the key, the value and the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import yaml

from components import facts

PROJECT_FILE = Path(__file__).with_name("Pulumi.yaml")

#: An image reference that is pinned: `name:tag` (tag not `latest`) or `name@sha256:<digest>`.
_TAG = re.compile(r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
#: Repository path in a registry: lowercase components separated by `/`.
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_KUBERNETES_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?$")


class SettingsError(pulumi.RunError):
    """One or more stack settings break their rules; nothing has been declared.

    A RunError, so `pulumi up` prints just the message, without a stack trace.
    """


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from the stack's configuration."""

    location: str
    node_count: int
    node_vm_size: str
    kubernetes_version: str | None
    namespace: str
    service_account_name: str
    secret_name: str
    #: The secret's value from `config --secret`, or None to generate one.
    secret_value: pulumi.Output[str] | None
    reveal_secret: bool
    role_scope: Literal["vault", "secret"]
    replicas: int
    image_repository: str
    #: A pinned image to run instead of building app/ in a registry.
    prebuilt_image: str | None
    vault_soft_delete_retention_days: int
    vault_purge_protection: bool


def project_config_schema() -> dict[str, dict[str, Any]]:
    """The `config:` block of Pulumi.yaml: each setting's type, default and description."""
    return yaml.safe_load(PROJECT_FILE.read_text())["config"]


def load() -> Settings:
    """Reads and validates the current stack's settings, or raises SettingsError listing every problem."""
    reader = _Reader(pulumi.Config(), project_config_schema())
    location = reader.text("location", pulumi.Config("azure-native").get("location") or "", "azure-native")
    settings = Settings(
        location=location,
        node_count=reader.integer("nodeCount", minimum=1),
        node_vm_size=reader.text("nodeVmSize"),
        kubernetes_version=reader.optional("kubernetesVersion", _KUBERNETES_VERSION, "a version such as 1.33"),
        namespace=reader.matching("namespace", facts.DNS1123_LABEL_RULE, _DNS1123_LABEL),
        service_account_name=reader.matching("serviceAccountName", facts.DNS1123_SUBDOMAIN_RULE, _DNS1123_SUBDOMAIN),
        secret_name=reader.matching(
            "secretName", facts.SECRET_NAME_RULE, "a Key Vault secret name: 1-127 letters, digits and hyphens"
        ),
        secret_value=pulumi.Config().get_secret("secretValue"),
        reveal_secret=reader.boolean("revealSecret"),
        role_scope=reader.choice("roleScope", ("vault", "secret")),
        replicas=reader.integer("replicas", minimum=1),
        image_repository=reader.matching(
            "imageRepository", _REPOSITORY, "a lowercase repository path such as secret-reader or team/app"
        ),
        prebuilt_image=reader.pinned_image("prebuiltImage"),
        vault_soft_delete_retention_days=reader.integer(
            "vaultSoftDeleteRetentionDays", *facts.SOFT_DELETE_RETENTION_DAYS
        ),
        vault_purge_protection=reader.boolean("vaultPurgeProtection"),
    )
    if reader.problems:
        raise SettingsError("invalid stack settings:\n" + "\n".join(f"  - {p}" for p in reader.problems))
    return settings


_DNS1123_LABEL = "a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending alphanumeric"
_DNS1123_SUBDOMAIN = "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending alphanumeric"


class _Reader:
    """Reads raw config values, falling back to Pulumi.yaml defaults, and records each rule broken."""

    def __init__(self, config: pulumi.Config, schema: dict[str, dict[str, Any]]) -> None:
        self._config = config
        self._schema = schema
        self.problems: list[str] = []

    def _raw(self, key: str) -> str:
        value = self._config.get(key)
        if value is None:
            value = self._schema[key].get("default", "")
        # YAML parses booleans and integers; config values are strings.
        return str(value).lower() if isinstance(value, bool) else str(value)

    def _fail(self, key: str, value: str, rule: str, namespace: str | None = None) -> None:
        self.problems.append(f"{namespace or self._config.name}:{key} = {value!r}: must be {rule}")

    def text(self, key: str, value: str | None = None, namespace: str | None = None) -> str:
        value = self._raw(key) if value is None else value
        if not value.strip():
            self._fail(key, value, "a non-empty string", namespace)
        return value.strip()

    def optional(self, key: str, rule: re.Pattern[str], description: str) -> str | None:
        value = self._raw(key).strip()
        if value and not rule.match(value):
            self._fail(key, value, f"empty or {description}")
        return value or None

    def matching(self, key: str, rule: re.Pattern[str], description: str) -> str:
        value = self._raw(key)
        if not rule.match(value):
            self._fail(key, value, description)
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> Any:
        value = self._raw(key)
        if value not in choices:
            self._fail(key, value, "one of " + ", ".join(choices))
        return value

    def integer(self, key: str, minimum: int, maximum: int | None = None) -> int:
        value = self._raw(key)
        rule = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
        try:
            number = int(value)
        except ValueError:
            self._fail(key, value, rule)
            return minimum
        if number < minimum or (maximum is not None and number > maximum):
            self._fail(key, value, rule)
        return number

    def boolean(self, key: str) -> bool:
        value = self._raw(key).lower()
        if value not in ("true", "false"):
            self._fail(key, value, "true or false")
        return value == "true"

    def pinned_image(self, key: str) -> str | None:
        value = self._raw(key).strip()
        if not value:
            return None
        name = value.rsplit("/", 1)[-1]
        tag = _TAG.search(name)
        if not (_DIGEST.search(value) or (tag and tag["tag"] != "latest")):
            self._fail(key, value, "an image reference with a tag other than 'latest' or an @sha256 digest")
        return value
