"""The stack's settings: every rule names the key, the value and the rule, and a bad value declares nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml
from conftest import AGENT_POOL, CLUSTER, DEPLOYMENT, STACKS, pod_template

import settings
import twin.__main__ as twin_main
from aks_workload_identity import facts
from twin import mocks
from twin.mocks import PROJECT, PROJECT_DIR, RecordingMonitor, run, run_program, stack_config

P = "aks-workload-identity:"
REGISTRY_ID = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/ci/providers/"
    "Microsoft.ContainerRegistry/registries/contoso"
)
GUID = "00000000-1111-2222-3333-444444444444"
REGIONS = ", ".join(sorted(facts.AZURE_REGIONS))


def load(config: dict[str, str] | None = None, stack: str = "dev") -> settings.Settings:
    """What settings.load() gives the program for the stack file overlaid by `config` (run_program's overlay),
    without declaring the rest of the program."""
    loaded: list[settings.Settings] = []
    overlay = {k if ":" in k else f"{PROJECT}:{k}": v for k, v in (config or {}).items()}
    run(lambda: loaded.append(settings.load()), {**stack_config(stack), **overlay}, stack)
    return loaded[0]


def problems(config: dict[str, str], stack: str = "dev") -> list[str]:
    """Each problem of the one SettingsError the settings are refused with, in the order it lists them."""
    with pytest.raises(settings.SettingsError) as failure:
        load(config, stack)
    head, *lines = str(failure.value).split("\n")
    assert head == "invalid stack settings:"
    assert all(line.startswith("  - ") for line in lines), lines
    return [line.removeprefix("  - ") for line in lines]


_INTEGER_1_1000 = "must be an integer from 1 to 1000"
_SYSTEM_SIZE = (
    "must be a size a system node pool accepts: at least 4 vCPUs and not B-series (e.g. Standard_D4ds_v5, "
    "Standard_D4as_v5)"
)
_VM_SIZE = "must be an Azure VM size name such as Standard_D4ds_v5"
_REGION = f"must be an Azure region name (one of {REGIONS})"
_EXISTING = "must be set together with the other existingCluster setting, or both empty"
_UNDECLARED = "must be a setting Pulumi.yaml declares, or a secret a workload names in valueFrom"

BAD_SETTINGS = [
    ("nodeCount", "0", f"{P}nodeCount = '0': {_INTEGER_1_1000}"),
    ("nodeCount", "two", f"{P}nodeCount = 'two': {_INTEGER_1_1000}"),
    ("nodeCount", "1001", f"{P}nodeCount = '1001': {_INTEGER_1_1000}"),
    ("nodeMaxCount", "-1", f"{P}nodeMaxCount = '-1': must be an integer from 0 to 1000"),
    ("nodeMaxCount", "1001", f"{P}nodeMaxCount = '1001': must be an integer from 0 to 1000"),
    ("nodeVmSize", " ", f"{P}nodeVmSize = ' ': {_VM_SIZE}"),
    ("nodeVmSize", "Standard_B4ms", f"{P}nodeVmSize = 'Standard_B4ms': {_SYSTEM_SIZE}"),
    ("nodeVmSize", "Standard_D2s_v5", f"{P}nodeVmSize = 'Standard_D2s_v5': {_SYSTEM_SIZE}"),
    # A constrained-vCPU size: 8 vCPUs of hardware, 2 active.
    ("nodeVmSize", "Standard_E8-2ds_v5", f"{P}nodeVmSize = 'Standard_E8-2ds_v5': {_SYSTEM_SIZE}"),
    ("userPoolVmSize", "D4s", f"{P}userPoolVmSize = 'D4s': {_VM_SIZE}"),
    ("maxPodsPerNode", "9", f"{P}maxPodsPerNode = '9': must be an integer from 10 to 250"),
    ("maxPodsPerNode", "251", f"{P}maxPodsPerNode = '251': must be an integer from 10 to 250"),
    ("azure-native:location", "", f"azure-native:location = '': {_REGION}"),
    ("azure-native:location", "West Europe", f"azure-native:location = 'West Europe': {_REGION}"),
    ("azure-native:location", "marscentral", f"azure-native:location = 'marscentral': {_REGION}"),
    ("vaultSoftDeleteRetentionDays", "6", f"{P}vaultSoftDeleteRetentionDays = '6': must be an integer from 7 to 90"),
    ("vaultSoftDeleteRetentionDays", "91", f"{P}vaultSoftDeleteRetentionDays = '91': must be an integer from 7 to 90"),
    ("kubernetesVersion", "latest", f"{P}kubernetesVersion = 'latest': must be empty or a version such as 1.33"),
    ("clusterTier", "Gold", f"{P}clusterTier = 'Gold': must be one of Free, Standard, Premium"),
    (
        "upgradeChannel",
        "latest",
        f"{P}upgradeChannel = 'latest': must be one of none, patch, stable, rapid, node-image",
    ),
    (
        "nodeOsUpgradeChannel",
        "Off",
        f"{P}nodeOsUpgradeChannel = 'Off': must be one of None, Unmanaged, NodeImage, SecurityPatch",
    ),
    (
        "maintenanceDay",
        "Sun",
        f"{P}maintenanceDay = 'Sun': must be one of Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday",
    ),
    ("maintenanceStartTime", "24:00", f"{P}maintenanceStartTime = '24:00': must be a UTC time HH:MM"),
    ("maintenanceStartTime", "9:00", f"{P}maintenanceStartTime = '9:00': must be a UTC time HH:MM"),
    ("entraRbac", "yes", f"{P}entraRbac = 'yes': must be true or false"),
    ("kubeloginMode", "devicecode", f"{P}kubeloginMode = 'devicecode': must be one of azurecli, workloadidentity"),
    ("deployerPrincipalType", "Group", f"{P}deployerPrincipalType = 'Group': must be one of User, ServicePrincipal"),
    ("availabilityZones", '["1", "4"]', f"{P}availabilityZones = ['1', '4']: must be a list of zones from 1, 2, 3"),
    ("availabilityZones", '["4", "5"]', f"{P}availabilityZones = ['4', '5']: must be a list of zones from 1, 2, 3"),
    ("availabilityZones", "1,2,3", f"{P}availabilityZones = '1,2,3': must be a list of strings"),
    ("availabilityZones", '{"1": "2"}', f"""{P}availabilityZones = '{{"1": "2"}}': must be a list of strings"""),
    ("availabilityZones", '["1", 2]', f"""{P}availabilityZones = '["1", 2]': must be a list of strings"""),
    (
        "apiServerAuthorizedIpRanges",
        '["10.0.0.1/8"]',
        f"{P}apiServerAuthorizedIpRanges = '10.0.0.1/8': must be a list of IPv4 CIDRs; this item is not one",
    ),
    (
        "adminGroupObjectIds",
        '["admins"]',
        f"{P}adminGroupObjectIds = 'admins': must be a list of Entra group object ids; this item is not one",
    ),
    (
        "pullRegistryIds",
        '["contoso.azurecr.io"]',
        f"{P}pullRegistryIds = 'contoso.azurecr.io': must be a list of container registry ARM ids; this item is "
        "not one",
    ),
    ("registrySku", "Free", f"{P}registrySku = 'Free': must be one of Basic, Standard, Premium"),
    ("deployerObjectId", "ci-bot", f"{P}deployerObjectId = 'ci-bot': must be empty or an Entra object id (a GUID)"),
    ("sharedVault", "sometimes", f"{P}sharedVault = 'sometimes': must be true or false"),
    ("existingClusterName", "aks", f"{P}existingClusterResourceGroup = '': {_EXISTING}"),
    ("existingClusterResourceGroup", "rg", f"{P}existingClusterName = '': {_EXISTING}"),
    (
        "workloads",
        "reader",
        f"{P}workloads = 'reader': must be a non-empty list of workloads (see docs/workloads.md)",
    ),
    (
        "workloads",
        "{}",
        f"{P}workloads = {{}}: must be a non-empty list of workloads (see docs/workloads.md)",
    ),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_SETTINGS, ids=[f"{k}={v!r}" for k, v, _ in BAD_SETTINGS])
def test_bad_setting_names_key_value_and_rule(key, value, message):
    assert problems({key: value}) == [message]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # The prod stack autoscales (nodeMaxCount 5): a bad count is reported alone, with no autoscaler complaint.
        ({"nodeCount": "two"}, f"{P}nodeCount = 'two': {_INTEGER_1_1000}"),
        ({"nodeCount": "0"}, f"{P}nodeCount = '0': {_INTEGER_1_1000}"),
        ({"nodeMaxCount": "two"}, f"{P}nodeMaxCount = 'two': must be an integer from 0 to 1000"),
        ({"nodeMaxCount": "2"}, f"{P}nodeMaxCount = '2': must be 0 (no autoscaling) or at least nodeCount (3)"),
        ({"userPoolMinCount": "-1"}, f"{P}userPoolMinCount = '-1': must be an integer from 0 to 1000"),
        (
            {"maxPodsPerNode": "49"},
            f"{P}maxPodsPerNode = 49: must be at least {facts.PRODUCTION_MIN_PODS_PER_NODE} on a production stack",
        ),
    ],
    ids=["nodeCount", "nodeCount 0", "nodeMaxCount", "below the count", "userPoolMinCount", "production pods"],
)
def test_bad_setting_on_the_autoscaled_production_stack(config, message):
    assert problems(config, stack="prod") == [message]


READER = settings.DEFAULT_WORKLOADS[0]
IMAGE = "contoso.azurecr.io/app@sha256:" + "a" * 64


def workloads(*entries: dict) -> dict[str, str]:
    return {"workloads": json.dumps(list(entries))}


def reader(**changes) -> dict:
    return {**READER, **changes}


_LABEL = "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending alphanumeric"
_SUBDOMAIN = "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending alphanumeric"
_OWN_NAMESPACE = "must be a namespace of the stack's own, not default or kube-* (Kubernetes owns those)"
_ACCOUNTS = "must be a list of 1 to 20 service accounts: an identity takes at most 20 federated credentials"
_SECRETS = (
    "must be a non-empty list of secrets, each {name: ..., valueFrom: <secret config key>} (no valueFrom: generated)"
)
_PINNED = "must be a lowercase image reference with a tag other than 'latest' or an @sha256 digest"
_IMAGE_MAP = "must be either {build: <context directory>, repository: <name>} or {prebuilt: <pinned image>}"
_BUILD = "must be a directory of this project, relative to Pulumi.yaml, holding a Dockerfile"
_PROBES = "must be a map with port, readinessPath and livenessPath, or false (files only)"
_KEYS = (
    "args, command, delivery, env, image, mountPath, name, namespace, networkPolicy, probes, replicas, secrets, "
    "serviceAccounts, syncToKubernetesSecret"
)

BAD_WORKLOADS = [
    (reader(name="Reader"), ["workloads[0].name = 'Reader': must be a DNS-1123 label of 1-24 characters"]),
    (reader(name="a" * 25), [f"workloads[0].name = '{'a' * 25}': must be a DNS-1123 label of 1-24 characters"]),
    (reader(name=5), ["workloads[0].name = 5: must be a DNS-1123 label of 1-24 characters"]),
    (reader(namespace="Wi_Demo"), [f"workloads[0].namespace = 'Wi_Demo': {_LABEL}"]),
    (reader(namespace="default"), [f"workloads[0].namespace = 'default': {_OWN_NAMESPACE}"]),
    (reader(namespace="kube-system"), [f"workloads[0].namespace = 'kube-system': {_OWN_NAMESPACE}"]),
    (reader(namespace="kube-extra"), [f"workloads[0].namespace = 'kube-extra': {_OWN_NAMESPACE}"]),
    (reader(serviceAccounts=["-sa"]), [f"workloads[0].serviceAccounts[0] = '-sa': {_SUBDOMAIN}"]),
    (reader(serviceAccounts=["ok", 7]), [f"workloads[0].serviceAccounts[1] = 7: {_SUBDOMAIN}"]),
    (
        reader(serviceAccounts=["default"]),
        ["workloads[0].serviceAccounts[0] = 'default': must be a service account of the stack's own, not default"],
    ),
    (reader(serviceAccounts=["a", "a"]), ["workloads[0].serviceAccounts = ['a', 'a']: must be a list without repeats"]),
    (
        reader(serviceAccounts=[f"sa{i}" for i in range(facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY + 1)]),
        [f"workloads[0].serviceAccounts = {[f'sa{i}' for i in range(21)]}: {_ACCOUNTS}"],
    ),
    (reader(serviceAccounts=[]), [f"workloads[0].serviceAccounts = []: {_ACCOUNTS}"]),
    (reader(serviceAccounts="sa"), [f"workloads[0].serviceAccounts = 'sa': {_ACCOUNTS}"]),
    (
        reader(secrets=[{"name": "my_secret"}]),
        [
            "workloads[0].secrets[0].name = 'my_secret': must be a Key Vault secret name: 1-127 letters, digits and "
            "hyphens"
        ],
    ),
    (
        reader(secrets=[{"valueFrom": "x"}, {"name": "ok"}]),
        [
            "workloads[0].secrets[0].name = None: must be a Key Vault secret name: 1-127 letters, digits and hyphens",
            "workloads[0].secrets[0].valueFrom = 'x': must be the key of a secret config value that is set "
            "(pulumi config set --secret x <value>)",
        ],
    ),
    (reader(secrets=[]), [f"workloads[0].secrets = []: {_SECRETS}"]),
    (reader(secrets="Secret"), [f"workloads[0].secrets = 'Secret': {_SECRETS}"]),
    (
        reader(secrets=[{"name": "a"}, {"name": "b"}, {"name": "B"}]),
        ["workloads[0].secrets = ['a', 'b', 'B']: must be a list of distinct secret names (Key Vault ignores case)"],
    ),
    (
        reader(secrets=[{"name": "a"}, {"name": "a", "value": "x"}, "b"]),
        [
            "workloads[0].secrets[1] = {'name': 'a', 'value': 'x'}: must be a map with name and, optionally, "
            "valueFrom and version",
            "workloads[0].secrets[2] = 'b': must be a map with name and, optionally, valueFrom and version",
        ],
    ),
    (
        reader(secrets=[{"name": "a", "valueFrom": "unset"}]),
        [
            "workloads[0].secrets[0].valueFrom = 'unset': must be the key of a secret config value that is set "
            "(pulumi config set --secret unset <value>)"
        ],
    ),
    (
        reader(secrets=[{"name": "a", "valueFrom": 5}]),
        ["workloads[0].secrets[0].valueFrom = 5: must be the key of a secret config value: a non-empty string"],
    ),
    (reader(replicas=0), ["workloads[0].replicas = 0: must be an integer >= 1"]),
    (reader(replicas="2"), ["workloads[0].replicas = '2': must be an integer >= 1"]),
    (reader(replicas=True), ["workloads[0].replicas = True: must be an integer >= 1"]),
    (
        reader(image={"prebuilt": "contoso.azurecr.io/app:latest"}),
        [f"workloads[0].image.prebuilt = 'contoso.azurecr.io/app:latest': {_PINNED}"],
    ),
    (
        reader(image={"prebuilt": "localhost:5000/app"}),
        [f"workloads[0].image.prebuilt = 'localhost:5000/app': {_PINNED}"],
    ),
    (
        reader(image={"prebuilt": "contoso.azurecr.io/App:1.0"}),
        [f"workloads[0].image.prebuilt = 'contoso.azurecr.io/App:1.0': {_PINNED}"],
    ),
    (
        reader(image={"prebuilt": " contoso.azurecr.io/app:1"}),
        [f"workloads[0].image.prebuilt = ' contoso.azurecr.io/app:1': {_PINNED}"],
    ),
    (reader(image={"prebuilt": 1}), [f"workloads[0].image.prebuilt = 1: {_PINNED}"]),
    (
        reader(image={"build": "app", "prebuilt": IMAGE}),
        [f"workloads[0].image = {{'build': 'app', 'prebuilt': '{IMAGE}'}}: {_IMAGE_MAP}"],
    ),
    (
        reader(image={"build": "app", "tag": "1"}),
        [f"workloads[0].image = {{'build': 'app', 'tag': '1'}}: {_IMAGE_MAP}"],
    ),
    (reader(image={"repository": "app"}), [f"workloads[0].image = {{'repository': 'app'}}: {_IMAGE_MAP}"]),
    (reader(image="app"), [f"workloads[0].image = 'app': {_IMAGE_MAP}"]),
    (reader(image={"build": "../outside"}), [f"workloads[0].image.build = '../outside': {_BUILD}"]),
    (reader(image={"build": "twin"}), [f"workloads[0].image.build = 'twin': {_BUILD}"]),
    (
        reader(image={"build": str(PROJECT_DIR / "app")}),
        [f"workloads[0].image.build = '{PROJECT_DIR / 'app'}': {_BUILD}"],
    ),
    (reader(image={"build": 1}), [f"workloads[0].image.build = 1: {_BUILD}"]),
    (
        reader(image={"build": "app", "repository": "Secret Reader"}),
        [
            "workloads[0].image.repository = 'Secret Reader': must be a lowercase repository path such as "
            "secret-reader or team/app"
        ],
    ),
    (
        reader(env={"KEY_VAULT_URL": "https://x.vault.azure.net/"}),
        [
            "workloads[0].env.KEY_VAULT_URL = 'https://x.vault.azure.net/': must be absent: the stack or the webhook "
            "sets it"
        ],
    ),
    (
        reader(env={"AZURE_CLIENT_ID": "x"}),
        ["workloads[0].env.AZURE_CLIENT_ID = 'x': must be absent: the stack or the webhook sets it"],
    ),
    (
        reader(env={"1X": "y"}),
        ["workloads[0].env.1X = 'y': must be set under a valid variable name (letters, digits, _)"],
    ),
    (
        reader(env={"REVEAL_SECRET": True}),
        [
            "workloads[0].env = {'REVEAL_SECRET': True}: must be a map of variable names to string values "
            "(quote numbers and booleans)"
        ],
    ),
    (
        reader(env="X=1"),
        ["workloads[0].env = 'X=1': must be a map of variable names to string values (quote numbers and booleans)"],
    ),
    (reader(probes={"port": 0}), ["workloads[0].probes.port = 0: must be an integer from 1 to 65535"]),
    (reader(probes={"port": 65536}), ["workloads[0].probes.port = 65536: must be an integer from 1 to 65535"]),
    (reader(probes={"port": True}), ["workloads[0].probes.port = True: must be an integer from 1 to 65535"]),
    (reader(probes={"path": "/"}), [f"workloads[0].probes = {{'path': '/'}}: {_PROBES}"]),
    (reader(probes="/readyz"), [f"workloads[0].probes = '/readyz': {_PROBES}"]),
    (
        reader(probes={"readinessPath": "readyz"}),
        ["workloads[0].probes.readinessPath = 'readyz': must be an HTTP path such as /readyz"],
    ),
    (
        reader(probes={"livenessPath": "/live z"}),
        ["workloads[0].probes.livenessPath = '/live z': must be an HTTP path such as /readyz"],
    ),
    (reader(networkPolicy="yes"), ["workloads[0].networkPolicy = 'yes': must be true or false"]),
    (
        reader(replica=2, tag="v1"),
        [
            f"workloads[0].replica = 2: must be absent: not a workload key ({_KEYS})",
            f"workloads[0].tag = 'v1': must be absent: not a workload key ({_KEYS})",
        ],
    ),
    ("reader", ["workloads[0] = 'reader': must be a workload: a map with at least name, secrets and image"]),
]


@pytest.mark.parametrize(("entry", "messages"), BAD_WORKLOADS, ids=[m[0].split(":")[0] for _, m in BAD_WORKLOADS])
def test_bad_workload_names_its_path_value_and_rule(entry, messages):
    assert problems(workloads(entry)) == [P + message for message in messages]


def other(name: str = "other", **changes) -> dict:
    """A workload of its own namespace and service account, with the reader's secret names in another case."""
    return reader(
        **{"name": name, "namespace": name, "serviceAccounts": [name], "secrets": [{"name": "secret"}], **changes}
    )


BAD_TOGETHER = [
    ([reader(), reader()], ["workloads[1].name = 'reader': must be unique: workloads[0] has the same name"]),
    ([reader(), other("x"), other("x")], ["workloads[2].name = 'x': must be unique: workloads[1] has the same name"]),
    (
        [reader(), reader(name="other", namespace="other"), reader(name="third")],
        [
            "workloads[2].serviceAccounts = 'wi-demo-sa': must be a service account no other workload claims: reader "
            "already federates wi-demo/wi-demo-sa"
        ],
    ),
    (
        [reader(), other(), reader(name="third", serviceAccounts=["third"], networkPolicy=False)],
        [
            "workloads[2].networkPolicy = False: must be True like reader, which shares namespace wi-demo: its "
            "default-deny policy covers the whole namespace"
        ],
    ),
    (
        [reader(networkPolicy=False), reader(name="third", serviceAccounts=["third"])],
        [
            "workloads[1].networkPolicy = True: must be False like reader, which shares namespace wi-demo: its "
            "default-deny policy covers the whole namespace"
        ],
    ),
    ([], ["workloads = []: must be a non-empty list of workloads (see docs/workloads.md)"]),
    # A workload refused on its own is not compared with the others.
    (
        ["reader", reader()],
        ["workloads[0] = 'reader': must be a workload: a map with at least name, secrets and image"],
    ),
]


@pytest.mark.parametrize(
    ("entries", "messages"),
    BAD_TOGETHER,
    ids=["name", "name again", "service account", "network policy", "no network policy", "none", "one refused"],
)
def test_workloads_that_clash_are_refused(entries, messages):
    assert problems(workloads(*entries)) == [P + message for message in messages]


def test_secret_names_must_not_collide_in_a_shared_vault():
    """Key Vault ignores case, so `secret` is `Secret`; the first workload to name a secret keeps it."""
    entries = workloads(reader(), other("second", secrets=[{"name": "own"}]), other("third"), other("fourth"))
    assert problems({**entries, "sharedVault": "true"}) == [
        f"{P}workloads[{i}].secrets = 'secret': must be a name no other workload uses in the shared vault "
        "(sharedVault: true): reader has it"
        for i in (2, 3)
    ]
    assert len(load(entries).workloads) == 4  # each in a vault of its own: no clash


def test_every_setting_reaches_the_program_as_given():
    """Each key set to something other than its default, read into the settings the program declares from."""
    api = {
        "name": "api",
        "namespace": "apps",
        "serviceAccounts": ["api", "api-jobs"],
        "secrets": [{"name": "token"}, {"name": "key"}],
        "image": {"build": "app", "repository": "team/api"},
        "replicas": 3,
        "env": {"LOG_LEVEL": "debug"},
        "probes": {"port": 65535, "readinessPath": "/ready", "livenessPath": "/alive"},
        "networkPolicy": True,
    }
    web = {"name": "w", "secrets": [{"name": "web-key"}], "image": {"prebuilt": IMAGE}}
    loaded = load(
        {
            "azure-native:location": "northeurope",
            "nodeVmSize": "Standard_E8-4ds_v5",
            "nodeCount": "1000",
            "nodeMaxCount": "1000",
            "userPoolVmSize": "Standard_B2s",
            "userPoolMinCount": "0",
            "userPoolMaxCount": "3",
            "availabilityZones": json.dumps(["3", "1", "3"]),
            "maxPodsPerNode": "10",
            "clusterTier": "Premium",
            "upgradeChannel": "rapid",
            "nodeOsUpgradeChannel": "SecurityPatch",
            "maintenanceDay": "Monday",
            "maintenanceStartTime": "23:59",
            "entraRbac": "true",
            "adminGroupObjectIds": json.dumps([GUID]),
            "kubeloginMode": "workloadidentity",
            "deployerPrincipalType": "ServicePrincipal",
            "deployerObjectId": GUID.upper(),
            "apiServerAuthorizedIpRanges": json.dumps(["203.0.113.0/24", "198.51.100.7/32"]),
            "monitoring": "true",
            "azurePolicy": "true",
            "kubernetesVersion": "1.33.2",
            "pullRegistryIds": json.dumps([REGISTRY_ID]),
            "networkPolicy": "false",
            "sharedVault": "true",
            "existingClusterResourceGroup": "platform-rg",
            "existingClusterName": "platform-aks",
            "registrySku": "Premium",
            "vaultSoftDeleteRetentionDays": "90",
            "vaultPurgeProtection": "true",
            "workloads": json.dumps([api, web]),
        }
    )
    assert loaded == settings.Settings(
        location="northeurope",
        production=False,
        cluster={
            "system_pool": {"vm_size": "Standard_E8-4ds_v5", "count": 1000, "max_count": 1000},
            "user_pool": {"vm_size": "Standard_B2s", "count": 0, "max_count": 3},
            "zones": ["3", "1"],
            "max_pods": 10,
            "tier": "Premium",
            "upgrade_channel": "rapid",
            "node_os_upgrade_channel": "SecurityPatch",
            "maintenance_window": {"day": "Monday", "start_time": "23:59"},
            "entra_rbac": True,
            "admin_group_object_ids": [GUID],
            "kubelogin_mode": "workloadidentity",
            "deployer_principal_type": "ServicePrincipal",
            "deployer_object_id": GUID.upper(),
            "authorized_ip_ranges": ["203.0.113.0/24", "198.51.100.7/32"],
            "monitoring": True,
            "azure_policy": True,
            "kubernetes_version": "1.33.2",
        },
        network_policy=False,
        workloads=(
            settings.WorkloadSetting(
                name="api",
                namespace="apps",
                service_accounts=("api", "api-jobs"),
                secrets=({"name": "token"}, {"name": "key"}),
                build="app",
                repository="team/api",
                prebuilt=None,
                replicas=3,
                env={"LOG_LEVEL": "debug"},
                probes={"port": 65535, "readiness_path": "/ready", "liveness_path": "/alive"},
                network_policy=True,
            ),
            settings.WorkloadSetting(
                name="w",
                namespace="w",
                service_accounts=("w",),
                secrets=({"name": "web-key"},),
                build=None,
                repository="w",
                prebuilt=IMAGE,
                replicas=1,
                env={},
                probes={"port": 8080, "readiness_path": "/readyz", "liveness_path": "/livez"},
                network_policy=False,
            ),
        ),
        shared_vault=True,
        existing_cluster=("platform-rg", "platform-aks"),
        registry_sku="Premium",
        pull_registry_ids=(REGISTRY_ID,),
        vault_soft_delete_retention_days=90,
        vault_purge_protection=True,
        vault_private=False,
    )


def test_unset_optional_settings_leave_their_keys_out_of_the_cluster_profile():
    """No autoscaling, no user pool (a blank size is none), no pinned version: the component's own defaults apply."""
    cluster = load({"userPoolVmSize": " ", "kubernetesVersion": "", "deployerObjectId": ""}).cluster
    assert cluster["system_pool"] == {"vm_size": "Standard_D4as_v5", "count": 1}
    assert "user_pool" not in cluster
    assert "kubernetes_version" not in cluster
    assert cluster["deployer_object_id"] == ""


@pytest.mark.parametrize(
    ("config", "stack"),
    [
        ({"nodeMaxCount": "3"}, "prod"),  # the autoscaler's maximum may equal the count
        ({"maxPodsPerNode": str(facts.PRODUCTION_MIN_PODS_PER_NODE)}, "prod"),
        ({"maxPodsPerNode": "250", "vaultSoftDeleteRetentionDays": "7", "maintenanceStartTime": "00:00"}, "dev"),
        ({"maintenanceStartTime": "19:59", "apiServerAuthorizedIpRanges": json.dumps(["10.0.0.0/8"])}, "dev"),
        ({"nodeVmSize": "Standard_D4ds_v5", "kubernetesVersion": "1.33"}, "dev"),
        ({"workloads": json.dumps([reader(name="a"), reader(name="a" * 24, serviceAccounts=["b"])])}, "dev"),
        ({"workloads": json.dumps([reader(serviceAccounts=[f"sa{i}" for i in range(20)])])}, "dev"),
        ({"workloads": json.dumps([reader(probes={"port": 1}, image={"build": "app/"})])}, "dev"),
        ({"workloads": json.dumps([reader(image={"prebuilt": IMAGE, "repository": "ignored"})])}, "dev"),
        # A service account is named within its namespace: the same name in another one is another account.
        ({"workloads": json.dumps([reader(), other(serviceAccounts=["wi-demo-sa"])])}, "dev"),
    ],
    ids=[
        "max equals count",
        "production pods",
        "upper bounds",
        "cidr",
        "sizes",
        "names",
        "accounts",
        "lower bounds",
        "prebuilt",
        "account",
    ],
)
def test_values_at_the_edge_of_their_rule_are_accepted(config, stack):
    assert load(config, stack)


REGISTRY_LABELS = [
    ("contoso.azurecr.io/app:1", "contoso"),
    ("contoso.azurecr.cn/team/app:1", "contoso"),
    ("contoso.azurecr.us/app@sha256:" + "a" * 64, "contoso"),
    ("contoso.azurecr.io.example.com/app:1", ""),
    ("docker.io/library/nginx:1.27", ""),
    ("localhost:5000/app:1", ""),
]


@pytest.mark.parametrize(("image", "label"), REGISTRY_LABELS, ids=[i for i, _ in REGISTRY_LABELS])
def test_a_prebuilt_image_is_pulled_with_the_grant_on_its_azure_registry(image, label):
    """`pullRegistryIds` are labelled by registry name: an image in an Azure registry (facts.ACR_LOGIN_SUFFIXES)
    waits for the AcrPull grant of that label; any other registry has none."""
    assert settings.registry_label(image) == label


def test_a_secret_value_comes_from_the_secret_config_value_its_entry_names():
    seen: list[str] = []

    def program() -> None:
        (secret,) = settings.load().workloads[0].secrets
        assert secret["name"] == "db"
        secret["value"].apply(seen.append)

    entry = reader(secrets=[{"name": "db", "valueFrom": "dbPassword"}])
    run(program, {**stack_config("dev"), f"{P}workloads": json.dumps([entry]), f"{P}dbPassword": "s3cret"})
    assert seen == ["s3cret"]
    # The key is the string the entry names: a number is refused even when a config key of those digits is set,
    # and that key, named by no valueFrom, is undeclared.
    entry = reader(secrets=[{"name": "db", "valueFrom": 5}])
    assert problems({**workloads(entry), "5": "s3cret"}) == [
        f"{P}5 = (value not shown): {_UNDECLARED}",
        f"{P}workloads[0].secrets[0].valueFrom = 5: must be the key of a secret config value: a non-empty string",
    ]


def test_a_workload_with_all_defaults_builds_app_and_runs_as_its_own_name():
    program = run_program(workloads({"name": "api", "secrets": [{"name": "token"}], "image": {"build": "app"}}))
    template = pod_template(program)
    assert program.one(DEPLOYMENT).inputs["metadata"]["namespace"] == "api"
    assert template["spec"]["serviceAccountName"] == "api"
    assert template["spec"]["containers"][0]["image"].split("@")[0].endswith("/api")


def test_an_existing_cluster_cannot_take_the_stacks_private_vault_network():
    existing = {"existingClusterResourceGroup": "g", "existingClusterName": "c"}
    assert problems({**existing, "vaultPrivateEndpoint": "true"}) == [
        f"{P}vaultPrivateEndpoint = True: must be false with an existing cluster: the private endpoint would have to "
        "go into that cluster's network, which this stack does not manage"
    ]
    assert load(existing).existing_cluster == ("g", "c")
    assert load({"vaultPrivateEndpoint": "true"}).vault_private is True


def test_bad_settings_are_all_reported_at_once():
    assert problems({**workloads(reader(namespace="A", replicas=0)), "nodeCount": "-1"}) == [
        f"{P}nodeCount = '-1': {_INTEGER_1_1000}",
        f"{P}workloads[0].namespace = 'A': {_LABEL}",
        f"{P}workloads[0].replicas = 0: must be an integer >= 1",
    ]


def test_each_bad_item_of_a_list_is_reported():
    ranges = ["203.0.113.0/24", "2001:db8::/32", "10.0.0.1", "10.0.0.0/33"]
    assert problems({"apiServerAuthorizedIpRanges": json.dumps(ranges)}) == [
        f"{P}apiServerAuthorizedIpRanges = '{item}': must be a list of IPv4 CIDRs; this item is not one"
        for item in ranges[1:]
    ]


def test_autoscaler_maximum_below_the_minimum_is_refused():
    assert problems({"userPoolVmSize": "Standard_D2s_v5", "userPoolMinCount": "3", "userPoolMaxCount": "2"}) == [
        f"{P}userPoolMaxCount = '2': must be 0 (no autoscaling) or at least userPoolMinCount (3)"
    ]


def test_a_small_vm_size_is_fine_for_a_user_pool():
    pools = run_program({"userPoolVmSize": "Standard_D2s_v5"}).of_type(AGENT_POOL)
    assert [p.inputs["vmSize"] for p in pools if p.inputs["mode"] == "User"] == ["Standard_D2s_v5"]


def test_production_refuses_what_a_production_stack_must_not_have():
    with pytest.raises(settings.SettingsError) as failure:
        run_program({"production": "true", "maxPodsPerNode": "30"})
    assert str(failure.value).split("\n  - ")[1:] == [
        f"{P}entraRbac = False: must be true on a production stack (Entra ID sign-in, no local accounts)",
        f"{P}apiServerAuthorizedIpRanges = []: must be a non-empty list on a production stack: the API server must "
        "not be open to the whole internet",
        f"{P}vaultPurgeProtection = False: must be true on a production stack",
        f"{P}vaultPrivateEndpoint = False: must be true on a production stack",
        f"{P}maxPodsPerNode = 30: must be at least 50 on a production stack",
    ]


def test_production_refuses_workloads_without_network_policy():
    with pytest.raises(settings.SettingsError) as failure:
        run_program({"networkPolicy": "false"}, stack="prod")
    assert str(failure.value).split("\n  - ")[1:] == [f"{P}networkPolicy = False: must be true on a production stack"]


def test_a_bad_setting_declares_nothing(monkeypatch):
    created: list[str] = []
    original = RecordingMonitor.RegisterResource

    def spy(self, request):
        created.append(request.type)
        return original(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(settings.SettingsError, match="nodeCount"):
        run_program({"nodeCount": "0"})
    assert [t for t in created if t != "pulumi:pulumi:Stack"] == []


def test_pinned_images_by_tag_or_digest_are_accepted():
    digest = "contoso.azurecr.io/team/app@sha256:" + "a" * 64
    for image in (
        "contoso.azurecr.io/app:1.0",
        "localhost:5000/app:v2",
        digest,
        "contoso.azurecr.io/app:1.0@" + digest[-71:],
    ):
        program = run_program(workloads(reader(image={"prebuilt": image})))
        assert pod_template(program)["spec"]["containers"][0]["image"] == image


def test_structured_settings_reach_the_cluster():
    program = run_program(
        {
            "availabilityZones": json.dumps(["1", "2"]),
            "apiServerAuthorizedIpRanges": json.dumps(["203.0.113.0/24"]),
            "kubernetesVersion": "1.33",
        }
    )
    cluster = program.one(CLUSTER).inputs
    assert [pool.inputs["availabilityZones"] for pool in program.of_type(AGENT_POOL)] == [["1", "2"]]
    assert cluster["apiServerAccessProfile"] == {"authorizedIPRanges": ["203.0.113.0/24"]}
    assert cluster["kubernetesVersion"] == "1.33"


def test_extra_env_reaches_the_app():
    env = pod_template(run_program(workloads(reader(env={"REVEAL_SECRET": "true"}))))["spec"]["containers"][0]["env"]
    assert {"name": "REVEAL_SECRET", "value": "true"} in env


def test_pull_registry_ids_accept_arm_ids():
    program = run_program({"pullRegistryIds": json.dumps([REGISTRY_ID])})
    assert program.one(DEPLOYMENT)


def test_defaults_in_pulumi_yaml_pass_their_own_rules():
    """A new stack with nothing but a location gets a valid program (the CLI applies these defaults too)."""
    program = run_program({"azure-native:location": "westeurope"}, stack="a-stack-with-no-file")
    assert program.one(CLUSTER).inputs["agentPoolProfiles"][0]["vmSize"] == "Standard_D4ds_v5"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_pass_the_cli_type_check_of_the_project_schema(stack):
    """What `pulumi up` checks before the program runs (facts: Typed project config): every project key in the
    stack file is declared, and its YAML value has the declared type; no key has a dot (pulumi/pulumi#21219)."""
    schema = settings.project_config_schema()
    types = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}
    values = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key, value in values.items():
        namespace, _, name = key.partition(":")
        if namespace != "aks-workload-identity":
            continue
        assert "." not in name, key
        assert name in schema, f"{key} is not declared in Pulumi.yaml"
        declared = schema[name]
        assert type(value) is types[declared["type"]], (key, value)
        if declared["type"] == "array":
            assert all(type(item) is types[declared["items"]["type"]] for item in value), key
    for name, declared in schema.items():
        assert type(declared["default"]) is types[declared["type"]], name
        if declared["type"] == "array":
            assert all(type(item) is types[declared["items"]["type"]] for item in declared["default"]), name
        assert declared["description"], name
    assert stack_config(stack)


def test_docs_document_every_setting_and_the_test_command_ci_runs():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    reference = (root / "docs" / "settings.md").read_text()
    for key in [*settings.project_config_schema(), "azure-native:location"]:
        assert f"| `{key}` |" in reference, key
    assert "```bash\nmake test\n```" in readme
    assert "make test" in (root / ".ci" / "run").read_text()


def test_a_misspelt_key_is_refused_with_the_nearest_declared_name():
    """Pulumi lets undeclared keys through (facts: Pulumi project config); the settings list each one, with the
    other problems, never showing its value (it may be a secret), and leave other namespaces alone."""
    assert problems({"nodeCont": "3", "colour": "blue", "nodeCount": "0", "kubernetes:context": "aks"}) == [
        f"{P}colour = (value not shown): {_UNDECLARED}",
        f"{P}nodeCont = (value not shown): {_UNDECLARED}; did you mean nodeCount?",
        f"{P}nodeCount = '0': {_INTEGER_1_1000}",
    ]
    assert "s3cret" not in "".join(problems({"dbPasword": "s3cret"}))


def test_keys_pulumi_up_passes_in_its_environment_are_checked_too(monkeypatch):
    """Under `pulumi up` the language host passes the stack's config as JSON in PULUMI_CONFIG, not through
    set_all_config as the mocks do."""
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({f"{P}maxPodPerNode": "30", "azure-native:location": "eastus"}))
    assert problems({}) == [f"{P}maxPodPerNode = (value not shown): {_UNDECLARED}; did you mean maxPodsPerNode?"]


@pytest.mark.parametrize("os_channel", ["None", "Unmanaged", "SecurityPatch"])
def test_node_image_upgrades_take_only_the_node_image_os_channel(os_channel):
    """AKS refuses any node OS channel but NodeImage with the node-image cluster channel (facts: upgrade channels)."""
    assert problems({"upgradeChannel": "node-image", "nodeOsUpgradeChannel": os_channel}) == [
        f"{P}nodeOsUpgradeChannel = '{os_channel}': must be NodeImage with upgradeChannel node-image: AKS refuses any "
        "other node OS channel with it"
    ]
    assert load({"upgradeChannel": "stable", "nodeOsUpgradeChannel": os_channel}).cluster["upgrade_channel"] == "stable"
    assert load({"upgradeChannel": "node-image"}).cluster["node_os_upgrade_channel"] == "NodeImage"
    # A channel that is not one at all is that problem alone.
    assert problems({"upgradeChannel": "node-image", "nodeOsUpgradeChannel": "Off"}) == [
        f"{P}nodeOsUpgradeChannel = 'Off': must be one of None, Unmanaged, NodeImage, SecurityPatch"
    ]


def test_premium_takes_only_versions_long_term_support_covers():
    """Premium goes with the LTS plan, which covers 1.27 and later (facts: long-term support)."""
    lts = "must be empty or 1.27 or later with clusterTier Premium: Premium goes with AKS long-term support, which "
    lts += "covers versions from 1.27 on"
    for version in ("1.26", "1.26.3", "0.99"):
        assert problems({"clusterTier": "Premium", "kubernetesVersion": version}) == [
            f"{P}kubernetesVersion = '{version}': {lts}"
        ]
    for config in (
        {"clusterTier": "Premium", "kubernetesVersion": "1.27"},
        {"clusterTier": "Premium", "kubernetesVersion": "1.100"},
        {"clusterTier": "Premium"},
        {"clusterTier": "Standard", "kubernetesVersion": "1.26"},
    ):
        assert load(config).cluster["tier"] == config["clusterTier"]
    assert problems({"clusterTier": "Premium", "kubernetesVersion": "1.x"}) == [
        f"{P}kubernetesVersion = '1.x': must be empty or a version such as 1.33"
    ]


BAD_YAML = [
    (
        "config:\n  a: b\n   c: d\n",
        "Pulumi.x.yaml, line 3, column 5: not valid YAML: mapping values are not allowed here",
    ),
    ("config: [\n  - a\n", "Pulumi.x.yaml, line 2, column 3: not valid YAML: expected the node content, but found '-'"),
    ("- config\n", "Pulumi.x.yaml: must be a YAML map (config: ...), not a list"),
    ("config: [a]\n", "Pulumi.x.yaml: config must be a map of keys to values"),
]


@pytest.mark.parametrize(("text", "message"), BAD_YAML, ids=["indent", "unclosed", "a list", "config a list"])
def test_a_stack_file_that_is_not_yaml_is_one_line_with_file_line_and_column(monkeypatch, tmp_path, text, message):
    monkeypatch.setattr(mocks, "PROJECT_DIR", tmp_path)
    (tmp_path / "Pulumi.x.yaml").write_text(text)
    with pytest.raises(settings.SettingsFileError) as failure:
        stack_config("x")
    assert str(failure.value) == message


def test_the_twin_exits_2_with_one_line_for_a_stack_file_that_is_not_yaml(monkeypatch, tmp_path, capsys):
    for module in (mocks, twin_main):
        monkeypatch.setattr(module, "PROJECT_DIR", tmp_path)
    (tmp_path / "Pulumi.x.yaml").write_text("config:\n  a: b\n   c: d\n")
    assert twin_main.main(["--stack", "x"]) == 2
    assert capsys.readouterr().err == f"error: {BAD_YAML[0][1]}\n"


def test_an_empty_stack_file_is_a_stack_with_no_settings(tmp_path):
    (tmp_path / "Pulumi.x.yaml").write_text("")
    assert settings.read_yaml(tmp_path / "Pulumi.x.yaml") == {}


# --- secrets as files (delivery files or both) ---------------------------------------------------------------------

_FILES_ONLY = "must be absent with delivery sdk: it is for delivery files or both"


def files_reader(**changes) -> dict:
    return reader(**{"delivery": "files", "env": {"SECRET_FILE": "/mnt/secrets/Secret"}, **changes})


def test_a_files_workload_turns_the_driver_add_on_on_with_its_poll_interval():
    loaded = load({**workloads(files_reader()), "secretRotationPollInterval": "1m30s"})
    (w,) = loaded.workloads
    assert (w.delivery, w.files) == (
        "files",
        {"mount_path": "/mnt/secrets", "versions": {}, "sync_to_kubernetes_secret": False},
    )
    assert (loaded.cluster["secrets_provider"], loaded.cluster["secret_rotation_poll_interval"]) == (True, "1m30s")
    sdk = load(workloads(reader()))
    assert (sdk.workloads[0].delivery, sdk.workloads[0].files) == ("sdk", None)
    assert "secrets_provider" not in sdk.cluster


def test_the_driver_add_on_is_decided_while_the_settings_are_built_not_after(monkeypatch):
    """Settings is frozen: the profile it is built with already says whether the add-on is on."""
    built: list[dict] = []
    original = settings.Settings

    def capture(**fields):
        built.append(dict(fields["cluster"]))
        return original(**fields)

    monkeypatch.setattr(settings, "Settings", capture)
    loaded = load(workloads(files_reader()))
    assert built[0].get("secrets_provider") is True
    assert dict(loaded.cluster) == built[0]


def test_files_settings_reach_the_workload_as_given():
    version = "0123456789ABCDEF0123456789abcdef"
    entry = files_reader(
        delivery="both",
        mountPath="/etc/app/secrets",
        syncToKubernetesSecret=True,
        secrets=[{"name": "Secret", "version": version}],
        command=["/bin/app"],
        args=["--secrets", "/etc/app/secrets"],
        probes=False,
    )
    (w,) = load(workloads(entry)).workloads
    assert w.files == {
        "mount_path": "/etc/app/secrets",
        "versions": {"Secret": version},
        "sync_to_kubernetes_secret": True,
    }
    assert (w.command, w.args, w.probes) == (("/bin/app",), ("--secrets", "/etc/app/secrets"), None)


@pytest.mark.parametrize(
    ("entry", "messages"),
    [
        (reader(delivery="file"), ["workloads[0].delivery = 'file': must be one of sdk, files, both"]),
        (reader(mountPath="/mnt/secrets"), [f"workloads[0].mountPath = '/mnt/secrets': {_FILES_ONLY}"]),
        (reader(syncToKubernetesSecret=True), [f"workloads[0].syncToKubernetesSecret = True: {_FILES_ONLY}"]),
        (
            reader(secrets=[{"name": "Secret", "version": "0" * 32}]),
            [
                f"workloads[0].secrets[0].version = '{'0' * 32}': must be absent with delivery sdk (the app's "
                "VERSION_ID pins a version there): it is for files or both"
            ],
        ),
        (
            reader(probes=False),
            [
                "workloads[0].probes = False: must be a map, not false, with delivery sdk: the app's readiness is "
                "what tells `pulumi up` it read its secret (false is for files, where the pod starts only once the "
                "mount holds them)"
            ],
        ),
        (
            files_reader(secrets=[{"name": "Secret", "version": "v1"}]),
            ["workloads[0].secrets[0].version = 'v1': must be a secret version: 32 hex digits"],
        ),
        (
            files_reader(syncToKubernetesSecret="yes"),
            ["workloads[0].syncToKubernetesSecret = 'yes': must be true or false (true copies the secrets into etcd)"],
        ),
        (
            files_reader(command="run"),
            [
                "workloads[0].command = 'run': must be a non-empty list of non-empty strings, e.g. "
                "[sh, -c, 'cat /mnt/secrets/db-password']"
            ],
        ),
        (
            files_reader(args=[""]),
            [
                "workloads[0].args = ['']: must be a non-empty list of non-empty strings, e.g. "
                "[sh, -c, 'cat /mnt/secrets/db-password']"
            ],
        ),
        # A class with no objects: a files workload needs secrets like any other.
        (files_reader(secrets=[]), [f"workloads[0].secrets = []: {_SECRETS}"]),
    ],
)
def test_bad_files_settings_name_their_path_value_and_rule(entry, messages):
    assert problems(workloads(entry)) == [P + message for message in messages]


_APART = "must be a path apart from the pod's own mount {}: neither it, nor inside it, nor holding it"
_ABSOLUTE = "must be an absolute path such as /mnt/secrets, without . or .. or a final /"


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/tmp", _APART.format("/tmp")),
        ("/tmp/secrets", _APART.format("/tmp")),
        ("/var/run/secrets/azure/tokens", _APART.format("/var/run/secrets/azure/tokens")),
        ("/var/run/secrets/azure", _APART.format("/var/run/secrets/azure/tokens")),
        ("/var/run/secrets/kubernetes.io/serviceaccount/x", _APART.format(facts.SERVICE_ACCOUNT_TOKEN_DIR)),
        ("mnt/secrets", _ABSOLUTE),
        ("/mnt/secrets/", _ABSOLUTE),
        ("/mnt/../tmp", _ABSOLUTE),
        ("/", _ABSOLUTE),
    ],
)
def test_a_mount_path_that_collides_with_the_pods_own_mounts_is_refused(path, rule):
    assert problems(workloads(files_reader(mountPath=path))) == [f"{P}workloads[0].mountPath = {path!r}: {rule}"]


def test_var_run_secrets_holds_both_token_mounts_and_is_refused_for_each():
    assert problems(workloads(files_reader(mountPath="/var/run/secrets"))) == [
        f"{P}workloads[0].mountPath = '/var/run/secrets': {_APART.format(taken)}"
        for taken in ("/var/run/secrets/azure/tokens", facts.SERVICE_ACCOUNT_TOKEN_DIR)
    ]


@pytest.mark.parametrize("interval", ["2", "0s", "-1m", "2 minutes", "1d", ""])
def test_a_poll_interval_the_driver_would_not_read_is_refused(interval):
    assert problems({"secretRotationPollInterval": interval}) == [
        f"{P}secretRotationPollInterval = {interval!r}: must be a positive Go duration, as the CSI driver reads "
        "it: numbers with units ns, us, ms, s, m, h, e.g. 2m, 90s or 1m30s"
    ]


def test_files_on_an_existing_cluster_without_the_add_on_is_refused_with_the_command():
    with pytest.raises(
        pulumi.RunError, match="az aks enable-addons -g rg-aks -n aks1 --addons azure-keyvault-secrets-provider"
    ):
        run_program(
            {
                **workloads(files_reader()),
                "existingClusterResourceGroup": "rg-aks",
                "existingClusterName": "aks1",
            }
        )


# --- one build per repository, one image name per build ------------------------------------------------------------


def test_a_repository_built_from_two_contexts_is_refused():
    # Another context (here the same directory written otherwise, the only other one holding a Dockerfile).
    other = {
        **reader(name="other", namespace="other", serviceAccounts=["other"]),
        "image": {"build": "./app", "repository": "shared"},
    }
    assert problems(workloads(reader(image={"build": "app", "repository": "shared"}), other)) == [
        f"{PROJECT}:workloads[1].image.build = './app': must be app like workloads[0], which builds repository shared "
        "from it: a repository holds one build, so give this one a repository of its own"
    ]


def test_repositories_whose_image_names_collide_are_refused():
    other = {
        **reader(name="other", namespace="other", serviceAccounts=["other"]),
        "image": {"build": "app", "repository": "team-app"},
    }
    assert problems(workloads(reader(image={"build": "app", "repository": "team/app"}), other)) == [
        f"{PROJECT}:workloads[1].image.repository = 'team-app': must be a repository whose name, with / as -, differs "
        "from workloads[0]'s team/app: both would build as image team-app"
    ]


def test_one_repository_shared_by_two_workloads_from_one_context_is_one_build():
    other = {
        **reader(name="other", namespace="other", serviceAccounts=["other"]),
        "image": {"build": "app", "repository": "team/app"},
    }
    loaded = load(workloads(reader(image={"build": "app", "repository": "team/app"}), other))
    assert {(w.build, w.repository) for w in loaded.workloads} == {("app", "team/app")}
    assert settings.image_name("team/app") == "team-app"
