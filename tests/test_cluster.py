"""AksOidcCluster, built alone."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from conftest import AGENT_POOL, CLUSTER, K8S_PROVIDER, RANDOM_STRING, ROLE_ASSIGNMENT, named

from aks_workload_identity import (
    AksOidcCluster,
    AksOidcClusterArgs,
    ClusterNotReady,
    ClusterProfile,
    NodePool,
    facts,
    read_existing_cluster,
)
from aks_workload_identity.cluster import ACCESS_POLLS, AWAIT_ACCESS_SCRIPT, unattended_kubeconfig
from twin.mocks import DEPLOYER_OBJECT_ID, run

REGISTRIES = {
    "one": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/one",
    "two": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/two",
}
SUBNET = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes"


def build(profile: ClusterProfile | None = None, **overrides):
    args = {"resource_group_name": "rg", "location": "westeurope", "profile": profile or ClusterProfile(), **overrides}
    return run(lambda: AksOidcCluster("c", AksOidcClusterArgs(**args)))


def test_cluster_has_oidc_issuer_and_workload_identity_on():
    cluster = build().one(CLUSTER).inputs
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"] == {"workloadIdentity": {"enabled": True}}
    assert cluster["identity"] == {"type": "SystemAssigned"}


def test_defaults_are_the_secure_posture_that_costs_nothing():
    cluster = build().one(CLUSTER).inputs
    assert cluster["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert cluster["disableLocalAccounts"] is True
    assert cluster["networkProfile"] == {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "networkDataplane": "cilium",
        "networkPolicy": "cilium",
        "podCidr": "10.244.0.0/16",
        "serviceCidr": "10.0.0.0/16",
        "dnsServiceIP": "10.0.0.10",
    }
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert cluster["sku"] == {"name": "Base", "tier": "Free"}
    assert "addonProfiles" not in cluster and "apiServerAccessProfile" not in cluster


def test_system_pool_and_version_come_from_the_profile():
    profile = ClusterProfile(
        system_pool=NodePool(vm_size="Standard_D4s_v5", count=3, max_count=5),
        zones=["1", "2"],
        kubernetes_version="1.33",
    )
    cluster = build(profile).one(CLUSTER).inputs
    (pool,) = cluster["agentPoolProfiles"]
    assert (pool["name"], pool["mode"], pool["vmSize"], pool["osType"]) == (
        "system",
        "System",
        "Standard_D4s_v5",
        "Linux",
    )
    assert (pool["count"], pool["enableAutoScaling"], pool["minCount"], pool["maxCount"]) == (3, True, 3, 5)
    assert (pool["availabilityZones"], pool["maxPods"], pool["osDiskType"]) == (["1", "2"], 110, "Managed")
    assert "nodeTaints" not in pool
    assert cluster["kubernetesVersion"] == "1.33"
    assert "kubernetesVersion" not in build().one(CLUSTER).inputs


def test_a_fixed_size_pool_has_no_autoscaler():
    (pool,) = build().one(CLUSTER).inputs["agentPoolProfiles"]
    assert pool["enableAutoScaling"] is False
    assert "minCount" not in pool and "maxCount" not in pool


def test_sizes_with_a_temp_disk_get_ephemeral_os_disks():
    profile = ClusterProfile(
        system_pool=NodePool(vm_size="Standard_D4ds_v5"), user_pool=NodePool(vm_size="Standard_E8ads_v5")
    )
    program = build(profile)
    assert program.one(CLUSTER).inputs["agentPoolProfiles"][0]["osDiskType"] == "Ephemeral"
    assert program.one(AGENT_POOL).inputs["osDiskType"] == "Ephemeral"


def test_a_pool_change_azure_refuses_in_place_replaces_instead():
    """AKS refuses a new VM size, zones or pods per node on an existing pool (facts: node pools)."""
    replace = build().one(CLUSTER).replace_on_changes
    for prop in ("vmSize", "availabilityZones", "maxPods", "osDiskType"):
        assert f"agentPoolProfiles[*].{prop}" in replace


def test_user_pool_is_a_separate_pool_whose_name_changes_with_what_forces_a_new_pool():
    profile = ClusterProfile(
        user_pool=NodePool(vm_size="Standard_D8ds_v5", count=2, max_count=6), zones=["1", "2", "3"]
    )
    program = build(profile)
    pool = program.one(AGENT_POOL).inputs
    (system,) = program.one(CLUSTER).inputs["agentPoolProfiles"]
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert (pool["mode"], pool["vmSize"], pool["minCount"], pool["maxCount"]) == ("User", "Standard_D8ds_v5", 2, 6)
    assert pool["resourceName"] == program.one(CLUSTER).outputs["name"]
    suffix = named(program, RANDOM_STRING, "c-user-pool-suffix")
    assert suffix.inputs["keepers"] == {"vm_size": "Standard_D8ds_v5", "zones": "1,2,3", "max_pods": "110"}
    assert pool["agentPoolName"] == "user" + suffix.outputs["result"]
    assert len(pool["agentPoolName"]) <= 12 and pool["agentPoolName"].isalnum()


def test_maintenance_windows_for_cluster_and_node_os_upgrades():
    program = build()
    windows = {
        r.inputs["configName"]: r.inputs
        for r in program.of_type("azure-native:containerservice:MaintenanceConfiguration")
    }
    assert set(windows) == {"aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule"}
    for window in windows.values():
        assert window["maintenanceWindow"] == {
            "schedule": {"weekly": {"dayOfWeek": "Sunday", "intervalWeeks": 1}},
            "durationHours": 4,
            "startTime": "00:00",
            "utcOffset": "+00:00",
        }


def test_monitoring_and_policy_add_ons():
    program = build(ClusterProfile(monitoring=True, azure_policy=True))
    workspace = program.one("azure-native:operationalinsights:Workspace")
    assert program.one(CLUSTER).inputs["addonProfiles"] == {
        "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": workspace.outputs["id"]}},
        "azurepolicy": {"enabled": True},
    }


def test_nodes_in_a_subnet_of_the_stacks_own_use_a_control_plane_identity_allowed_on_it():
    program = build(node_subnet_id=SUBNET)
    identity = program.one("azure-native:managedidentity:UserAssignedIdentity")
    cluster = program.one(CLUSTER)
    assert cluster.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity.outputs["id"]]}
    assert cluster.inputs["agentPoolProfiles"][0]["vnetSubnetID"] == SUBNET
    grant = named(program, ROLE_ASSIGNMENT, "c-control-plane-network")
    assert (grant.inputs["scope"], grant.inputs["principalId"]) == (SUBNET, identity.outputs["principalId"])
    assert grant.inputs["roleDefinitionId"].endswith("/" + facts.NETWORK_CONTRIBUTOR)
    assert grant.urn in cluster.dependencies


def test_acr_pull_for_the_kubelet_identity_on_each_registry_named_by_its_label():
    program = build(ClusterProfile(entra_rbac=False), acr_pull_registries=REGISTRIES)
    kubelet = program.one(CLUSTER).outputs["identityProfile"]["kubeletidentity"]["objectId"]
    grants = {r.name: r.inputs for r in program.of_type(ROLE_ASSIGNMENT)}
    assert {name: g["scope"] for name, g in grants.items()} == {
        "c-acr-pull-one": REGISTRIES["one"],
        "c-acr-pull-two": REGISTRIES["two"],
    }
    for grant in grants.values():
        assert grant["principalId"] == kubelet
        assert grant["principalType"] == "ServicePrincipal"
        assert grant["roleDefinitionId"] == facts.role_definition_id("s1", facts.ACR_PULL)


def test_no_registry_and_no_entra_means_no_role_assignment():
    assert build(ClusterProfile(entra_rbac=False)).of_type(ROLE_ASSIGNMENT) == []


def test_entra_cluster_grants_the_deployer_cluster_admin():
    program = build(ClusterProfile(admin_group_object_ids=["11111111-2222-3333-4444-555555555555"]))
    grant = named(program, ROLE_ASSIGNMENT, "c-deployer-cluster-admin").inputs
    assert grant == {
        "principalId": DEPLOYER_OBJECT_ID,
        "principalType": "User",
        "roleDefinitionId": facts.role_definition_id(
            "00000000-1111-2222-3333-444444444444", facts.AKS_RBAC_CLUSTER_ADMIN
        ),
        "scope": program.one(CLUSTER).outputs["id"],
    }
    aad = program.one(CLUSTER).inputs["aadProfile"]
    assert aad["adminGroupObjectIDs"] == ["11111111-2222-3333-4444-555555555555"]


def test_the_provider_waits_until_the_api_server_knows_the_deployers_role():
    program = build()
    grant = named(program, ROLE_ASSIGNMENT, "c-deployer-cluster-admin")
    wait = program.one("command:local:Command")
    assert wait.inputs["triggers"] == [grant.outputs["id"]]
    assert grant.urn in wait.dependencies
    assert wait.urn in program.one(K8S_PROVIDER).dependencies
    assert "environment" in wait.secret_inputs or any(p.startswith("environment") for p in wait.secret_inputs)
    assert "kubelogin" in wait.inputs["environment"]["KUBECONFIG_DATA"]


@pytest.mark.parametrize(("answers", "exit_code"), [(["no", "no", "yes"], 0), (["no"] * 70, 1)])
def test_the_access_wait_polls_kubectl_until_yes_or_gives_up(tmp_path, answers, exit_code):
    """The wait script, run by a real shell against a stand-in kubectl answering `auth can-i` in turn."""
    (tmp_path / "answers").write_text("\n".join(answers) + "\n")
    (tmp_path / "kubectl").write_text(
        f"""#!/bin/sh
test -s "$2" || exit 3
answer=$(head -n 1 {tmp_path}/answers); sed -i 1d {tmp_path}/answers
echo "$answer"; [ "$answer" = yes ]
"""
    )
    (tmp_path / "kubectl").chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "KUBECONFIG_DATA": "apiVersion: v1", "INTERVAL": "0"}
    result = subprocess.run(["sh", "-c", AWAIT_ACCESS_SCRIPT], env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode == exit_code, result.stderr
    remaining = (tmp_path / "answers").read_text().split()
    assert len(remaining) == (0 if exit_code == 0 else 70 - ACCESS_POLLS)
    if exit_code:
        assert "did not reach the API server in time" in result.stderr


def test_a_deployer_that_is_a_service_principal_is_assigned_as_one():
    program = build(ClusterProfile(deployer_principal_type="ServicePrincipal"))
    assert named(program, ROLE_ASSIGNMENT, "c-deployer-cluster-admin").inputs["principalType"] == "ServicePrincipal"


def test_provider_uses_the_user_kubeconfig_as_a_secret():
    program = build(ClusterProfile(entra_rbac=False))
    provider = program.one(K8S_PROVIDER)
    assert "kubeconfig" in provider.secret_inputs
    kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
    assert kubeconfig["current-context"] == program.one(CLUSTER).outputs["name"]
    (invoke,) = [i for i in program.invokes if i.token.endswith("listManagedClusterUserCredentials")]
    assert invoke.args == {"resourceGroupName": "rg", "resourceName": program.one(CLUSTER).outputs["name"]}


def test_entra_cluster_provider_signs_in_with_kubelogin_unattended():
    program = build(ClusterProfile(kubelogin_mode="workloadidentity"))
    (invoke,) = [i for i in program.invokes if i.token.endswith("listManagedClusterUserCredentials")]
    assert invoke.args["format"] == "exec"
    (user,) = yaml.safe_load(program.one(K8S_PROVIDER).inputs["kubeconfig"])["users"]
    assert user["user"]["exec"]["command"] == "kubelogin"
    assert user["user"]["exec"]["args"] == [
        "get-token",
        "--login",
        "workloadidentity",
        "--server-id",
        facts.AKS_ENTRA_SERVER_ID,
    ]


def test_unattended_kubeconfig_keeps_a_token_user_and_the_server_id():
    config = {
        "users": [
            {"name": "a", "user": {"token": "t"}},
            {"name": "b", "user": {"exec": {"command": "kubelogin", "args": ["get-token", "--server-id", "x"]}}},
        ]
    }
    users = yaml.safe_load(unattended_kubeconfig(yaml.safe_dump(config), "azurecli"))["users"]
    assert users[0] == {"name": "a", "user": {"token": "t"}}
    assert users[1]["user"]["exec"]["args"] == ["get-token", "--login", "azurecli", "--server-id", "x"]


def test_cluster_create_has_a_generous_timeout():
    assert build().one(CLUSTER).custom_timeouts["create"] == facts.CLUSTER_CREATE_TIMEOUT


def test_dns_prefix_is_valid_whatever_the_component_name():
    program = run(lambda: AksOidcCluster("orders_aks.prod", AksOidcClusterArgs(resource_group_name="rg", location="x")))
    assert program.one(CLUSTER).inputs["dnsPrefix"] == "orders-aks-prod"


def existing(monkeypatch, **changes):
    """The existing-cluster invoke answering with `changes` applied; returns what the program declared."""
    from twin import mocks

    answer = mocks.existing_cluster("platform-rg", "platform-aks")
    monkeypatch.setattr(mocks, "existing_cluster", lambda group, name: {**answer, **changes})

    def program():
        found = read_existing_cluster("platform-rg", "platform-aks")
        AksOidcCluster(
            "c",
            AksOidcClusterArgs(resource_group_name="rg", location="x", existing=found, acr_pull_registries=REGISTRIES),
        )

    return run(program)


def test_an_existing_cluster_is_read_not_created_and_its_kubelet_gets_acr_pull(monkeypatch):
    program = existing(monkeypatch)
    assert program.of_type(CLUSTER) == []
    (read,) = [i for i in program.invokes if i.token.endswith("getManagedCluster")]
    kubelet = read.result["identityProfile"]["kubeletidentity"]["objectId"]
    assert {r.inputs["principalId"] for r in program.of_type(ROLE_ASSIGNMENT)} == {kubelet}
    (user,) = yaml.safe_load(program.one(K8S_PROVIDER).inputs["kubeconfig"])["users"]
    assert user["user"]["exec"]["args"][:3] == ["get-token", "--login", "azurecli"]


@pytest.mark.parametrize(
    ("changes", "off", "flags"),
    [
        ({"oidcIssuerProfile": {"enabled": False}}, "the OIDC issuer", "--enable-oidc-issuer"),
        (
            {"oidcIssuerProfile": {"enabled": False, "issuerURL": "https://eastus.oic.prod-aks.azure.com/t/c/"}},
            "the OIDC issuer",
            "--enable-oidc-issuer",
        ),
        ({"oidcIssuerProfile": {"enabled": True}}, "the OIDC issuer", "--enable-oidc-issuer"),
        ({"securityProfile": {}}, "workload identity", "--enable-workload-identity"),
        ({"securityProfile": None}, "workload identity", "--enable-workload-identity"),
        (
            {"oidcIssuerProfile": {"enabled": False}, "securityProfile": {}},
            "the OIDC issuer and workload identity",
            "--enable-oidc-issuer --enable-workload-identity",
        ),
    ],
)
def test_an_existing_cluster_without_issuer_or_workload_identity_is_refused_with_the_fix(
    monkeypatch, changes, off, flags
):
    with pytest.raises(ClusterNotReady) as refused:
        existing(monkeypatch, **changes)
    pronoun = "them" if " and " in off else "it"
    assert str(refused.value) == (
        f"existing cluster platform-rg/platform-aks has {off} turned off; "
        f"turn {pronoun} on with: az aks update -g platform-rg -n platform-aks {flags}"
    )


@pytest.mark.parametrize("identity_profile", [None, {}, {"kubeletidentity": {"clientId": "c"}}])
def test_an_existing_cluster_without_a_kubelet_identity_is_refused(monkeypatch, identity_profile):
    with pytest.raises(ClusterNotReady) as refused:
        existing(monkeypatch, identityProfile=identity_profile)
    assert str(refused.value) == "existing cluster platform-rg/platform-aks reports no kubelet identity"


def test_a_named_deployer_is_granted_without_asking_who_signed_in():
    deployer = "22222222-3333-4444-5555-666666666666"
    program = build(ClusterProfile(deployer_object_id=deployer, deployer_principal_type="ServicePrincipal"))
    grant = named(program, ROLE_ASSIGNMENT, "c-deployer-cluster-admin").inputs
    assert (grant["principalId"], grant["principalType"]) == (deployer, "ServicePrincipal")
    assert not [i for i in program.invokes if i.token.endswith("getClientConfig")]
