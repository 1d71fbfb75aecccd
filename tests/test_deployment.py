"""WorkloadPod, built alone."""

from __future__ import annotations

import pytest
from conftest import DEPLOYMENT, NAMESPACE, NETWORK_POLICY, container_env, pod_template

from components import WorkloadNamespace, WorkloadNamespaceArgs, WorkloadPod, WorkloadPodArgs, facts
from components.workload import ROLLOUT_SECONDS
from twin.mocks import run

IMAGE = "contoso.azurecr.io/secret-reader:0123456789abcdef"


def build(**overrides):
    args = {
        "namespace": "apps",
        "service_account_name": "reader",
        "image": IMAGE,
        "vault_uri": "https://kv.vault.azure.net/",
        "secret_name": "Secret",
        **overrides,
    }
    return run(lambda: WorkloadPod("w", WorkloadPodArgs(**args)))


def test_pod_template_carries_the_webhook_label_and_the_service_account():
    template = pod_template(build())
    assert template["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL] == "true"
    assert template["spec"]["serviceAccountName"] == "reader"
    assert template["spec"]["automountServiceAccountToken"] is False


def test_env_follows_the_app_contract():
    assert container_env(build()) == {
        "KEY_VAULT_URL": "https://kv.vault.azure.net/",
        "SECRET_NAME": "Secret",
        "REVEAL_SECRET": "false",
        "HEALTH_PORT": "8080",
    }
    env = container_env(build(version_id="0" * 32, reveal_secret=True))
    assert env["VERSION_ID"] == "0" * 32 and env["REVEAL_SECRET"] == "true"


def test_pod_meets_the_restricted_profile():
    spec = pod_template(build())["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == facts.APP_UID >= 10000
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
