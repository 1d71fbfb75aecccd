"""The stack's settings: read once, validated before any resource is declared.

Types, defaults and descriptions live in the `config:` block of Pulumi.yaml. The Pulumi CLI applies those
defaults itself; this module applies them too, from the same file, so that a program run under test mocks sees
the same values as a real `pulumi up`. Every rule is checked and every violation reported in one error that names
the key, the value and the rule.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.config import CONFIG, get_config_env

from aks_workload_identity import facts
from aks_workload_identity.cluster import (
    ClusterProfile,
    MaintenanceWindow,
    NodePool,
    channels_refused,
    resolve_profile,
)
from aks_workload_identity.files import DEFAULT_MOUNT_PATH, SECRET_VERSION_RULE, FilesOptions, go_duration_seconds
from aks_workload_identity.image import BUILDERS
from aks_workload_identity.pod import PROBE_DEFAULTS, SCRATCH_MOUNT_PATH, Probes
from aks_workload_identity.vault import VaultSecret
from aks_workload_identity.workload import DELIVERIES, Delivery

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
_TIERS = ("Free", "Standard", facts.PREMIUM_TIER)
_UPGRADE_CHANNELS = ("none", "patch", "stable", "rapid", facts.NODE_IMAGE_UPGRADE_CHANNEL)
_NODE_OS_CHANNELS = ("None", "Unmanaged", facts.NODE_OS_CHANNEL_WITH_NODE_IMAGE, "SecurityPatch")


class SettingsError(pulumi.RunError):
    """One or more stack settings break their rules; nothing has been declared.

    A RunError, so `pulumi up` prints just the message, without a stack trace.
    """


class SettingsFileError(pulumi.RunError):
    """A project or stack file that is not valid YAML, or not a map: one line naming the file, line and column."""


def read_yaml(path: Path) -> dict[str, Any]:
    """A project or stack file's top-level map (empty for an empty file), or SettingsFileError in one line."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SettingsFileError(f"{path.name}{where}: not valid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise SettingsFileError(f"{path.name}: not valid YAML: {' '.join(str(error).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsFileError(f"{path.name}: must be a YAML map (config: ...), not a {type(data).__name__}")
    return data


@dataclass(frozen=True)
class WorkloadSetting:
    """One entry of `workloads`."""

    name: str
    namespace: str
    service_accounts: tuple[str, ...]
    #: Each with its value from a secret config value (`valueFrom`), or without one, to be generated.
    secrets: tuple[VaultSecret, ...]
    #: Build context directory (built in the stack's registry) and repository, or a pinned prebuilt image.
    build: str | None
    repository: str
    prebuilt: str | None
    replicas: int
    env: dict[str, str]
    #: None: no probes (a files workload's pods are Ready once the mount holds its secrets).
    probes: Probes | None
    network_policy: bool
    #: How the secrets reach the pods: `sdk`, `files` or `both` (the Secrets Store CSI driver's mount).
    delivery: Delivery = "sdk"
    #: With `files` or `both`: the mount path, pinned versions, syncing to a Kubernetes Secret.
    files: FilesOptions | None = None
    #: The container's entrypoint and its arguments; None: the image's.
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    #: With `build`: who builds it, `acr` (ACR Tasks) or `local` (Docker on the deploying machine).
    builder: str = "acr"


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from the stack's configuration."""

    location: str
    #: Refuse what a production stack must not have (docs/production.md).
    production: bool
    cluster: ClusterProfile
    #: Kubernetes NetworkPolicies: deny all in the workload's namespace, then allow exactly what the app needs.
    network_policy: bool
    workloads: tuple[WorkloadSetting, ...]
    #: One vault for every workload, each granted only its own secrets; otherwise a vault per workload.
    shared_vault: bool
    #: (resource group, name) of a cluster to deploy onto instead of creating one.
    existing_cluster: tuple[str, str] | None
    registry_sku: str
    #: Existing registries (ARM ids) the kubelet identity may pull from, e.g. the one a prebuilt image lives in.
    pull_registry_ids: tuple[str, ...]
    vault_soft_delete_retention_days: int
    vault_purge_protection: bool
    #: Vault reachable only through a private endpoint in the cluster's virtual network.
    vault_private: bool


def project_config_schema() -> dict[str, dict[str, Any]]:
    """The `config:` block of Pulumi.yaml: each setting's type, default and description."""
    return read_yaml(PROJECT_FILE)["config"]


def stack_config_keys() -> set[str]:
    """Every config key the stack sets, with its namespace (facts: Pulumi project config): from the language
    host's PULUMI_CONFIG under `pulumi up`, from `pulumi.runtime.set_all_config` under test mocks."""
    return {*CONFIG.get(), *get_config_env()}


def load() -> Settings:
    """Reads and validates the current stack's settings, or raises SettingsError listing every problem."""
    schema = project_config_schema()
    r = _Reader(pulumi.Config(), schema)
    _undeclared_keys(r, schema)
    location = r.choice("location", tuple(sorted(facts.AZURE_REGIONS)), "azure-native", "an Azure region name")
    zones = r.strings("availabilityZones")
    if any(zone not in facts.AVAILABILITY_ZONES for zone in zones):
        r.fail("availabilityZones", zones, "a list of zones from " + ", ".join(facts.AVAILABILITY_ZONES))
    system_pool = _pool(r, system=True)
    user_pool = _pool(r, system=False) if r.raw("userPoolVmSize").strip() else None
    cluster = ClusterProfile(
        system_pool=system_pool,
        zones=list(dict.fromkeys(zones)),
        max_pods=r.integer("maxPodsPerNode", *facts.MAX_PODS_RANGE),
        tier=r.choice("clusterTier", _TIERS),
        upgrade_channel=r.choice("upgradeChannel", _UPGRADE_CHANNELS),
        node_os_upgrade_channel=r.choice("nodeOsUpgradeChannel", _NODE_OS_CHANNELS),
        maintenance_window=MaintenanceWindow(
            day=r.choice("maintenanceDay", _WEEKDAYS),
            start_time=r.matching("maintenanceStartTime", _TIME, "a UTC time HH:MM"),
        ),
        entra_rbac=r.boolean("entraRbac"),
        admin_group_object_ids=r.each("adminGroupObjectIds", _GUID, "a list of Entra group object ids"),
        kubelogin_mode=r.choice("kubeloginMode", ("azurecli", "workloadidentity")),
        deployer_principal_type=r.choice("deployerPrincipalType", ("User", "ServicePrincipal")),
        deployer_object_id=r.optional("deployerObjectId", _GUID, "an Entra object id (a GUID)") or "",
        authorized_ip_ranges=r.each("apiServerAuthorizedIpRanges", None, "a list of IPv4 CIDRs", _cidr),
        monitoring=r.boolean("monitoring"),
        azure_policy=r.boolean("azurePolicy"),
    )
    if user_pool:
        cluster["user_pool"] = user_pool
    kubernetes_version = r.optional("kubernetesVersion", _KUBERNETES_VERSION, "a version such as 1.33")
    if kubernetes_version:
        cluster["kubernetes_version"] = kubernetes_version
    _refused_by_aks(
        r, r.raw("clusterTier"), r.raw("upgradeChannel"), r.raw("nodeOsUpgradeChannel"), kubernetes_version or ""
    )
    pull_registry_ids = tuple(r.each("pullRegistryIds", _REGISTRY_ID, "a list of container registry ARM ids"))
    network_policy = r.boolean("networkPolicy")
    production = r.boolean("production")
    workloads = _workloads(r, network_policy)
    _secrets_provider(r, cluster, workloads)
    settings = Settings(
        location=location,
        production=production,
        cluster=cluster,
        network_policy=network_policy,
        workloads=workloads,
        shared_vault=r.boolean("sharedVault"),
        existing_cluster=_existing_cluster(r),
        registry_sku=r.choice("registrySku", ("Basic", "Standard", "Premium")),
        pull_registry_ids=pull_registry_ids,
        vault_soft_delete_retention_days=r.integer("vaultSoftDeleteRetentionDays", *facts.SOFT_DELETE_RETENTION_DAYS),
        vault_purge_protection=r.boolean("vaultPurgeProtection"),
        vault_private=r.boolean("vaultPrivateEndpoint"),
    )
    if settings.shared_vault:
        _shared_vault_rules(r, settings.workloads)
    if settings.existing_cluster and settings.vault_private:
        r.fail(
            "vaultPrivateEndpoint",
            True,
            "false with an existing cluster: the private endpoint would have to go into that cluster's network, "
            "which this stack does not manage",
        )
    if settings.production:
        _production_rules(r, settings)
    if r.problems:
        raise SettingsError("invalid stack settings:\n" + "\n".join(f"  - {p}" for p in r.problems))
    return settings


def _secrets_provider(r: _Reader, cluster: ClusterProfile, workloads: tuple[WorkloadSetting, ...]) -> None:
    """The Secrets Store CSI driver's add-on, on with rotation when any workload takes files (facts: Secrets Store
    CSI driver): its poll interval is a positive Go duration, as the driver's flag reads it. Decided here, once:
    the program reads the profile's `secrets_provider` (also to require the add-on on an existing cluster)."""
    interval = r.raw("secretRotationPollInterval")
    seconds = go_duration_seconds(interval)
    if seconds is None or seconds <= 0:
        r.fail(
            "secretRotationPollInterval",
            interval,
            "a positive Go duration, as the CSI driver reads it: numbers with units ns, us, ms, s, m, h, e.g. 2m, "
            "90s or 1m30s",
        )
    if any(w.delivery != "sdk" for w in workloads):
        cluster["secrets_provider"] = True
        cluster["secret_rotation_poll_interval"] = interval


def _undeclared_keys(r: _Reader, schema: dict[str, dict[str, Any]]) -> None:
    """Keys in the project's namespace that Pulumi.yaml does not declare, which Pulumi itself lets through (facts:
    Pulumi project config): a misspelt setting would otherwise be ignored and its default used. The secret keys
    workloads name in `valueFrom` are not declared (a declared key without a default is required)."""
    namespace = f"{pulumi.get_project()}:"
    declared = sorted(schema)
    allowed = {*declared, *_value_from_keys(r.structured("workloads", []))}
    for key in sorted(stack_config_keys()):
        name = key.removeprefix(namespace)
        if key.startswith(namespace) and name not in allowed:
            near = difflib.get_close_matches(name, declared, n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            r.fail(name, _NOT_SHOWN, f"a setting Pulumi.yaml declares, or a secret a workload names in valueFrom{hint}")


class _NotShown:
    """The value of an undeclared key, which may be a secret: never printed."""

    def __repr__(self) -> str:
        return "(value not shown)"


_NOT_SHOWN = _NotShown()


def _value_from_keys(workloads: Any) -> set[str]:
    """The secret config keys the workloads name in `valueFrom`, however malformed the rest of each entry."""
    entries = [entry for entry in workloads if isinstance(entry, dict)] if isinstance(workloads, list) else []
    return {
        secret["valueFrom"]
        for entry in entries
        if isinstance(entry.get("secrets"), list)
        for secret in entry["secrets"]
        if isinstance(secret, dict) and isinstance(secret.get("valueFrom"), str)
    }


def _refused_by_aks(r: _Reader, tier: str, upgrade_channel: str, os_channel: str, version: str) -> None:
    """Combinations of valid values that AKS refuses at deploy time (facts: upgrade channels, long-term support)."""
    # An unknown node OS channel has its own problem already.
    if os_channel in _NODE_OS_CHANNELS and channels_refused(upgrade_channel, os_channel):
        r.fail(
            "nodeOsUpgradeChannel",
            os_channel,
            f"{facts.NODE_OS_CHANNEL_WITH_NODE_IMAGE} with upgradeChannel {facts.NODE_IMAGE_UPGRADE_CHANNEL}: AKS "
            "refuses any other node OS channel with it",
        )
    lts = ".".join(map(str, facts.LTS_MIN_KUBERNETES_VERSION))
    if (
        tier == facts.PREMIUM_TIER
        and _KUBERNETES_VERSION.match(version)
        and tuple(map(int, version.split(".")[:2])) < facts.LTS_MIN_KUBERNETES_VERSION
    ):
        r.fail(
            "kubernetesVersion",
            version,
            f"empty or {lts} or later with clusterTier Premium: Premium goes with AKS long-term support, which "
            f"covers versions from {lts} on",
        )


def _pool(r: _Reader, *, system: bool) -> NodePool:
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
    pool = NodePool(vm_size=vm_size, count=count)
    if max_count:
        pool["max_count"] = max_count
    return pool


def _production_rules(r: _Reader, s: Settings) -> None:
    """What `production: true` demands beyond each setting's own rule (docs/production.md)."""
    c = resolve_profile(s.cluster)
    demands: list[tuple[str, object, bool, str]] = [
        (
            "entraRbac",
            c["entra_rbac"],
            c["entra_rbac"],
            "true on a production stack (Entra ID sign-in, no local accounts)",
        ),
        (
            "apiServerAuthorizedIpRanges",
            list(c["authorized_ip_ranges"]),
            bool(c["authorized_ip_ranges"]),
            "a non-empty list on a production stack: the API server must not be open to the whole internet",
        ),
        ("vaultPurgeProtection", s.vault_purge_protection, s.vault_purge_protection, "true on a production stack"),
        ("vaultPrivateEndpoint", s.vault_private, s.vault_private, "true on a production stack"),
        ("networkPolicy", s.network_policy, s.network_policy, "true on a production stack"),
        (
            "maxPodsPerNode",
            c["max_pods"],
            c["max_pods"] >= facts.PRODUCTION_MIN_PODS_PER_NODE,
            f"at least {facts.PRODUCTION_MIN_PODS_PER_NODE} on a production stack",
        ),
    ]
    for key, value, ok, rule in demands:
        if not ok:
            r.fail(key, value, rule)


#: Used when a stack sets no `workloads`: Pulumi.yaml's default, the secret reader as the dev stack declares it.
DEFAULT_WORKLOADS: list[dict[str, Any]] = project_config_schema()["workloads"]["default"]
_WORKLOAD_KEYS = {
    "name",
    "namespace",
    "serviceAccounts",
    "secrets",
    "image",
    "replicas",
    "env",
    "probes",
    "networkPolicy",
    "delivery",
    "mountPath",
    "syncToKubernetesSecret",
    "command",
    "args",
}
#: Workload keys that only a workload with files (`delivery: files` or `both`) may set.
_FILES_KEYS = ("mountPath", "syncToKubernetesSecret")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Workload names become Azure and Kubernetes names (with suffixes), so they are short DNS-1123 labels.
_WORKLOAD_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,22}[a-z0-9])?$")
#: Variables a workload's env may not set: the stack injects the vault URL, the webhook its own.
RESERVED_ENV = frozenset({facts.VAULT_URL_ENV, *facts.INJECTED_ENV})


def _workloads(r: _Reader, network_policy: bool) -> tuple[WorkloadSetting, ...]:
    raw = r.structured("workloads", DEFAULT_WORKLOADS)
    if not isinstance(raw, list) or not raw:
        r.fail("workloads", raw, "a non-empty list of workloads (see docs/workloads.md)")
        return ()
    workloads = []
    for i, entry in enumerate(raw):
        workload = _workload(r, f"workloads[{i}]", entry, network_policy)
        if workload:
            workloads.append(workload)
    _cross_workload_rules(r, workloads)
    _one_build_per_image(r, workloads)
    return tuple(workloads)


def _workload(r: _Reader, at: str, entry: Any, network_policy: bool) -> WorkloadSetting | None:
    if not isinstance(entry, dict):
        r.fail(at, entry, "a workload: a map with at least name, secrets and image")
        return None
    for key in sorted(set(entry) - _WORKLOAD_KEYS):
        r.fail(f"{at}.{key}", entry[key], "absent: not a workload key (" + ", ".join(sorted(_WORKLOAD_KEYS)) + ")")
    name = r.check(f"{at}.name", entry.get("name"), _WORKLOAD_NAME, "a DNS-1123 label of 1-24 characters")
    namespace = r.check(f"{at}.namespace", entry.get("namespace", name), facts.DNS1123_LABEL_RULE, _DNS1123_LABEL)
    if namespace in facts.RESERVED_NAMESPACES or str(namespace).startswith(facts.RESERVED_NAMESPACE_PREFIX):
        r.fail(
            f"{at}.namespace",
            namespace,
            "a namespace of the stack's own, not default or kube-* (Kubernetes owns those)",
        )
    accounts = entry.get("serviceAccounts", [name])
    if not (isinstance(accounts, list) and 1 <= len(accounts) <= facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY):
        r.fail(
            f"{at}.serviceAccounts",
            accounts,
            f"a list of 1 to {facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY} service accounts: an identity takes at "
            f"most {facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY} federated credentials",
        )
        accounts = []
    for j, account in enumerate(accounts):
        r.check(f"{at}.serviceAccounts[{j}]", account, facts.DNS1123_SUBDOMAIN_RULE, _DNS1123_SUBDOMAIN)
        if account == facts.DEFAULT_SERVICE_ACCOUNT:
            r.fail(f"{at}.serviceAccounts[{j}]", account, "a service account of the stack's own, not default")
    if len(set(map(str, accounts))) != len(accounts):
        r.fail(f"{at}.serviceAccounts", accounts, "a list without repeats")
    secrets = _secrets(r, f"{at}.secrets", entry.get("secrets"))
    build, repository, prebuilt, builder = _image(r, f"{at}.image", entry.get("image"), str(name))
    env = entry.get("env", {})
    if not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
        r.fail(f"{at}.env", env, "a map of variable names to string values (quote numbers and booleans)")
        env = {}
    for key in env:
        if not _ENV_NAME.match(key):
            r.fail(f"{at}.env.{key}", env[key], "set under a valid variable name (letters, digits, _)")
        elif key in RESERVED_ENV:
            r.fail(f"{at}.env.{key}", env[key], "absent: the stack or the webhook sets it")
    delivery = entry.get("delivery", "sdk")
    if delivery not in DELIVERIES:
        r.fail(f"{at}.delivery", delivery, "one of " + ", ".join(DELIVERIES))
        delivery = "sdk"
    probes = _probes(r, at, entry.get("probes", {}), delivery)
    files = _files(r, at, entry, delivery)
    command, args = (_words(r, f"{at}.{key}", entry.get(key)) for key in ("command", "args"))
    replicas = r.number(f"{at}.replicas", entry.get("replicas", 1), 1, None)
    policy = entry.get("networkPolicy", network_policy)
    if not isinstance(policy, bool):
        r.fail(f"{at}.networkPolicy", policy, "true or false")
    return WorkloadSetting(
        name=str(name),
        namespace=str(namespace),
        service_accounts=tuple(map(str, accounts)),
        secrets=secrets,
        build=build,
        repository=repository,
        prebuilt=prebuilt,
        builder=builder,
        replicas=replicas,
        env=dict(env),
        probes=probes,
        network_policy=bool(policy),
        delivery=delivery,
        files=files,
        command=command,
        args=args,
    )


def _probes(r: _Reader, at: str, probes: Any, delivery: Delivery) -> Probes | None:
    if probes is False:
        if delivery == "sdk":
            r.fail(
                f"{at}.probes",
                probes,
                "a map, not false, with delivery sdk: the app's readiness is what tells `pulumi up` it read its "
                "secret (false is for files, where the pod starts only once the mount holds them)",
            )
        return None
    probe_keys = {"port", "readinessPath", "livenessPath"}
    if not (isinstance(probes, dict) and set(probes) <= probe_keys):
        r.fail(f"{at}.probes", probes, "a map with port, readinessPath and livenessPath, or false (files only)")
        probes = {}
    port = r.number(f"{at}.probes.port", probes.get("port", PROBE_DEFAULTS["port"]), 1, 65535)
    paths = {}
    for key, default in (
        ("readinessPath", PROBE_DEFAULTS["readiness_path"]),
        ("livenessPath", PROBE_DEFAULTS["liveness_path"]),
    ):
        paths[key] = r.check(f"{at}.probes.{key}", probes.get(key, default), _HTTP_PATH, "an HTTP path such as /readyz")
    return Probes(port=port, readiness_path=paths["readinessPath"], liveness_path=paths["livenessPath"])


#: An absolute path of plain segments, no `.` or `..` and no trailing slash.
_MOUNT_PATH = re.compile(r"^(?:/(?!\.{1,2}(?:/|$))[A-Za-z0-9._-]+)+$")
#: The pod's own mounts, which a secrets mount may neither equal nor hold nor sit inside.
POD_MOUNT_PATHS = (SCRATCH_MOUNT_PATH, facts.WORKLOAD_IDENTITY_TOKEN_DIR, facts.SERVICE_ACCOUNT_TOKEN_DIR)


def _files(r: _Reader, at: str, entry: dict[str, Any], delivery: Delivery) -> FilesOptions | None:
    """The files options of a workload with files; a workload without them may not set any."""
    raw_secrets = entry.get("secrets")
    listed: list[Any] = raw_secrets if isinstance(raw_secrets, list) else []
    pinned = {j: secret for j, secret in enumerate(listed) if isinstance(secret, dict) and "version" in secret}
    if delivery == "sdk":
        for key in _FILES_KEYS:
            if key in entry:
                r.fail(f"{at}.{key}", entry[key], "absent with delivery sdk: it is for delivery files or both")
        for j, secret in pinned.items():
            r.fail(
                f"{at}.secrets[{j}].version",
                secret["version"],
                "absent with delivery sdk (the app's VERSION_ID pins a version there): it is for files or both",
            )
        return None
    mount_path = entry.get("mountPath", DEFAULT_MOUNT_PATH)
    if not (isinstance(mount_path, str) and _MOUNT_PATH.match(mount_path)):
        r.fail(f"{at}.mountPath", mount_path, "an absolute path such as /mnt/secrets, without . or .. or a final /")
    else:
        for taken in POD_MOUNT_PATHS:
            if _nested(mount_path, taken):
                r.fail(
                    f"{at}.mountPath",
                    mount_path,
                    f"a path apart from the pod's own mount {taken}: neither it, nor inside it, nor holding it",
                )
    sync = entry.get("syncToKubernetesSecret", False)
    if not isinstance(sync, bool):
        r.fail(f"{at}.syncToKubernetesSecret", sync, "true or false (true copies the secrets into etcd)")
    versions = {}
    for j, secret in pinned.items():
        version = r.check(
            f"{at}.secrets[{j}].version", secret["version"], SECRET_VERSION_RULE, "a secret version: 32 hex digits"
        )
        versions[str(secret.get("name"))] = version
    return FilesOptions(mount_path=str(mount_path), versions=versions, sync_to_kubernetes_secret=sync is True)


def _nested(path: str, other: str) -> bool:
    """The two paths are the same, or one is inside the other."""
    return path == other or path.startswith(other + "/") or other.startswith(path + "/")


def _words(r: _Reader, at: str, raw: Any) -> tuple[str, ...] | None:
    """A container's command or args: a list of non-empty strings, or None when not set."""
    if raw is None:
        return None
    if not (isinstance(raw, list) and raw and all(isinstance(word, str) and word for word in raw)):
        r.fail(at, raw, "a non-empty list of non-empty strings, e.g. [sh, -c, 'cat /mnt/secrets/db-password']")
        return None
    return tuple(raw)


_HTTP_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")


def _secrets(r: _Reader, at: str, raw: Any) -> tuple[VaultSecret, ...]:
    if not (isinstance(raw, list) and raw):
        r.fail(
            at,
            raw,
            "a non-empty list of secrets, each {name: ..., valueFrom: <secret config key>} (no valueFrom: generated)",
        )
        return ()
    secrets = []
    for j, secret in enumerate(raw):
        if not (isinstance(secret, dict) and set(secret) <= {"name", "valueFrom", "version"}):
            r.fail(f"{at}[{j}]", secret, "a map with name and, optionally, valueFrom and version")
            continue
        name = r.check(
            f"{at}[{j}].name",
            secret.get("name"),
            facts.SECRET_NAME_RULE,
            "a Key Vault secret name: 1-127 letters, digits and hyphens",
        )
        value = None
        if "valueFrom" in secret:
            key = secret["valueFrom"]
            if not (isinstance(key, str) and key):
                r.fail(f"{at}[{j}].valueFrom", key, "the key of a secret config value: a non-empty string")
            elif (value := pulumi.Config().get_secret(key)) is None:
                r.fail(
                    f"{at}[{j}].valueFrom",
                    key,
                    f"the key of a secret config value that is set (pulumi config set --secret {key} <value>)",
                )
        secrets.append(VaultSecret(name=str(name)) if value is None else VaultSecret(name=str(name), value=value))
    names = [s["name"].lower() for s in secrets]
    if len(set(names)) != len(names):
        r.fail(at, [s["name"] for s in secrets], "a list of distinct secret names (Key Vault ignores case)")
    return tuple(secrets)


def _image(r: _Reader, at: str, raw: Any, name: str) -> tuple[str | None, str, str | None, str]:
    """(build context, repository, prebuilt image, builder): exactly one of `build` and `prebuilt`."""
    if not (
        isinstance(raw, dict)
        and len({"build", "prebuilt"} & set(raw)) == 1
        and set(raw) <= {"build", "repository", "prebuilt", "builder"}
    ):
        r.fail(at, raw, "either {build: <context directory>, repository: <name>} or {prebuilt: <pinned image>}")
        return None, name, None, BUILDERS[0]
    builder = raw.get("builder", BUILDERS[0])
    if "prebuilt" in raw:
        if "builder" in raw:
            r.fail(f"{at}.builder", builder, "absent with prebuilt: a prebuilt image is not built here")
        return None, name, r.pinned_image(f"{at}.prebuilt", raw["prebuilt"]), BUILDERS[0]
    if builder not in BUILDERS:
        r.fail(
            f"{at}.builder",
            builder,
            "acr (az acr build, in the registry) or local (Docker on the deploying machine, for subscriptions "
            "without ACR Tasks)",
        )
    build = raw["build"]
    context = PROJECT_FILE.parent / str(build)
    if not (isinstance(build, str) and _CONTEXT_DIR.match(build) and (context / "Dockerfile").is_file()):
        r.fail(f"{at}.build", build, "a directory of this project, relative to Pulumi.yaml, holding a Dockerfile")
    repository = r.check(
        f"{at}.repository",
        raw.get("repository", name),
        _REPOSITORY,
        "a lowercase repository path such as secret-reader or team/app",
    )
    return str(build), str(repository), None, str(builder)


def image_name(repository: str) -> str:
    """The logical name of the AppImage that builds `repository` (a Pulumi name: no `/`)."""
    return repository.replace("/", "-")


def _one_build_per_image(r: _Reader, workloads: list[WorkloadSetting]) -> None:
    """Workloads that share a repository share its one build: the same context and the same builder. Two
    repositories may not give their AppImages the same name (`team/app` beside `team-app`)."""
    first: dict[str, tuple[int, str, str]] = {}
    names: dict[str, tuple[int, str]] = {}
    for i, w in enumerate(workloads):
        if w.build is None:
            continue
        j, build, builder = first.setdefault(w.repository, (i, w.build, w.builder))
        if build != w.build:
            r.fail(
                f"workloads[{i}].image.build",
                w.build,
                f"{build} like workloads[{j}], which builds repository {w.repository} from it: a repository holds "
                "one build, so give this one a repository of its own",
            )
        elif builder != w.builder:
            r.fail(
                f"workloads[{i}].image.builder",
                w.builder,
                f"{builder} like workloads[{j}], which builds the same image ({w.build} as {w.repository})",
            )
        k, repository = names.setdefault(image_name(w.repository), (i, w.repository))
        if repository != w.repository:
            r.fail(
                f"workloads[{i}].image.repository",
                w.repository,
                f"a repository whose name, with / as -, differs from workloads[{k}]'s {repository}: both would build "
                f"as image {image_name(w.repository)}",
            )


_CONTEXT_DIR = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._/-]+$")


def _cross_workload_rules(r: _Reader, workloads: list[WorkloadSetting]) -> None:
    """What no single workload can break alone: names, service accounts and namespaces they share."""
    seen: dict[str, int] = {}
    accounts: dict[tuple[str, str], str] = {}
    policies: dict[str, tuple[str, bool]] = {}
    for i, w in enumerate(workloads):
        if w.name in seen:
            r.fail(f"workloads[{i}].name", w.name, f"unique: workloads[{seen[w.name]}] has the same name")
        seen.setdefault(w.name, i)
        for account in w.service_accounts:
            owner = accounts.setdefault((w.namespace, account), w.name)
            if owner != w.name:
                r.fail(
                    f"workloads[{i}].serviceAccounts",
                    account,
                    f"a service account no other workload claims: {owner} already federates {w.namespace}/{account}",
                )
        first = policies.setdefault(w.namespace, (w.name, w.network_policy))
        if first[1] != w.network_policy:
            r.fail(
                f"workloads[{i}].networkPolicy",
                w.network_policy,
                f"{first[1]} like {first[0]}, which shares namespace {w.namespace}: its default-deny policy covers "
                "the whole namespace",
            )


def _shared_vault_rules(r: _Reader, workloads: tuple[WorkloadSetting, ...]) -> None:
    owners: dict[str, str] = {}
    for i, w in enumerate(workloads):
        for secret in w.secrets:
            owner = owners.setdefault(secret["name"].lower(), w.name)
            if owner != w.name:
                r.fail(
                    f"workloads[{i}].secrets",
                    secret["name"],
                    f"a name no other workload uses in the shared vault (sharedVault: true): {owner} has it",
                )


def _existing_cluster(r: _Reader) -> tuple[str, str] | None:
    group, name = r.raw("existingClusterResourceGroup"), r.raw("existingClusterName")
    if bool(group) != bool(name):
        key = "existingClusterName" if group else "existingClusterResourceGroup"
        r.fail(key, r.raw(key), "set together with the other existingCluster setting, or both empty")
        return None
    return (group, name) if group else None


def registry_label(image: str) -> str:
    """The name of the Azure registry an image reference points at (how `pullRegistryIds` are labelled), or ""."""
    host = image.split("/", 1)[0]
    for suffix in facts.ACR_LOGIN_SUFFIXES:
        if host.endswith(suffix):
            return host.removesuffix(suffix).lower()
    return ""


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

    def integer(self, key: str, minimum: int, maximum: int) -> int:
        value = self.raw(key)
        rule = f"an integer from {minimum} to {maximum}"
        try:
            number = int(value)
        except ValueError:
            self.fail(key, value, rule)
            return minimum
        if not minimum <= number <= maximum:
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

    def structured(self, key: str, default: Any) -> Any:
        """A structured value (lists and maps in the stack file), or `default` when unset."""
        value = self._config.get(key)
        if value is None:
            return default
        try:
            return json.loads(value)
        except ValueError:
            return value

    def check(self, path: str, value: Any, rule: re.Pattern[str], description: str) -> str:
        """A string inside a structured setting, at `path` (e.g. workloads[0].name)."""
        if not (isinstance(value, str) and rule.match(value)):
            self.fail(path, value, description)
        return str(value)

    def number(self, path: str, value: Any, minimum: int, maximum: int | None) -> int:
        """An integer inside a structured setting."""
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or value < minimum or (maximum is not None and value > maximum):
            rule = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
            self.fail(path, value, rule)
            return minimum
        return value

    def pinned_image(self, path: str, value: Any) -> str | None:
        image = _IMAGE.match(value) if isinstance(value, str) else None
        if image is None or not (image["digest"] or (image["tag"] and image["tag"] != "latest")):
            self.fail(path, value, "a lowercase image reference with a tag other than 'latest' or an @sha256 digest")
        return value if isinstance(value, str) else None
