"""The stack's settings: every rule names the key, the value and the rule, and a bad value declares nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import CLUSTER, DEPLOYMENT, STACKS, pod_template

import settings
from twin.mocks import PROJECT_DIR, RecordingMonitor, run_program, stack_config

P = "aks-workload-identity:"
REGISTRY_ID = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/ci/providers/"
    "Microsoft.ContainerRegistry/registries/contoso"
)

BAD_SETTINGS = [
    ("nodeCount", "0", f"{P}nodeCount = '0': must be an integer from 1 to 1000"),
    ("nodeCount", "two", f"{P}nodeCount = 'two': must be an integer from 1 to 1000"),
    ("nodeCount", "1001", f"{P}nodeCount = '1001': must be an integer from 1 to 1000"),
    ("nodeMaxCount", "-1", f"{P}nodeMaxCount = '-1': must be an integer from 0 to 1000"),
    ("nodeVmSize", " ", f"{P}nodeVmSize = ' ': must be an Azure VM size name"),
    ("nodeVmSize", "Standard_B4ms", f"{P}nodeVmSize = 'Standard_B4ms': must be a size a system node pool accepts"),
    ("nodeVmSize", "Standard_D2s_v5", f"{P}nodeVmSize = 'Standard_D2s_v5': must be a size a system node pool"),
    # A constrained-vCPU size: 8 vCPUs of hardware, 2 active.
    ("nodeVmSize", "Standard_E8-2ds_v5", f"{P}nodeVmSize = 'Standard_E8-2ds_v5': must be a size a system node"),
    ("userPoolVmSize", "D4s", f"{P}userPoolVmSize = 'D4s': must be an Azure VM size name"),
    ("maxPodsPerNode", "251", f"{P}maxPodsPerNode = '251': must be an integer from 10 to 250"),
    ("azure-native:location", "", "azure-native:location = '': must be an Azure region name"),
    ("azure-native:location", "West Europe", "azure-native:location = 'West Europe': must be an Azure region name"),
    ("azure-native:location", "marscentral", "azure-native:location = 'marscentral': must be an Azure region name"),
    ("vaultSoftDeleteRetentionDays", "3", "vaultSoftDeleteRetentionDays = '3': must be an integer from 7 to 90"),
    ("kubernetesVersion", "latest", "kubernetesVersion = 'latest': must be empty or a version"),
    ("clusterTier", "Gold", "clusterTier = 'Gold': must be one of Free, Standard, Premium"),
    ("upgradeChannel", "latest", "upgradeChannel = 'latest': must be one of none, patch, stable, rapid, node-image"),
    ("maintenanceDay", "Sun", "maintenanceDay = 'Sun': must be one of Monday"),
    ("maintenanceStartTime", "24:00", "maintenanceStartTime = '24:00': must be a UTC time HH:MM"),
    ("kubeloginMode", "devicecode", "kubeloginMode = 'devicecode': must be one of azurecli, workloadidentity"),
    ("availabilityZones", '["1", "4"]', "availabilityZones = ['1', '4']: must be a list of zones from 1, 2, 3"),
    ("availabilityZones", "1,2,3", "availabilityZones = '1,2,3': must be a list of strings"),
    ("apiServerAuthorizedIpRanges", '["10.0.0.1/8"]', "apiServerAuthorizedIpRanges = '10.0.0.1/8': must be a list"),
    ("adminGroupObjectIds", '["admins"]', "adminGroupObjectIds = 'admins': must be a list of Entra group object ids"),
    ("pullRegistryIds", '["contoso.azurecr.io"]', "pullRegistryIds = 'contoso.azurecr.io': must be a list of"),
    ("registrySku", "Free", "registrySku = 'Free': must be one of Basic, Standard, Premium"),
    ("deployerObjectId", "ci-bot", "deployerObjectId = 'ci-bot': must be empty or an Entra object id (a GUID)"),
    ("sharedVault", "sometimes", "sharedVault = 'sometimes': must be true or false"),
    ("existingClusterName", "aks", "existingClusterResourceGroup = '': must be set together with the other"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_SETTINGS, ids=[f"{k}={v!r}" for k, v, _ in BAD_SETTINGS])
def test_bad_setting_names_key_value_and_rule(key, value, message):
    with pytest.raises(settings.SettingsError, match="invalid stack settings") as failure:
        run_program({key: value})
    assert message in str(failure.value)
    assert str(failure.value).count("\n  - ") == 1


READER = settings.DEFAULT_WORKLOADS[0]
IMAGE = "contoso.azurecr.io/app@sha256:" + "a" * 64


def workloads(*entries: dict) -> dict[str, str]:
    return {"workloads": json.dumps(list(entries))}


def reader(**changes) -> dict:
    return {**READER, **changes}


BAD_WORKLOADS = [
    (reader(name="Reader"), "workloads[0].name = 'Reader': must be a DNS-1123 label of 1-24 characters"),
    (reader(name="a" * 25), "workloads[0].name = 'aaaaaaaaaaaaaaaaaaaaaaaaa': must be a DNS-1123 label"),
    (reader(namespace="Wi_Demo"), "workloads[0].namespace = 'Wi_Demo': must be a DNS-1123 label"),
    (reader(namespace="default"), "workloads[0].namespace = 'default': must be a namespace of the stack's own"),
    (reader(namespace="kube-extra"), "workloads[0].namespace = 'kube-extra': must be a namespace of the stack's"),
    (reader(serviceAccounts=["-sa"]), "workloads[0].serviceAccounts[0] = '-sa': must be a DNS-1123 subdomain"),
    (reader(serviceAccounts=["default"]), "workloads[0].serviceAccounts[0] = 'default': must be a service account"),
    (reader(serviceAccounts=["a", "a"]), "workloads[0].serviceAccounts = ['a', 'a']: must be a list without"),
    (reader(serviceAccounts=[f"sa{i}" for i in range(21)]), "must be a list of 1 to 20 service accounts"),
    (reader(serviceAccounts=[]), "workloads[0].serviceAccounts = []: must be a list of 1 to 20 service accounts"),
    (reader(secrets=[{"name": "my_secret"}]), "workloads[0].secrets[0].name = 'my_secret': must be a Key Vault"),
    (reader(secrets=[]), "workloads[0].secrets = []: must be a non-empty list of secrets"),
    (
        reader(secrets=[{"name": "a"}, {"name": "A"}]),
        "must be a list of distinct secret names (Key Vault ignores case)",
    ),
    (reader(secrets=[{"name": "a", "value": "x"}]), "workloads[0].secrets[0] = {'name': 'a', 'value': 'x'}: must be"),
    (reader(secrets=[{"name": "a", "valueFrom": "unset"}]), "workloads[0].secrets[0].valueFrom = 'unset': must be"),
    (reader(replicas=0), "workloads[0].replicas = 0: must be an integer >= 1"),
    (reader(replicas="2"), "workloads[0].replicas = '2': must be an integer >= 1"),
    (reader(image={"prebuilt": "contoso.azurecr.io/app:latest"}), "workloads[0].image.prebuilt = 'contoso.azurecr"),
    (reader(image={"prebuilt": "localhost:5000/app"}), "image.prebuilt = 'localhost:5000/app': must be a lowercase"),
    (reader(image={"prebuilt": "contoso.azurecr.io/App:1.0"}), "image.prebuilt = 'contoso.azurecr.io/App:1.0'"),
    (reader(image={"prebuilt": " contoso.azurecr.io/app:1"}), "image.prebuilt = ' contoso.azurecr.io/app:1'"),
    (reader(image={"prebuilt": 1}), "workloads[0].image.prebuilt = 1: must be a lowercase image reference"),
    (reader(image={"build": "app", "prebuilt": IMAGE}), "workloads[0].image = {'build': 'app', 'prebuilt':"),
    (reader(image={"build": "../outside"}), "workloads[0].image.build = '../outside': must be a directory of this"),
    (reader(image={"build": "twin"}), "workloads[0].image.build = 'twin': must be a directory of this project"),
    (reader(image={"build": "app", "repository": "Secret Reader"}), "image.repository = 'Secret Reader': must be"),
    (reader(env={"KEY_VAULT_URL": "https://x.vault.azure.net/"}), "workloads[0].env.KEY_VAULT_URL = 'https://x"),
    (reader(env={"AZURE_CLIENT_ID": "x"}), "workloads[0].env.AZURE_CLIENT_ID = 'x': must be absent"),
    (reader(env={"1X": "y"}), "workloads[0].env.1X = 'y': must be set under a valid variable name"),
    (reader(env={"REVEAL_SECRET": True}), "workloads[0].env = {'REVEAL_SECRET': True}: must be a map of variable"),
    (reader(probes={"port": 0}), "workloads[0].probes.port = 0: must be an integer from 1 to 65535"),
    (reader(probes={"readinessPath": "readyz"}), "workloads[0].probes.readinessPath = 'readyz': must be an HTTP"),
    (reader(networkPolicy="yes"), "workloads[0].networkPolicy = 'yes': must be true or false"),
    (reader(replica=2), "workloads[0].replica = 2: must be absent: not a workload key"),
    ("reader", "workloads[0] = 'reader': must be a workload"),
]


@pytest.mark.parametrize(("entry", "message"), BAD_WORKLOADS, ids=[m.split(":")[0] for _, m in BAD_WORKLOADS])
def test_bad_workload_names_its_path_value_and_rule(entry, message):
    with pytest.raises(settings.SettingsError) as failure:
        run_program(workloads(entry))
    assert f"{P}{message}" in str(failure.value) or message in str(failure.value)
    assert str(failure.value).count("\n  - ") == 1, str(failure.value)


BAD_TOGETHER = [
    ([reader(), reader()], "workloads[1].name = 'reader': must be unique: workloads[0] has the same name"),
    (
        [reader(), reader(name="other")],
        "workloads[1].serviceAccounts = 'wi-demo-sa': must be a service account no other workload claims: reader",
    ),
    (
        [reader(), reader(name="other", serviceAccounts=["other"], networkPolicy=False)],
        "workloads[1].networkPolicy = False: must be True like reader, which shares namespace wi-demo",
    ),
    ([], "workloads = []: must be a non-empty list of workloads"),
]


@pytest.mark.parametrize(("entries", "message"), BAD_TOGETHER, ids=["name", "service account", "namespace", "none"])
def test_workloads_that_clash_are_refused(entries, message):
    with pytest.raises(settings.SettingsError) as failure:
        run_program(workloads(*entries))
    assert message in str(failure.value)


def test_secret_names_must_not_collide_in_a_shared_vault():
    other = reader(name="other", namespace="other", serviceAccounts=["other"], secrets=[{"name": "secret"}])
    with pytest.raises(settings.SettingsError) as failure:
        run_program({**workloads(reader(), other), "sharedVault": "true"})
    assert "workloads[1].secrets = 'secret': must be a name no other workload uses in the shared vault" in str(
        failure.value
    )
    run_program(workloads(reader(), other))  # each in a vault of its own: no clash


def test_a_workload_with_all_defaults_builds_app_and_runs_as_its_own_name():
    program = run_program(workloads({"name": "api", "secrets": [{"name": "token"}], "image": {"build": "app"}}))
    template = pod_template(program)
    assert program.one(DEPLOYMENT).inputs["metadata"]["namespace"] == "api"
    assert template["spec"]["serviceAccountName"] == "api"
    assert template["spec"]["containers"][0]["image"].split("@")[0].endswith("/api")


def test_an_existing_cluster_cannot_take_the_stacks_private_vault_network():
    with pytest.raises(settings.SettingsError, match="vaultPrivateEndpoint = True: must be false with an existing"):
        run_program({"existingClusterResourceGroup": "g", "existingClusterName": "c", "vaultPrivateEndpoint": "true"})


def test_bad_settings_are_all_reported_at_once():
    with pytest.raises(settings.SettingsError) as failure:
        run_program({**workloads(reader(namespace="A", replicas=0)), "nodeCount": "-1"})
    assert str(failure.value).count("\n  - ") == 3


def test_autoscaler_maximum_below_the_minimum_is_refused():
    with pytest.raises(settings.SettingsError) as failure:
        run_program({"userPoolVmSize": "Standard_D2s_v5", "userPoolMinCount": "3", "userPoolMaxCount": "2"})
    assert "userPoolMaxCount = '2': must be 0 (no autoscaling) or at least userPoolMinCount (3)" in str(failure.value)


def test_a_small_vm_size_is_fine_for_a_user_pool():
    pool = run_program({"userPoolVmSize": "Standard_D2s_v5"}).one("azure-native:containerservice:AgentPool")
    assert pool.inputs["vmSize"] == "Standard_D2s_v5"


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
    assert cluster["agentPoolProfiles"][0]["availabilityZones"] == ["1", "2"]
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
    types = {"string": str, "integer": int, "boolean": bool, "array": list}
    values = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key, value in values.items():
        namespace, _, name = key.partition(":")
        if namespace != "aks-workload-identity" or name == "workloads":
            continue
        assert "." not in name, key
        assert name in schema, f"{key} is not declared in Pulumi.yaml"
        declared = schema[name]
        assert type(value) is types[declared["type"]], (key, value)
        if declared["type"] == "array":
            assert all(type(item) is str for item in value), key
    for name, declared in schema.items():
        assert type(declared["default"]) is types[declared["type"]], name
        assert declared["description"], name
    assert stack_config(stack)


def test_readme_documents_every_setting_and_the_test_command_ci_runs():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    for key in [*settings.project_config_schema(), "workloads", "azure-native:location"]:
        assert f"| `{key}` |" in readme, key
    assert "```bash\nmake test\n```" in readme
    assert "make test" in (root / ".ci" / "run").read_text()
