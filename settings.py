"""The stack's settings: read once, validated before any resource is declared.

Types, defaults and descriptions live in the `config:` block of Pulumi.yaml. The Pulumi CLI applies those
defaults itself; this module applies them too, from the same file, so that a program run under test mocks sees
the same values as a real `pulumi up`. Every rule is checked and every violation reported in one error that names
the key, the value and the rule.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import yaml

from components import facts
from components.cluster import ClusterProfile, MaintenanceWindow, NodePool

PROJECT_FILE = Path(__file__).with_name("Pulumi.yaml")

#: An image reference that is pinned: `name:tag` (tag not `latest`) or `name@sha256:<digest>`; the name is
#: lowercase (Docker's reference grammar: only the registry host may hold capitals, and we refuse those too).
_IMAGE = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
#: Repository path in a registry: lowercase components separated by `/`.
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_KUBERNETES_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_REGISTRY_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.ContainerRegistry/registries/"
    r"[A-Za-z0-9]{5,50}$"
)
_TIME = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class SettingsError(pulumi.RunError):
    """One or more stack settings break their rules; nothing has been declared.

    A RunError, so `pulumi up` prints just the message, without a stack trace.
    """


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from the stack's configuration."""

    location: str
    #: Refuse what a production stack must not have (see README, "Production controls").
    production: bool
    cluster: ClusterProfile
    #: Kubernetes NetworkPolicies: deny all in the workload's namespace, then allow exactly what the app needs.
    network_policy: bool
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
    registry_sku: str
    #: Existing registries (ARM ids) the kubelet identity may pull from, e.g. the one `prebuilt_image` lives in.
    pull_registry_ids: tuple[str, ...]
    vault_soft_delete_retention_days: int
    vault_purge_protection: bool
    #: Vault reachable only through a private endpoint in the cluster's virtual network.
    vault_private: bool


def project_config_schema() -> dict[str, dict[str, Any]]:
    """The `config:` block of Pulumi.yaml: each setting's type, default and description."""
    return yaml.safe_load(PROJECT_FILE.read_text())["config"]


def load() -> Settings:
    """Reads and validates the current stack's settings, or raises SettingsError listing every problem."""
    r = _Reader(pulumi.Config(), project_config_schema())
    location = r.choice("location", tuple(sorted(facts.AZURE_REGIONS)), "azure-native", "an Azure region name")
    zones = r.strings("availabilityZones")
    for zone in zones:
        if zone not in facts.AVAILABILITY_ZONES:
            r.fail("availabilityZones", zones, "a list of zones from " + ", ".join(facts.AVAILABILITY_ZONES))
    system_pool = _pool(r, "node", system=True)
    user_pool = _pool(r, "userPool", system=False) if r.raw("userPoolVmSize").strip() else None
    cluster = ClusterProfile(
        system_pool=system_pool,
        user_pool=user_pool,
        zones=tuple(dict.fromkeys(zones)),
        max_pods=r.integer("maxPodsPerNode", *facts.MAX_PODS_RANGE),
        kubernetes_version=r.optional("kubernetesVersion", _KUBERNETES_VERSION, "a version such as 1.33"),
        tier=r.choice("clusterTier", ("Free", "Standard", "Premium")),
        upgrade_channel=r.choice("upgradeChannel", ("none", "patch", "stable", "rapid", "node-image")),
        node_os_upgrade_channel=r.choice("nodeOsUpgradeChannel", ("None", "Unmanaged", "NodeImage", "SecurityPatch")),
        maintenance_window=MaintenanceWindow(
            day=r.choice("maintenanceDay", _WEEKDAYS),
            start_time=r.matching("maintenanceStartTime", _TIME, "a UTC time HH:MM"),
        ),
        entra_rbac=r.boolean("entraRbac"),
        admin_group_object_ids=tuple(r.each("adminGroupObjectIds", _GUID, "a list of Entra group object ids")),
        kubelogin_mode=r.choice("kubeloginMode", ("azurecli", "workloadidentity")),
        deployer_principal_type=r.choice("deployerPrincipalType", ("User", "ServicePrincipal")),
        authorized_ip_ranges=tuple(r.each("apiServerAuthorizedIpRanges", None, "a list of IPv4 CIDRs", _cidr)),
        monitoring=r.boolean("monitoring"),
        azure_policy=r.boolean("azurePolicy"),
    )
    namespace = r.matching("namespace", facts.DNS1123_LABEL_RULE, _DNS1123_LABEL)
    if namespace in facts.RESERVED_NAMESPACES or namespace.startswith(facts.RESERVED_NAMESPACE_PREFIX):
        r.fail("namespace", namespace, "a namespace of the stack's own, not default or kube-* (Kubernetes owns those)")
    service_account = r.matching("serviceAccountName", facts.DNS1123_SUBDOMAIN_RULE, _DNS1123_SUBDOMAIN)
    if service_account == facts.DEFAULT_SERVICE_ACCOUNT:
        r.fail(
            "serviceAccountName",
            service_account,
            "a service account of the stack's own, not the one Kubernetes creates in every namespace (default)",
        )
    prebuilt_image = r.pinned_image("prebuiltImage")
    pull_registry_ids = tuple(r.each("pullRegistryIds", _REGISTRY_ID, "a list of container registry ARM ids"))
    settings = Settings(
        location=location,
        production=r.boolean("production"),
        cluster=cluster,
        network_policy=r.boolean("networkPolicy"),
        namespace=namespace,
        service_account_name=service_account,
        secret_name=r.matching(
            "secretName", facts.SECRET_NAME_RULE, "a Key Vault secret name: 1-127 letters, digits and hyphens"
        ),
        secret_value=pulumi.Config().get_secret("secretValue"),
        reveal_secret=r.boolean("revealSecret"),
        role_scope=r.choice("roleScope", ("vault", "secret")),
        replicas=r.integer("replicas", minimum=1),
        image_repository=r.matching(
            "imageRepository", _REPOSITORY, "a lowercase repository path such as secret-reader or team/app"
        ),
        prebuilt_image=prebuilt_image,
        registry_sku=r.choice("registrySku", ("Basic", "Standard", "Premium")),
        pull_registry_ids=pull_registry_ids,
        vault_soft_delete_retention_days=r.integer("vaultSoftDeleteRetentionDays", *facts.SOFT_DELETE_RETENTION_DAYS),
        vault_purge_protection=r.boolean("vaultPurgeProtection"),
        vault_private=r.boolean("vaultPrivateEndpoint"),
    )
    if settings.production:
        _production_rules(r, settings)
    if r.problems:
        raise SettingsError("invalid stack settings:\n" + "\n".join(f"  - {p}" for p in r.problems))
    return settings


def _pool(r: _Reader, prefix: str, *, system: bool) -> NodePool:
    """A node pool's size and count: `nodeVmSize`/`nodeCount`/`nodeMaxCount` or `userPoolVmSize`/... ."""
    size_key, min_key, max_key = (
        ("nodeVmSize", "nodeCount", "nodeMaxCount")
        if system
        else ("userPoolVmSize", "userPoolMinCount", "userPoolMaxCount")
    )
    vm_size = r.vm_size(size_key, system=system)
    count = r.integer(min_key, 1 if system else 0, facts.NODE_POOL_MAX_COUNT)
    max_count = r.integer(max_key, 0, facts.NODE_POOL_MAX_COUNT)
    if max_count and max_count < count:
        r.fail(max_key, str(max_count), f"0 (no autoscaling) or at least {min_key} ({count})")
    return NodePool(vm_size=vm_size, count=count, max_count=max_count or None)


def _production_rules(r: _Reader, s: Settings) -> None:
    """What `production: true` demands beyond each setting's own rule (README, "Production controls")."""
    c = s.cluster
    demands: list[tuple[str, object, bool, str]] = [
        ("entraRbac", c.entra_rbac, c.entra_rbac, "true on a production stack (Entra ID sign-in, no local accounts)"),
        (
            "apiServerAuthorizedIpRanges",
            list(c.authorized_ip_ranges),
            bool(c.authorized_ip_ranges),
            "a non-empty list on a production stack: the API server must not be open to the whole internet",
        ),
        ("vaultPurgeProtection", s.vault_purge_protection, s.vault_purge_protection, "true on a production stack"),
        ("vaultPrivateEndpoint", s.vault_private, s.vault_private, "true on a production stack"),
        ("networkPolicy", s.network_policy, s.network_policy, "true on a production stack"),
        (
            "maxPodsPerNode",
            c.max_pods,
            c.max_pods >= facts.PRODUCTION_MIN_PODS_PER_NODE,
            f"at least {facts.PRODUCTION_MIN_PODS_PER_NODE} on a production stack",
        ),
    ]
    for key, value, ok, rule in demands:
        if not ok:
            r.fail(key, value, rule)


def _cidr(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return network.version == 4 and "/" in value


_DNS1123_LABEL = "a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending alphanumeric"
_DNS1123_SUBDOMAIN = "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending alphanumeric"


class _Reader:
    """Reads raw config values, falling back to Pulumi.yaml defaults, and records each rule broken."""

    def __init__(self, config: pulumi.Config, schema: dict[str, dict[str, Any]]) -> None:
        self._config = config
        self._schema = schema
        self.problems: list[str] = []

    def raw(self, key: str, namespace: str | None = None) -> str:
        if namespace:
            return pulumi.Config(namespace).get(key) or ""
        value = self._config.get(key)
        if value is None:
            value = self._schema[key].get("default", "")
        # YAML parses booleans and integers; config values are strings.
        return str(value).lower() if isinstance(value, bool) else str(value)

    def fail(self, key: str, value: object, rule: str, namespace: str | None = None) -> None:
        self.problems.append(f"{namespace or self._config.name}:{key} = {value!r}: must be {rule}")

    def optional(self, key: str, rule: re.Pattern[str], description: str) -> str | None:
        value = self.raw(key)
        if value and not rule.match(value):
            self.fail(key, value, f"empty or {description}")
        return value or None

    def matching(self, key: str, rule: re.Pattern[str], description: str) -> str:
        value = self.raw(key)
        if not rule.match(value):
            self.fail(key, value, description)
        return value

    def choice(self, key: str, choices: tuple[str, ...], namespace: str | None = None, what: str = "") -> Any:
        value = self.raw(key, namespace)
        if value not in choices:
            rule = f"{what} (one of {', '.join(choices)})" if what else "one of " + ", ".join(choices)
            self.fail(key, value, rule, namespace)
        return value

    def integer(self, key: str, minimum: int, maximum: int | None = None) -> int:
        value = self.raw(key)
        rule = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
        try:
            number = int(value)
        except ValueError:
            self.fail(key, value, rule)
            return minimum
        if number < minimum or (maximum is not None and number > maximum):
            self.fail(key, value, rule)
            return minimum
        return number

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if value not in ("true", "false"):
            self.fail(key, value, "true or false")
        return value == "true"

    def strings(self, key: str) -> list[str]:
        """A list of strings (structured config, e.g. `pulumi config set --path 'key[0]' value`)."""
        value = self._config.get(key)
        if value is None:
            return list(self._schema[key].get("default", []))
        try:
            items = json.loads(value)
        except ValueError:
            items = None
        if not (isinstance(items, list) and all(isinstance(item, str) for item in items)):
            self.fail(key, value, "a list of strings")
            return []
        return items

    def each(
        self,
        key: str,
        rule: re.Pattern[str] | None,
        description: str,
        check: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """A list of strings, each matching `rule` (or passing `check`)."""
        items = self.strings(key)
        for item in items:
            if not (check(item) if check else rule is not None and rule.match(item)):
                self.fail(key, item, f"{description}; this item is not one")
        return items

    def vm_size(self, key: str, *, system: bool) -> str:
        value = self.raw(key)
        size = facts.VM_SIZE_RULE.match(value)
        if size is None:
            self.fail(key, value, "an Azure VM size name such as Standard_D4ds_v5")
            return value
        vcpus = int(size["active"] or size["vcpus"])
        if system and (
            vcpus < facts.SYSTEM_POOL_MIN_VCPUS or size["family"].startswith(facts.SYSTEM_POOL_REFUSED_FAMILY)
        ):
            self.fail(
                key,
                value,
                f"a size a system node pool accepts: at least {facts.SYSTEM_POOL_MIN_VCPUS} vCPUs and not B-series "
                "(e.g. Standard_D4ds_v5, Standard_D4as_v5)",
            )
        return value

    def pinned_image(self, key: str) -> str | None:
        value = self.raw(key)
        if not value:
            return None
        image = _IMAGE.match(value)
        if image is None or not (image["digest"] or (image["tag"] and image["tag"] != "latest")):
            self.fail(key, value, "a lowercase image reference with a tag other than 'latest' or an @sha256 digest")
        return value
