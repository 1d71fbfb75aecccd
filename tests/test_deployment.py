"""WorkloadDeployment and WorkloadNamespace, built alone; and Workload, which composes the trust chain."""

from __future__ import annotations

import pulumi
import pulumi_random as random
import pytest
from conftest import DEPLOYMENT, NAMESPACE, NETWORK_POLICY, ROLE_ASSIGNMENT, SECRET, container_env, pod_template

from aks_workload_identity import (
    Probes,
    SecretVault,
    SecretVaultArgs,
    Workload,
    WorkloadArgs,
    WorkloadDeployment,
    WorkloadDeploymentArgs,
    WorkloadNamespace,
    WorkloadNamespaceArgs,
    facts,
)
from aks_workload_identity.deployment import ROLLOUT_SECONDS
from twin.mocks import run

IMAGE = "contoso.azurecr.io/secret-reader:0123456789abcdef"


ENV = {"KEY_VAULT_URL": "https://kv.vault.azure.net/", "SECRET_NAME": "Secret"}


def build(**overrides):
    args = {"namespace": "apps", "service_account_name": "reader", "image": IMAGE, "env": ENV, **overrides}
    return run(lambda: WorkloadDeployment("w", WorkloadDeploymentArgs(**args)))


def test_pod_template_carries_the_webhook_label_and_the_service_account():
    template = pod_template(build())
    assert template["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL] == "true"
    assert template["spec"]["serviceAccountName"] == "reader"
    assert template["spec"]["automountServiceAccountToken"] is False


def test_env_is_passed_as_given_and_nothing_else():
    assert container_env(build()) == ENV


def test_any_image_port_and_probe_paths():
    program = build(
        image="contoso.azurecr.io/api@sha256:" + "e" * 64,
        probes=Probes(port=9000, readiness_path="/ready", liveness_path="/health"),
    )
    (container,) = pod_template(program)["spec"]["containers"]
    assert container["image"].startswith("contoso.azurecr.io/api@sha256:")
    assert container["ports"] == [{"name": "health", "containerPort": 9000}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "health"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "health"}
    assert container["name"] == "w"


def test_pod_meets_the_restricted_profile():
    spec = pod_template(build())["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == spec["securityContext"]["runAsGroup"] == facts.APP_UID
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert container["image"] == IMAGE


def test_readiness_is_the_apps_proof_of_a_read_and_the_rollout_outlasts_rbac_propagation():
    program = build()
    (container,) = pod_template(program)["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "health"}
    assert container["ports"] == [{"name": "health", "containerPort": 8080}]
    deployment = program.one(DEPLOYMENT)
    assert deployment.inputs["spec"]["progressDeadlineSeconds"] == ROLLOUT_SECONDS > facts.RBAC_PROPAGATION_SECONDS
    assert deployment.custom_timeouts["create"] == f"{ROLLOUT_SECONDS}s"


def test_replicas_come_from_args():
    assert build(replicas=2).one(DEPLOYMENT).inputs["spec"]["replicas"] == 2


def test_replicas_below_one_are_refused():
    with pytest.raises(ValueError, match="replicas 0: must be at least 1"):
        build(replicas=0)


def test_no_network_policy_unless_asked():
    assert build().of_type(NETWORK_POLICY) == []


def test_egress_policy_allows_dns_public_https_and_the_private_endpoints_only():
    program = build(network_policy=True, private_endpoint_cidrs=["10.240.8.0/24"])
    policy = program.one(NETWORK_POLICY).inputs
    labels = pod_template(program)["metadata"]["labels"]
    assert policy["metadata"]["namespace"] == "apps"
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= labels.items() and "app.kubernetes.io/instance" in selector
    assert policy["spec"]["policyTypes"] == ["Egress"]
    dns, public, private = policy["spec"]["egress"]
    assert dns == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    assert public["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(facts.NON_PUBLIC_RANGES)}}]
    assert "169.254.0.0/16" in public["to"][0]["ipBlock"]["except"]  # IMDS, the node's identity
    assert private["to"] == [{"ipBlock": {"cidr": "10.240.8.0/24"}}]
    assert public["ports"] == private["ports"] == [{"protocol": "TCP", "port": 443}]


def test_namespace_is_restricted_and_denies_all_traffic_until_a_workload_allows_some():
    program = run(lambda: WorkloadNamespace("ns", WorkloadNamespaceArgs(name="apps")))
    namespace = program.one(NAMESPACE).inputs["metadata"]
    assert namespace == {"name": "apps", "labels": {facts.POD_SECURITY_ENFORCE_LABEL: "restricted"}}
    deny = program.one(NETWORK_POLICY).inputs
    assert deny["metadata"] == {"name": "default-deny", "namespace": "apps"}
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    open_namespace = run(lambda: WorkloadNamespace("ns", WorkloadNamespaceArgs(name="apps", network_policy=False)))
    assert open_namespace.of_type(NETWORK_POLICY) == []


ISSUER = "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/"


def orders_args(**overrides) -> WorkloadArgs:
    """The `orders` workload: one service account reading `db-password` from a vault of its own."""
    args = {
        "resource_group_name": "rg",
        "location": "westeurope",
        "issuer_url": ISSUER,
        "namespace": "orders",
        "service_account_names": ["orders-api"],
        "image": IMAGE,
        "secrets": [{"name": "db-password"}],
        **overrides,
    }
    return WorkloadArgs(**args)


def test_workload_composes_an_identity_a_vault_only_it_reads_and_pods_that_wait_for_both():
    args = orders_args(service_account_names=["orders-api", "orders-worker"], env={"SECRET_NAME": "db-password"})
    program = run(lambda: Workload("orders", args))
    vault = program.one("azure-native:keyvault:Vault")
    (grant,) = program.of_type("azure-native:authorization:RoleAssignment")
    identity = program.one("azure-native:managedidentity:UserAssignedIdentity")
    assert (grant.name, grant.inputs["scope"], grant.inputs["principalId"]) == (
        "orders-reads-vault",
        vault.outputs["id"],
        identity.outputs["principalId"],
    )
    deployment = program.one(DEPLOYMENT)
    assert container_env(program) == {
        "SECRET_NAME": "db-password",
        "KEY_VAULT_URL": vault.outputs["properties"]["vaultUri"],
    }
    assert pod_template(program)["spec"]["serviceAccountName"] == "orders-api"
    credentials = program.of_type("azure-native:managedidentity:FederatedIdentityCredential")
    assert {c.urn for c in credentials} | {grant.urn} <= set(deployment.dependencies)


def waits_for_a_grant(build_component) -> tuple:
    """Runs `build_component(opts)` with `opts.depends_on` naming a stand-in for the AcrPull grant."""

    def program():
        grant = random.RandomString("acr-pull", length=4)
        build_component(pulumi.ResourceOptions(depends_on=[grant]))

    program_run = run(program)
    grant = next(r for r in program_run.resources if r.name == "acr-pull")
    return program_run, grant


def test_the_pods_and_nothing_else_of_a_deployment_wait_for_its_depends_on():
    args = WorkloadDeploymentArgs(namespace="apps", service_account_name="reader", image=IMAGE, network_policy=True)
    program, grant = waits_for_a_grant(lambda opts: WorkloadDeployment("w", args, opts=opts))
    assert grant.urn in program.one(DEPLOYMENT).dependencies
    others = [r for r in program.resources if r.type != DEPLOYMENT and r is not grant]
    assert {r.type for r in others} == {"wi:index:WorkloadDeployment", NETWORK_POLICY}
    assert all(grant.urn not in r.dependencies for r in others)


def test_a_workloads_depends_on_holds_back_its_pods_alone_not_its_identity_or_vault():
    """The AcrPull grant exists only once the cluster does: the identity, vault and credentials must not wait."""
    program, grant = waits_for_a_grant(lambda opts: Workload("orders", orders_args(), opts=opts))
    deployment = program.one(DEPLOYMENT)
    credential = program.one("azure-native:managedidentity:FederatedIdentityCredential")
    assert {grant.urn, credential.urn} <= set(deployment.dependencies)
    for resource in program.resources:
        if resource not in (deployment, grant):
            assert grant.urn not in resource.dependencies, resource.name


def test_a_workload_in_a_shared_vault_reads_each_of_its_own_secrets_and_waits_for_those_alone():
    def program():
        secrets = [{"name": "orders-db"}, {"name": "billing-db"}]
        shared = SecretVault("shared", SecretVaultArgs(resource_group_name="rg", location="x", secrets=secrets))
        Workload("orders", orders_args(secrets=[{"name": "orders-db"}], shared_vault=shared.shared))

    declared = run(program)
    secrets = {s.inputs["secretName"]: s for s in declared.of_type(SECRET)}
    (grant,) = declared.of_type(ROLE_ASSIGNMENT)
    assert (grant.name, grant.inputs["scope"]) == ("orders-reads-secret-orders-db", secrets["orders-db"].outputs["id"])
    assert secrets["orders-db"].urn in grant.dependencies
    assert secrets["billing-db"].urn not in grant.dependencies
    assert len(declared.of_type("azure-native:keyvault:Vault")) == 1
    vault_uri = declared.one("azure-native:keyvault:Vault").outputs["properties"]["vaultUri"]
    assert container_env(declared)["KEY_VAULT_URL"] == vault_uri
