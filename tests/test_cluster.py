"""AksOidcCluster, built alone."""

from __future__ import annotations

import yaml
from conftest import CLUSTER, K8S_PROVIDER, ROLE_ASSIGNMENT

from components import AksOidcCluster, AksOidcClusterArgs, facts
from twin.mocks import run

REGISTRY_IDS = [
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/one",
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/two",
]


def build(**overrides):
    args = {"resource_group_name": "rg", "location": "westeurope", **overrides}
    return run(lambda: AksOidcCluster("c", AksOidcClusterArgs(**args)))


def test_cluster_has_oidc_issuer_and_workload_identity_on():
    cluster = build().one(CLUSTER).inputs
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"] == {"workloadIdentity": {"enabled": True}}
    assert cluster["identity"] == {"type": "SystemAssigned"}


def test_node_pool_and_version_come_from_args():
    cluster = build(node_count=3, node_vm_size="Standard_D4s_v5", kubernetes_version="1.33").one(CLUSTER).inputs
    (pool,) = cluster["agentPoolProfiles"]
    assert (pool["count"], pool["vmSize"], pool["mode"], pool["osType"]) == (3, "Standard_D4s_v5", "System", "Linux")
    assert cluster["kubernetesVersion"] == "1.33"
    assert "kubernetesVersion" not in build().one(CLUSTER).inputs


def test_cluster_create_has_a_generous_timeout():
    assert build().one(CLUSTER).custom_timeouts["create"] == facts.CLUSTER_CREATE_TIMEOUT


def test_acr_pull_for_the_kubelet_identity_on_each_registry():
    program = build(acr_registry_ids=REGISTRY_IDS)
    kubelet = program.one(CLUSTER).outputs["identityProfile"]["kubeletidentity"]["objectId"]
    grants = sorted((r.inputs for r in program.of_type(ROLE_ASSIGNMENT)), key=lambda g: g["scope"])
    assert [g["scope"] for g in grants] == REGISTRY_IDS
    for grant in grants:
        assert grant["principalId"] == kubelet
        assert grant["principalType"] == "ServicePrincipal"
        assert grant["roleDefinitionId"] == facts.role_definition_id("s1", facts.ACR_PULL)


def test_no_registry_means_no_role_assignment():
    assert build().of_type(ROLE_ASSIGNMENT) == []


def test_provider_uses_the_user_kubeconfig_as_a_secret():
    program = build()
    provider = program.one(K8S_PROVIDER)
    assert "kubeconfig" in provider.secret_inputs
    kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
    assert kubeconfig["current-context"] == program.one(CLUSTER).outputs["name"]
    (invoke,) = [i for i in program.invokes if i.token.endswith("listManagedClusterUserCredentials")]
    assert invoke.args == {"resourceGroupName": "rg", "resourceName": program.one(CLUSTER).outputs["name"]}


def test_dns_prefix_is_valid_whatever_the_component_name():
    program = run(lambda: AksOidcCluster("orders_aks.prod", AksOidcClusterArgs(resource_group_name="rg", location="x")))
    assert program.one(CLUSTER).inputs["dnsPrefix"] == "orders-aks-prod"
