"""WorkloadPod, built alone."""

from __future__ import annotations

import pytest
from conftest import DEPLOYMENT, container_env, pod_template

from components import WorkloadPod, WorkloadPodArgs, facts
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
