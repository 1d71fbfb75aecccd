"""The hardened prod stack (Pulumi.prod.yaml): each control of docs/production.md's table, as declared."""

from __future__ import annotations

import yaml
from conftest import (
    AGENT_POOL,
    CLUSTER,
    DEPLOYMENT,
    K8S_PROVIDER,
    NAMESPACE,
    NETWORK_POLICY,
    PRIVATE_ENDPOINT,
    REGISTRY,
    ROLE_ASSIGNMENT,
    VAULT,
    depends_on,
    named,
)

from aks_workload_identity import facts
from aks_workload_identity.network import ENDPOINT_SUBNET


def test_prod_cluster_signs_in_with_entra_only_behind_authorized_ranges(prod):
    cluster = prod.one(CLUSTER).inputs
    assert cluster["aadProfile"]["managed"] is True and cluster["aadProfile"]["enableAzureRBAC"] is True
    assert cluster["aadProfile"]["adminGroupObjectIDs"]
    assert cluster["disableLocalAccounts"] is True
    assert cluster["apiServerAccessProfile"]["authorizedIPRanges"]
    (user,) = yaml.safe_load(prod.one(K8S_PROVIDER).inputs["kubeconfig"])["users"]
    assert user["user"]["exec"]["args"][:3] == ["get-token", "--login", "azurecli"]


def test_kubernetes_objects_wait_for_the_deployers_kubernetes_role(prod):
    access = named(prod, ROLE_ASSIGNMENT, "wi-deployer-cluster-admin")
    for resource in prod.resources:
        if resource.type.startswith("kubernetes:") and not resource.type.startswith("pulumi:providers"):
            assert depends_on(prod, resource, access), resource.name


def test_prod_nodes_system_pool_for_add_ons_user_pool_for_workloads_across_zones(prod):
    (bootstrap,) = prod.one(CLUSTER).inputs["agentPoolProfiles"]
    system = named(prod, AGENT_POOL, "wi-system-pool").inputs
    user = named(prod, AGENT_POOL, "wi-user-pool").inputs
    assert (system["mode"], user["mode"]) == ("System", "User")
    assert system["nodeTaints"] == bootstrap["nodeTaints"] == [facts.CRITICAL_ADDONS_ONLY_TAINT]
    assert len(prod.of_type(AGENT_POOL)) == 2
    for pool in (system, user):
        assert pool["availabilityZones"] == ["1", "2", "3"]
        assert pool["enableAutoScaling"] is True and pool["minCount"] < pool["maxCount"]
        assert pool["osDiskType"] == "Ephemeral"
        assert pool["maxPods"] >= 50
        assert pool["vnetSubnetID"] == named(prod, "azure-native:network:Subnet", "net-nodes").outputs["id"]


def test_prod_upgrades_tier_and_observability(prod):
    cluster = prod.one(CLUSTER).inputs
    assert cluster["sku"]["tier"] == "Standard"
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    # The Secrets Store CSI driver too: billing takes its secret as a file as well (delivery: both).
    assert set(cluster["addonProfiles"]) == {
        facts.MONITORING_ADDON,
        facts.AZURE_POLICY_ADDON,
        facts.SECRETS_PROVIDER_ADDON,
    }
    windows = prod.of_type("azure-native:containerservice:MaintenanceConfiguration")
    assert {w.inputs["maintenanceWindow"]["startTime"] for w in windows} == {"02:00"}


def test_prod_vaults_are_private_purge_protected_and_resolved_inside_the_network(prod):
    endpoints = {
        e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"]: e for e in prod.of_type(PRIVATE_ENDPOINT)
    }
    subnet = named(prod, "azure-native:network:Subnet", "net-endpoints").outputs["id"]
    addresses = set()
    for vault in prod.of_type(VAULT):
        properties = vault.inputs["properties"]
        assert properties["publicNetworkAccess"] == "Disabled"
        assert properties["enablePurgeProtection"] is True and properties["softDeleteRetentionInDays"] == 90
        endpoint = endpoints[vault.outputs["id"]]
        assert endpoint.inputs["subnet"]["id"] == subnet
        (config,) = endpoint.outputs["customDnsConfigs"]
        assert config["fqdn"] == vault.outputs["properties"]["vaultUri"][8:-1]
        addresses.update(config["ipAddresses"])
    assert len(addresses) == len(prod.of_type(VAULT)) == 3


def test_prod_namespaces_deny_all_then_each_app_gets_the_vaults_endpoint_range(prod):
    policies = {
        (p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): p.inputs["spec"]
        for p in prod.of_type(NETWORK_POLICY)
    }
    namespaces = {n.inputs["metadata"]["name"] for n in prod.of_type(NAMESPACE)}
    assert namespaces == {"wi-demo", "orders", "billing"}
    for namespace in namespaces:
        assert policies[(namespace, "default-deny")] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = [spec for (_, name), spec in policies.items() if name != "default-deny"]
    assert len(egress) == 3
    for spec in egress:
        assert {"to": [{"ipBlock": {"cidr": ENDPOINT_SUBNET}}], "ports": [{"protocol": "TCP", "port": 443}]} in spec[
            "egress"
        ]


def test_prod_registry_and_replicas(prod):
    assert prod.one(REGISTRY).inputs["sku"] == {"name": "Standard"}
    assert all(d.inputs["spec"]["replicas"] == 2 for d in prod.of_type(DEPLOYMENT))
