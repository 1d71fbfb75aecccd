"""AksOidcCluster, built alone."""

from __future__ import annotations

import os
import subprocess

import pulumi
import pulumi_azure_native as azure_native
import pytest
import yaml
from conftest import AGENT_POOL, CLUSTER, K8S_PROVIDER, RANDOM_STRING, ROLE_ASSIGNMENT, named

import settings
from aks_workload_identity import (
    AksOidcCluster,
    AksOidcClusterArgs,
    ClusterNotReady,
    ClusterProfile,
    NodePool,
    facts,
    read_existing_cluster,
)
from aks_workload_identity.cluster import (
    ACCESS_POLL_SECONDS,
    ACCESS_POLLS,
    AWAIT_ACCESS_SCRIPT,
    channels_refused,
    unattended_kubeconfig,
)
from twin.mocks import DEPLOYER_OBJECT_ID, run

REGISTRIES = {
    "one": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/one",
    "two": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/two",
}
SUBNET = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes"


def build(profile: ClusterProfile | None = None, **overrides):
    args = {"resource_group_name": "rg", "location": "westeurope", "profile": profile or ClusterProfile(), **overrides}
    return run(lambda: AksOidcCluster("c", AksOidcClusterArgs(**args)))


def pool(program, role: str):
    """The profile's `system` or `user` pool, an AgentPool."""
    return named(program, AGENT_POOL, f"c-{role}-pool")


def test_cluster_has_oidc_issuer_and_workload_identity_on():
    declared = build().one(CLUSTER)
    assert declared.name == "c-aks"
    cluster = declared.inputs
    assert (cluster["resourceGroupName"], cluster["location"]) == ("rg", "westeurope")
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"] == {"workloadIdentity": {"enabled": True}}
    assert cluster["identity"] == {"type": "SystemAssigned"}


def test_defaults_are_the_secure_posture_that_costs_nothing():
    cluster = build().one(CLUSTER).inputs
    assert cluster["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert cluster["disableLocalAccounts"] is True
    assert cluster["enableRBAC"] is True
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
    assert cluster["supportPlan"] == "KubernetesOfficial"
    assert "addonProfiles" not in cluster and "apiServerAccessProfile" not in cluster


def test_the_cluster_is_created_with_one_small_bootstrap_pool_whatever_the_profile():
    """The inline pool is only what AKS needs to create the cluster (facts: BOOTSTRAP_POOL_NAME)."""
    for profile in (
        ClusterProfile(),
        ClusterProfile(system_pool=NodePool(vm_size="Standard_E8ds_v5", count=3, max_count=5), zones=["1", "2"]),
    ):
        program = build(profile, node_subnet_id=SUBNET)
        (bootstrap,) = program.one(CLUSTER).inputs["agentPoolProfiles"]
        assert bootstrap == {
            "name": "system",
            "mode": "System",
            "vmSize": "Standard_D4ds_v5",
            "count": 1,
            "enableAutoScaling": False,
            "maxPods": 110,
            "osDiskType": "Ephemeral",
            "osType": "Linux",
            "type": "VirtualMachineScaleSets",
            "vnetSubnetID": SUBNET,
            "nodeTaints": [facts.CRITICAL_ADDONS_ONLY_TAINT],
        }


def test_the_system_pool_is_a_system_mode_agent_pool_from_the_profile():
    profile = ClusterProfile(
        system_pool=NodePool(vm_size="Standard_D4s_v5", count=3, max_count=5),
        zones=["1", "2"],
        kubernetes_version="1.33",
    )
    program = build(profile)
    system = pool(program, "system").inputs
    assert (system["mode"], system["vmSize"], system["osType"], system["type"]) == (
        "System",
        "Standard_D4s_v5",
        "Linux",
        "VirtualMachineScaleSets",
    )
    assert (system["count"], system["enableAutoScaling"], system["minCount"], system["maxCount"]) == (3, True, 3, 5)
    assert (system["availabilityZones"], system["maxPods"], system["osDiskType"]) == (["1", "2"], 110, "Managed")
    assert (system["resourceGroupName"], system["resourceName"]) == ("rg", program.one(CLUSTER).outputs["name"])
    # Without a user pool, workloads run here.
    assert "nodeTaints" not in system
    assert program.one(CLUSTER).inputs["kubernetesVersion"] == "1.33"
    assert "kubernetesVersion" not in build().one(CLUSTER).inputs


def test_a_fixed_size_pool_has_no_autoscaler():
    system = pool(build(), "system").inputs
    assert (system["count"], system["enableAutoScaling"]) == (1, False)
    assert "minCount" not in system and "maxCount" not in system


@pytest.mark.parametrize(
    ("vm_size", "disk"),
    [
        # 37.5 GiB of temp disk per vCPU (facts.TEMP_DISK_GIB_PER_VCPU): 150 GiB holds the 128 GiB OS disk, 75 not.
        ("Standard_D4ds_v5", "Ephemeral"),
        ("Standard_D2ds_v5", "Managed"),
        ("Standard_E2ds_v4", "Managed"),
        ("Standard_D4d_v4", "Ephemeral"),
        ("Standard_D4ads_v5", "Ephemeral"),
        # A constrained size has its full size's temp disk: E8ds_v5's 300 GiB.
        ("Standard_E8-4ds_v5", "Ephemeral"),
        # A temp disk of a series the rule has no figure for, no temp disk, or no size the rule reads.
        ("Standard_D4ds_v6", "Managed"),
        ("Standard_D4s_v5", "Managed"),
        ("Standard_D4_v5", "Managed"),
        ("Standard_DC4s_v3", "Managed"),
        ("a-size-no-rule-knows", "Managed"),
    ],
)
def test_an_ephemeral_os_disk_only_where_the_temp_disk_is_known_to_hold_it(vm_size, disk):
    """AKS refuses an ephemeral OS disk whose temp disk is under 128 GiB (facts: EPHEMERAL_OS_DISK_MIN_GIB)."""
    program = build(ClusterProfile(system_pool=NodePool(vm_size=vm_size), user_pool=NodePool(vm_size=vm_size)))
    assert pool(program, "system").inputs["osDiskType"] == pool(program, "user").inputs["osDiskType"] == disk


def test_the_cluster_never_sends_its_pool_list_again_and_nothing_replaces_it():
    """AKS refuses pools added to an existing cluster's list and ignores pools left out (facts:
    BOOTSTRAP_POOL_NAME): after creation the list is the platform's, and no pool change replaces the cluster."""
    cluster = build(ClusterProfile(user_pool=NodePool())).one(CLUSTER)
    assert "agentPoolProfiles" in cluster.ignore_changes
    assert cluster.replace_on_changes == []


@pytest.mark.parametrize(
    "change",
    [
        {"system_pool": NodePool(vm_size="Standard_D8ds_v5")},
        {"system_pool": NodePool(vm_size="Standard_D4s_v5")},
        {"zones": ["1", "2"]},
        {"max_pods": 50},
    ],
)
def test_a_pool_change_aks_refuses_in_place_renames_both_pools_and_keeps_the_cluster(change):
    """A new VM size, OS disk type, zones or pods per node (facts: Resizing a pool; `rotation_keepers`) changes a
    pool's name suffix, so a new pool is created; the cluster's registration stays as it was."""
    before = build(ClusterProfile(user_pool=NodePool()))
    after = build(ClusterProfile(user_pool=NodePool(), **change))
    assert after.one(CLUSTER).inputs == before.one(CLUSTER).inputs
    assert after.one(CLUSTER).urn == before.one(CLUSTER).urn
    roles = ["system"] if "system_pool" in change else ["system", "user"]
    for role in roles:
        keepers = named(after, RANDOM_STRING, f"c-{role}-pool-suffix").inputs["keepers"]
        assert keepers != named(before, RANDOM_STRING, f"c-{role}-pool-suffix").inputs["keepers"], role
    if "system_pool" in change:
        user_keepers = [named(p, RANDOM_STRING, "c-user-pool-suffix").inputs["keepers"] for p in (before, after)]
        assert user_keepers[0] == user_keepers[1]


def test_a_change_aks_makes_in_place_keeps_the_pools_names():
    before = build(ClusterProfile(system_pool=NodePool(count=1)))
    after = build(ClusterProfile(system_pool=NodePool(count=3, max_count=6)))
    keepers = [named(p, RANDOM_STRING, "c-system-pool-suffix").inputs for p in (before, after)]
    assert keepers[0] == keepers[1]
    assert pool(after, "system").inputs["maxCount"] == 6


def test_every_explicitly_named_replaceable_resource_is_created_before_the_old_one_is_deleted():
    """azure-native asks to delete first when a name is given (facts: Delete-before-replace); each says otherwise.
    A pool's new name comes with its replacement; the others are replaced only with their cluster, whose id
    changes."""
    program = build(ClusterProfile(user_pool=NodePool(), monitoring=True))
    explicit = [
        *program.of_type(AGENT_POOL),
        *program.of_type(MAINTENANCE),
        program.one("azure-native:monitor:DataCollectionRuleAssociation"),
    ]
    assert len(explicit) == 5
    for resource in explicit:
        assert resource.delete_before_replace is False, resource.name
    # The cluster itself is auto-named, so the provider already creates its replacement first.
    assert "resourceName" not in program.one(CLUSTER).inputs


def test_pool_names_obey_the_linux_pool_name_rule():
    program = build(ClusterProfile(user_pool=NodePool()))
    for role, prefix in (("system", "sys"), ("user", "user")):
        suffix = named(program, RANDOM_STRING, f"c-{role}-pool-suffix")
        assert (suffix.inputs["length"], suffix.inputs["special"], suffix.inputs["upper"]) == (6, False, False)
        name = pool(program, role).inputs["agentPoolName"]
        assert name == prefix + suffix.outputs["result"]
        assert facts.LINUX_POOL_NAME_RULE.match(name), name
    # The longest name the suffix can give still fits, and the bootstrap's name too.
    assert facts.LINUX_POOL_NAME_RULE.match("user" + "z9" * 3)
    assert facts.LINUX_POOL_NAME_RULE.match(facts.BOOTSTRAP_POOL_NAME)


def test_user_pool_is_a_separate_pool_whose_name_changes_with_what_forces_a_new_pool():
    profile = ClusterProfile(
        user_pool=NodePool(vm_size="Standard_D8ds_v5", count=2, max_count=6), zones=["1", "2", "3"]
    )
    program = build(profile)
    user = pool(program, "user").inputs
    assert pool(program, "system").inputs["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert (user["mode"], user["vmSize"], user["minCount"], user["maxCount"]) == ("User", "Standard_D8ds_v5", 2, 6)
    assert (user["count"], user["enableAutoScaling"], user["maxPods"], user["availabilityZones"]) == (
        2,
        True,
        110,
        ["1", "2", "3"],
    )
    assert (user["osType"], user["type"]) == ("Linux", "VirtualMachineScaleSets")
    assert (user["resourceGroupName"], user["resourceName"]) == ("rg", program.one(CLUSTER).outputs["name"])
    assert "nodeTaints" not in user
    keepers = named(program, RANDOM_STRING, "c-user-pool-suffix").inputs["keepers"]
    assert keepers == {"vm_size": "Standard_D8ds_v5", "zones": "1,2,3", "max_pods": "110", "os_disk_type": "Ephemeral"}


def test_an_empty_user_pool_is_one_of_the_default_size_and_taints_the_system_pool():
    program = build(ClusterProfile(user_pool=NodePool()))
    user = pool(program, "user").inputs
    assert (user["mode"], user["vmSize"], user["count"]) == ("User", "Standard_D4ds_v5", 1)
    assert pool(program, "system").inputs["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]


MAINTENANCE = "azure-native:containerservice:MaintenanceConfiguration"


@pytest.mark.parametrize(
    ("window", "day", "start"),
    [
        (None, "Sunday", "00:00"),
        ({}, "Sunday", "00:00"),
        ({"day": "Wednesday", "start_time": "22:30"}, "Wednesday", "22:30"),
        ({"day": "Saturday"}, "Saturday", "00:00"),
        ({"start_time": "03:00"}, "Sunday", "03:00"),
    ],
)
def test_maintenance_windows_for_cluster_and_node_os_upgrades(window, day, start):
    program = build(ClusterProfile(maintenance_window=window) if window is not None else None)
    windows = {r.name: r.inputs for r in program.of_type(MAINTENANCE)}
    cluster_name = program.one(CLUSTER).outputs["name"]
    assert windows == {
        f"c-{config}": {
            "resourceGroupName": "rg",
            "resourceName": cluster_name,
            "configName": config,
            "maintenanceWindow": {
                "schedule": {"weekly": {"dayOfWeek": day, "intervalWeeks": 1}},
                "durationHours": 4,
                "startTime": start,
                "utcOffset": "+00:00",
            },
        }
        for config in ("aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule")
    }


def test_no_maintenance_window_leaves_the_schedule_to_aks():
    assert build(ClusterProfile(maintenance_window=None)).of_type(MAINTENANCE) == []


def test_monitoring_and_policy_add_ons():
    program = build(ClusterProfile(monitoring=True, azure_policy=True))
    workspace = program.one("azure-native:operationalinsights:Workspace")
    assert workspace.name == "c-logs"
    assert workspace.inputs == {
        "resourceGroupName": "rg",
        "location": "westeurope",
        "sku": {"name": "PerGB2018"},
        "retentionInDays": 30,
    }
    assert program.one(CLUSTER).inputs["addonProfiles"] == {
        "omsagent": {
            "enabled": True,
            "config": {"logAnalyticsWorkspaceResourceID": workspace.outputs["id"], "useAADAuth": "true"},
        },
        "azurepolicy": {"enabled": True},
    }


DCR = "azure-native:monitor:DataCollectionRule"
DCR_ASSOCIATION = "azure-native:monitor:DataCollectionRuleAssociation"


def test_container_insights_signs_in_with_managed_identity_through_a_data_collection_rule():
    """The rule Microsoft's managed-identity onboarding declares (facts: CONTAINER_INSIGHTS_EXTENSION): the
    ContainerInsights extension's default stream group flows to the cluster's workspace, and the rule is associated
    with the cluster."""
    program = build(ClusterProfile(monitoring=True))
    workspace = program.one("azure-native:operationalinsights:Workspace").outputs["id"]
    rule = program.one(DCR)
    streams = ["Microsoft-ContainerInsights-Group-Default"]
    assert (rule.name, rule.parent) == ("c-insights", program.one(COMPONENT).urn)
    assert rule.inputs == {
        "resourceGroupName": "rg",
        "location": "westeurope",
        "kind": "Linux",
        "dataSources": {
            "extensions": [
                {
                    "name": "ContainerInsightsExtension",
                    "extensionName": "ContainerInsights",
                    "streams": streams,
                    "extensionSettings": {
                        "dataCollectionSettings": {
                            "interval": "1m",
                            "namespaceFilteringMode": "Off",
                            "enableContainerLogV2": True,
                        }
                    },
                }
            ]
        },
        "destinations": {"logAnalytics": [{"name": "workspace", "workspaceResourceId": workspace}]},
        "dataFlows": [{"streams": streams, "destinations": ["workspace"]}],
    }
    association = program.one(DCR_ASSOCIATION)
    assert association.inputs == {
        "associationName": "ContainerInsightsExtension",
        "resourceUri": program.one(CLUSTER).outputs["id"],
        "dataCollectionRuleId": rule.outputs["id"],
    }


def test_no_monitoring_means_no_workspace_and_no_collection_rule():
    program = build()
    assert program.of_type("azure-native:operationalinsights:Workspace") == []
    assert program.of_type(DCR) == program.of_type(DCR_ASSOCIATION) == []


@pytest.mark.parametrize(("tier", "plan"), [("Premium", "AKSLongTermSupport"), ("Standard", "KubernetesOfficial")])
def test_premium_goes_with_long_term_support_and_every_other_tier_with_the_standard_plan(tier, plan):
    """AKS: enable or disable LTS and the Premium tier together (facts: PREMIUM_TIER)."""
    cluster = build(ClusterProfile(tier=tier)).one(CLUSTER).inputs
    assert (cluster["sku"]["tier"], cluster["supportPlan"]) == (tier, plan)


@pytest.mark.parametrize("os_channel", ["SecurityPatch", "None", "Unmanaged"])
def test_node_image_upgrades_with_another_node_os_channel_are_refused_before_anything_is_declared(
    monkeypatch, os_channel
):
    """AKS accepts only the NodeImage node OS channel with the node-image cluster channel (facts: Upgrade
    channels)."""
    from twin import mocks

    registered: list[str] = []
    original = mocks.RecordingMonitor.RegisterResource

    def spy(self, request):
        registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(mocks.RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(ValueError) as refused:
        build(ClusterProfile(upgrade_channel="node-image", node_os_upgrade_channel=os_channel))
    assert (
        str(refused.value)
        .splitlines()[-1]
        .endswith(
            f"node_os_upgrade_channel '{os_channel}' with upgrade_channel 'node-image': AKS accepts only 'NodeImage' "
            "with that cluster channel"
        )
    )
    assert [t for t in registered if t != "pulumi:pulumi:Stack"] == []


def test_node_image_upgrades_with_the_node_image_os_channel_are_declared():
    cluster = build(ClusterProfile(upgrade_channel="node-image", node_os_upgrade_channel="NodeImage")).one(CLUSTER)
    assert cluster.inputs["autoUpgradeProfile"] == {"upgradeChannel": "node-image", "nodeOSUpgradeChannel": "NodeImage"}


@pytest.mark.parametrize(
    ("channel", "moves_versions"),
    [("patch", True), ("stable", True), ("rapid", True), ("none", False), ("node-image", False)],
)
def test_versions_are_ignored_exactly_when_the_upgrade_channel_moves_them(channel, moves_versions):
    """After a refresh, versions AKS moved would show as a change back (facts: VERSION_MOVING_UPGRADE_CHANNELS)."""
    program = build(ClusterProfile(upgrade_channel=channel, user_pool=NodePool(), kubernetes_version="1.33"))
    assert ("kubernetesVersion" in program.one(CLUSTER).ignore_changes) is moves_versions
    for role in ("system", "user"):
        assert ("orchestratorVersion" in pool(program, role).ignore_changes) is moves_versions


@pytest.mark.parametrize(
    ("channel", "pinned"),
    [("patch", False), ("stable", False), ("rapid", False), ("none", True), ("node-image", True)],
)
def test_pools_follow_the_profiles_version_exactly_when_the_stack_moves_versions(channel, pinned):
    """With `none` or `node-image` a version change must reach the nodes too, not only the control plane."""
    program = build(ClusterProfile(upgrade_channel=channel, user_pool=NodePool(), kubernetes_version="1.33"))
    for role in ("system", "user"):
        assert pool(program, role).inputs.get("orchestratorVersion") == ("1.33" if pinned else None), role
    # Without a version the region's default applies, to the pools as to the control plane.
    unset = build(ClusterProfile(upgrade_channel=channel, user_pool=NodePool()))
    for role in ("system", "user"):
        assert "orchestratorVersion" not in pool(unset, role).inputs, role


def test_pool_name_keepers_are_the_settings_aks_cannot_change_in_place():
    program = build(ClusterProfile(user_pool=NodePool(vm_size="Standard_D8ds_v5"), zones=["1", "2"], max_pods=50))
    assert named(program, RANDOM_STRING, "c-user-pool-suffix").inputs["keepers"] == {
        "vm_size": "Standard_D8ds_v5",
        "zones": "1,2",
        "max_pods": "50",
        "os_disk_type": "Ephemeral",
    }


def test_the_settings_and_the_component_refuse_the_same_channel_pairs():
    """One rule (`channels_refused`), asked by both: settings before anything is declared, the component when used
    alone."""
    channels = ("none", "patch", "stable", "rapid", "node-image")
    os_channels = ("None", "Unmanaged", "NodeImage", "SecurityPatch")
    for channel in channels:
        for os_channel in os_channels:
            refused = channel == "node-image" and os_channel != "NodeImage"
            assert channels_refused(channel, os_channel) is refused, (channel, os_channel)
    # The settings ask the same function, not a copy of the rule.
    assert settings.channels_refused is channels_refused


def test_a_pools_node_count_is_ignored_exactly_when_the_autoscaler_owns_it():
    program = build(
        ClusterProfile(system_pool=NodePool(count=2, max_count=4), user_pool=NodePool(count=2), upgrade_channel="none")
    )
    assert pool(program, "system").ignore_changes == ["count"]
    assert pool(program, "user").ignore_changes == []
    # Nothing else is the platform's: the cluster ignores only its pool list.
    assert program.one(CLUSTER).ignore_changes == ["agentPoolProfiles"]


def test_the_secrets_store_add_on_is_off_by_default_and_rotates_on_its_interval_when_on():
    assert "addonProfiles" not in build().one(CLUSTER).inputs
    for profile, interval in (
        (ClusterProfile(secrets_provider=True), "2m"),
        (ClusterProfile(secrets_provider=True, secret_rotation_poll_interval="90s"), "90s"),
    ):
        addons = build(profile).one(CLUSTER).inputs["addonProfiles"]
        assert addons == {
            facts.SECRETS_PROVIDER_ADDON: {
                "enabled": True,
                "config": {"enableSecretRotation": "true", "rotationPollInterval": interval},
            }
        }
    assert facts.SECRETS_PROVIDER_ADDON == "azureKeyvaultSecretsProvider"


def test_nodes_in_a_subnet_of_the_stacks_own_use_a_control_plane_identity_allowed_on_it():
    program = build(node_subnet_id=SUBNET)
    identity = program.one("azure-native:managedidentity:UserAssignedIdentity")
    assert (identity.name, identity.inputs) == (
        "c-control-plane",
        {"resourceGroupName": "rg", "location": "westeurope"},
    )
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
    # It polls with the provider's own kubeconfig, so it waits exactly for what the provider will be allowed.
    assert (wait.name, wait.inputs["create"]) == ("c-await-access", AWAIT_ACCESS_SCRIPT)
    assert wait.inputs["environment"] == {
        "KUBECONFIG_DATA": program.one(K8S_PROVIDER).inputs["kubeconfig"],
        "INTERVAL": str(ACCESS_POLL_SECONDS),
    }


def test_kubernetes_objects_wait_for_the_pools_workloads_run_on():
    """The bootstrap pool is tainted for critical add-ons: pods are scheduled only once the profile's pools exist."""
    program = build(ClusterProfile(user_pool=NodePool(), entra_rbac=False))
    dependencies = program.one(K8S_PROVIDER).dependencies
    assert {pool(program, role).urn for role in ("system", "user")} <= set(dependencies)


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
    # `pulumi destroy` still finishes when the cluster is already gone.
    assert (provider.name, provider.inputs["deleteUnreachable"]) == ("c-k8s", "true")
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


def test_unattended_kubeconfig_without_a_server_id_signs_in_for_the_aks_server_app():
    config = {
        "users": [
            {"name": "no-user"},
            {"name": "no-args", "user": {"exec": {"command": "kubelogin"}}},
            {"name": "no-server-id", "user": {"exec": {"command": "kubelogin", "args": ["get-token", "--x", "y"]}}},
        ]
    }
    users = yaml.safe_load(unattended_kubeconfig(yaml.safe_dump(config), "workloadidentity"))["users"]
    assert users[0] == {"name": "no-user"}
    for user in users[1:]:
        assert user["user"]["exec"] == {
            "command": "kubelogin",
            "args": ["get-token", "--login", "workloadidentity", "--server-id", facts.AKS_ENTRA_SERVER_ID],
        }
    assert yaml.safe_load(unattended_kubeconfig("kind: Config\n", "azurecli")) == {"kind": "Config"}


def test_cluster_create_update_and_delete_have_a_generous_timeout():
    timeout = facts.CLUSTER_CREATE_TIMEOUT
    assert build().one(CLUSTER).custom_timeouts == {"create": timeout, "update": timeout, "delete": timeout}


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("orders_aks.prod", "orders-aks-prod"),
        ("Orders-AKS-1", "Orders-AKS-1"),
        ("_X_", "X"),
        ("__", "aks"),
        ("a" * 54 + "b", "a" * 54),
        ("a" * 53 + "_b", "a" * 53),
    ],
)
def test_dns_prefix_is_valid_whatever_the_component_name(name, prefix):
    """1-54 letters, digits and hyphens, starting and ending with a letter or digit (AKS dnsPrefix rule)."""
    program = run(lambda: AksOidcCluster(name, AksOidcClusterArgs(resource_group_name="rg", location="x")))
    assert program.one(CLUSTER).inputs["dnsPrefix"] == prefix


def existing(monkeypatch, need_secrets_provider: bool = False, read: list | None = None, **changes):
    """The existing-cluster invoke answering with `changes` applied; returns what the program declared, and appends
    what `read_existing_cluster` found to `read`."""
    from twin import mocks

    answer = mocks.existing_cluster("platform-rg", "platform-aks")
    monkeypatch.setattr(mocks, "existing_cluster", lambda group, name: {**answer, **changes})

    def program():
        found = read_existing_cluster("platform-rg", "platform-aks", need_secrets_provider=need_secrets_provider)
        if read is not None:
            read.append(found)
        AksOidcCluster(
            "c",
            AksOidcClusterArgs(resource_group_name="rg", location="x", existing=found, acr_pull_registries=REGISTRIES),
        )

    return run(program)


def test_an_existing_cluster_is_read_not_created_and_its_kubelet_gets_acr_pull(monkeypatch):
    outputs, _ = recording(monkeypatch)
    program = existing(monkeypatch)
    assert program.of_type(CLUSTER) == []
    (read,) = [i for i in program.invokes if i.token.endswith("getManagedCluster")]
    kubelet = read.result["identityProfile"]["kubeletidentity"]["objectId"]
    assert {r.inputs["principalId"] for r in program.of_type(ROLE_ASSIGNMENT)} == {kubelet}
    assert outputs[program.one(COMPONENT).urn] == {
        "cluster_name": "platform-aks",
        "oidc_issuer_url": read.result["oidcIssuerProfile"]["issuerURL"],
        "kubelet_object_id": kubelet,
    }
    # Its owners already gave the deployer access: nothing waits for a grant.
    assert program.of_type("command:local:Command") == []
    assert program.one(K8S_PROVIDER).name == "c-k8s"
    (credentials,) = [i for i in program.invokes if i.token.endswith("listManagedClusterUserCredentials")]
    assert credentials.args == {"resourceGroupName": "platform-rg", "resourceName": "platform-aks", "format": "exec"}
    (user,) = yaml.safe_load(program.one(K8S_PROVIDER).inputs["kubeconfig"])["users"]
    assert user["user"]["exec"]["args"][:3] == ["get-token", "--login", "azurecli"]


def test_an_existing_cluster_without_entra_is_reached_with_its_token_kubeconfig(monkeypatch):
    program = existing(monkeypatch, aadProfile=None)
    (credentials,) = [i for i in program.invokes if i.token.endswith("listManagedClusterUserCredentials")]
    assert credentials.args == {"resourceGroupName": "platform-rg", "resourceName": "platform-aks"}
    (user,) = yaml.safe_load(program.one(K8S_PROVIDER).inputs["kubeconfig"])["users"]
    assert user["user"] == {"token": "mock-user-token"}


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


SECRETS_ADDON_OFF = "existing cluster platform-rg/platform-aks has the Secrets Store CSI driver add-on turned off"
SECRETS_ADDON_FIX = "az aks enable-addons -g platform-rg -n platform-aks --addons azure-keyvault-secrets-provider"


@pytest.mark.parametrize(
    ("addons", "on"),
    [
        (None, False),
        ({}, False),
        ({"azureKeyvaultSecretsProvider": {"enabled": False}}, False),
        ({"omsagent": {"enabled": True}}, False),
        ({"azureKeyvaultSecretsProvider": {"enabled": True}}, True),
        # AKS reports add-on keys in either case.
        ({"azurekeyvaultsecretsprovider": {"enabled": True}}, True),
    ],
)
def test_an_existing_clusters_secrets_store_add_on_is_read_and_refused_only_when_needed(monkeypatch, addons, on):
    read: list = []
    existing(monkeypatch, read=read, addonProfiles=addons)
    assert [found["secrets_provider"] for found in read] == [on]
    if on:
        existing(monkeypatch, need_secrets_provider=True, read=read, addonProfiles=addons)
        assert [found["secrets_provider"] for found in read] == [True, True]
        return
    with pytest.raises(ClusterNotReady) as refused:
        existing(monkeypatch, need_secrets_provider=True, addonProfiles=addons)
    assert str(refused.value) == f"{SECRETS_ADDON_OFF}; turn it on with: {SECRETS_ADDON_FIX}"


def test_a_named_deployer_is_granted_without_asking_who_signed_in():
    deployer = "22222222-3333-4444-5555-666666666666"
    program = build(ClusterProfile(deployer_object_id=deployer, deployer_principal_type="ServicePrincipal"))
    grant = named(program, ROLE_ASSIGNMENT, "c-deployer-cluster-admin").inputs
    assert (grant["principalId"], grant["principalType"]) == (deployer, "ServicePrincipal")
    assert not [i for i in program.invokes if i.token.endswith("getClientConfig")]


COMPONENT = "wi:index:AksOidcCluster"
AZURE_PROVIDER = "pulumi:providers:azure-native"
FULL = ClusterProfile(monitoring=True, azure_policy=True, user_pool=NodePool(vm_size="Standard_D8ds_v5"))


def recording(monkeypatch) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    """What each component registers as its outputs (by URN), and which provider each invoke went to."""
    from pulumi.runtime import rpc

    from twin import mocks

    outputs: dict[str, dict] = {}
    invokes: list[tuple[str, str]] = []
    register_outputs, invoke = mocks.RecordingMonitor.RegisterResourceOutputs, mocks.RecordingMonitor.Invoke

    def record_outputs(self, request):
        outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return register_outputs(self, request)

    def record_invoke(self, request):
        invokes.append((request.tok, request.provider))
        return invoke(self, request)

    monkeypatch.setattr(mocks.RecordingMonitor, "RegisterResourceOutputs", record_outputs)
    monkeypatch.setattr(mocks.RecordingMonitor, "Invoke", record_invoke)
    return outputs, invokes


def test_everything_is_declared_under_the_component_and_with_the_callers_options(monkeypatch):
    """A caller's options reach the component: here a parent holding an azure-native provider (another
    subscription), which every Azure resource and every read of the cluster must then use."""
    _, invokes = recording(monkeypatch)

    def program():
        subscription = azure_native.Provider("other-subscription")
        outer = pulumi.ComponentResource(
            "test:index:Outer", "outer", None, pulumi.ResourceOptions(providers=[subscription])
        )
        args = AksOidcClusterArgs(
            resource_group_name="rg", location="x", profile=FULL, node_subnet_id=SUBNET, acr_pull_registries=REGISTRIES
        )
        AksOidcCluster("c", args, pulumi.ResourceOptions(parent=outer))

    program = run(program)
    component = program.one(COMPONENT)
    assert component.parent == program.one("test:index:Outer").urn
    provider = program.one(AZURE_PROVIDER)
    children = [r for r in program.resources if r.type not in (COMPONENT, AZURE_PROVIDER, "test:index:Outer")]
    assert {r.name: r.parent for r in children} == {
        f"c-{part}": component.urn
        for part in (
            "logs",
            "control-plane",
            "control-plane-network",
            "aks",
            "insights",
            "insights-association",
            "system-pool-suffix",
            "system-pool",
            "user-pool-suffix",
            "user-pool",
            *facts.MAINTENANCE_CONFIGURATIONS,
            "acr-pull-one",
            "acr-pull-two",
            "deployer-cluster-admin",
            "await-access",
            "k8s",
        )
    }
    azure = [r for r in children if r.type.startswith("azure-native:")]
    assert {r.name for r in azure if not r.provider.startswith(provider.urn + "::")} == set()
    assert sorted(token for token, _ in invokes) == [
        "azure-native:authorization:getClientConfig",
        "azure-native:containerservice:listManagedClusterUserCredentials",
    ]
    assert {used.rsplit("::", 1)[0] for _, used in invokes} == {provider.urn}


def expose(component: AksOidcCluster) -> None:
    """Exports what only Python sees: the provider and the AcrPull grants, by URN."""
    pulumi.export("provider", component.provider.urn)
    pulumi.export("acr_pulls", {label: grant.urn for label, grant in component.acr_pulls.items()})


def test_a_created_cluster_registers_its_name_issuer_and_kubelet_identity_as_aks_reports_them(monkeypatch):
    outputs, _ = recording(monkeypatch)
    args = AksOidcClusterArgs(resource_group_name="rg", location="x", acr_pull_registries=REGISTRIES)
    program = run(lambda: expose(AksOidcCluster("c", args)))
    cluster = program.one(CLUSTER).outputs
    assert outputs[program.one(COMPONENT).urn] == {
        "cluster_name": cluster["name"],
        "oidc_issuer_url": cluster["oidcIssuerProfile"]["issuerURL"],
        "kubelet_object_id": cluster["identityProfile"]["kubeletidentity"]["objectId"],
    }
    assert program.exports == {
        "provider": program.one(K8S_PROVIDER).urn,
        "acr_pulls": {label: named(program, ROLE_ASSIGNMENT, f"c-acr-pull-{label}").urn for label in REGISTRIES},
    }


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"oidcIssuerProfile": None}, "the cluster reports no issuer"),
        ({"identityProfile": None}, "the cluster reports no kubelet identity"),
    ],
)
def test_a_created_cluster_that_reports_no_issuer_or_kubelet_identity_is_an_error(monkeypatch, answer, error):
    from twin import mocks

    managed_cluster = mocks._ANSWERS[CLUSTER]

    def without(name, inputs):
        resource_id, outputs = managed_cluster(name, inputs)
        return resource_id, {**outputs, **answer}

    monkeypatch.setitem(mocks._ANSWERS, CLUSTER, without)
    with pytest.raises(ValueError) as failed:
        build()
    # Pulumi wraps the error with the output it was resolving; the last line is the component's own.
    assert str(failed.value).splitlines()[-1] == f"ValueError has risen: {error}"


def test_the_profiles_choices_reach_the_cluster():
    profile = ClusterProfile(
        tier="Standard",
        upgrade_channel="stable",
        node_os_upgrade_channel="SecurityPatch",
        authorized_ip_ranges=["203.0.113.0/24"],
        max_pods=50,
        entra_rbac=False,
    )
    program = build(profile)
    cluster = program.one(CLUSTER).inputs
    assert cluster["sku"] == {"name": "Base", "tier": "Standard"}
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "stable", "nodeOSUpgradeChannel": "SecurityPatch"}
    assert cluster["apiServerAccessProfile"] == {"authorizedIPRanges": ["203.0.113.0/24"]}
    assert pool(program, "system").inputs["maxPods"] == 50
    # Without Entra ID: local accounts stay, and nothing grants or waits for Kubernetes access.
    assert "aadProfile" not in cluster and cluster["disableLocalAccounts"] is False
    # Kubernetes RBAC stays on without Entra ID.
    assert cluster["enableRBAC"] is True
    assert program.of_type("command:local:Command") == []


def test_a_fixed_size_user_pool_in_the_stacks_subnet():
    program = build(
        ClusterProfile(user_pool=NodePool(vm_size="Standard_D4s_v5", count=3), max_pods=30), node_subnet_id=SUBNET
    )
    user = pool(program, "user").inputs
    assert (user["count"], user["enableAutoScaling"], user["maxPods"]) == (3, False, 30)
    assert "minCount" not in user and "maxCount" not in user and "availabilityZones" not in user
    assert (user["vnetSubnetID"], user["osDiskType"]) == (SUBNET, "Managed")
    assert pool(program, "system").inputs["vnetSubnetID"] == SUBNET
    keepers = named(program, RANDOM_STRING, "c-user-pool-suffix").inputs["keepers"]
    assert keepers == {"vm_size": "Standard_D4s_v5", "zones": "", "max_pods": "30", "os_disk_type": "Managed"}
