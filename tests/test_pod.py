"""WorkloadPod and WorkloadNamespace, built alone; and Workload, which composes the trust chain."""

from __future__ import annotations

import re

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pytest
import yaml
from conftest import (
    DEPLOYMENT,
    K8S_PROVIDER,
    NAMESPACE,
    NETWORK_POLICY,
    ROLE_ASSIGNMENT,
    SECRET,
    container_env,
    pod_template,
)

from aks_workload_identity import (
    Probes,
    SecretVault,
    SecretVaultArgs,
    Workload,
    WorkloadArgs,
    WorkloadNamespace,
    WorkloadNamespaceArgs,
    WorkloadPod,
    WorkloadPodArgs,
    facts,
)
from aks_workload_identity.files import go_duration_seconds
from aks_workload_identity.pod import ROLLOUT_SECONDS
from twin.mocks import run

IMAGE = "contoso.azurecr.io/secret-reader:0123456789abcdef"


ENV = {"KEY_VAULT_URL": "https://kv.vault.azure.net/", "SECRET_NAME": "Secret"}


def build(**overrides):
    args = {"namespace": "apps", "service_account_name": "reader", "image": IMAGE, "env": ENV, **overrides}
    return run(lambda: WorkloadPod("w", WorkloadPodArgs(**args)))


@pytest.fixture
def registered(monkeypatch) -> dict[str, dict]:
    """What each component hands `register_outputs`, by its class name, with the outputs' values resolved."""
    seen: dict[str, dict] = {}
    original = pulumi.ComponentResource.register_outputs

    def spy(self, outputs):
        pulumi.Output.from_input(outputs).apply(lambda values: seen.setdefault(type(self).__name__, values))
        return original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", spy)
    return seen


def test_pod_template_carries_the_webhook_label_and_the_service_account():
    template = pod_template(build())
    assert template["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL] == "true"
    assert template["spec"]["serviceAccountName"] == "reader"
    assert template["spec"]["automountServiceAccountToken"] is False
    # The webhook matches the pod's own labels; the selector labels are the Deployment's, on its pods too.
    selector = {"app.kubernetes.io/name": "w", "app.kubernetes.io/instance": "w"}
    assert template["metadata"] == {"labels": {**selector, facts.WORKLOAD_IDENTITY_USE_LABEL: "true"}}


def test_env_is_passed_as_given_and_nothing_else():
    assert container_env(build()) == ENV
    (container,) = pod_template(build(env={}))["spec"]["containers"]
    assert container["env"] == []


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


@pytest.mark.parametrize(
    ("probes", "port", "readiness", "liveness"),
    [
        (Probes(port=9000), 9000, "/readyz", "/livez"),
        (Probes(readiness_path="/ready"), 8080, "/ready", "/livez"),
        (Probes(liveness_path="/health"), 8080, "/readyz", "/health"),
    ],
)
def test_a_probe_setting_left_out_keeps_the_secret_readers_default(probes, port, readiness, liveness):
    (container,) = pod_template(build(probes=probes))["spec"]["containers"]
    assert container["ports"] == [{"name": "health", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"] == {"path": readiness, "port": "health"}
    assert container["livenessProbe"]["httpGet"] == {"path": liveness, "port": "health"}


def test_pod_meets_the_restricted_profile():
    spec = pod_template(build())["spec"]
    (container,) = spec["containers"]
    # The "restricted" Pod Security profile and what common scanners ask for (facts: Pod security).
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": facts.APP_UID,
        "runAsGroup": facts.APP_UID,
        "fsGroup": facts.APP_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["terminationGracePeriodSeconds"] == 10
    # The read-only root filesystem leaves the app one small scratch directory.
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "96Mi"},
        "limits": {"cpu": "250m", "memory": "192Mi"},
    }
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert container["image"] == IMAGE


def test_readiness_is_the_apps_proof_of_a_read_and_the_rollout_outlasts_rbac_propagation():
    program = build()
    (container,) = pod_template(program)["spec"]["containers"]
    assert container["ports"] == [{"name": "health", "containerPort": 8080}]
    # Readiness is checked often, so a rollout ends soon after the first read; liveness gives the app time to start.
    assert container["readinessProbe"] == {
        "httpGet": {"path": "/readyz", "port": "health"},
        "periodSeconds": 5,
        "failureThreshold": 3,
    }
    assert container["livenessProbe"] == {
        "httpGet": {"path": "/livez", "port": "health"},
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
        "failureThreshold": 3,
    }
    deployment = program.one(DEPLOYMENT)
    assert deployment.inputs["spec"]["progressDeadlineSeconds"] == ROLLOUT_SECONDS > facts.RBAC_PROPAGATION_SECONDS
    # `pulumi up` waits on a create and on an update alike as long as the rollout may take, and no longer.
    assert deployment.custom_timeouts == {
        "create": f"{ROLLOUT_SECONDS}s",
        "update": f"{ROLLOUT_SECONDS}s",
        "delete": "",
    }


@pytest.mark.parametrize(("given", "declared"), [({}, 1), ({"replicas": 1}, 1), ({"replicas": 2}, 2)])
def test_replicas_come_from_args_and_default_to_one(given, declared):
    assert build(**given).one(DEPLOYMENT).inputs["spec"]["replicas"] == declared


@pytest.mark.parametrize("replicas", [0, -1])
def test_replicas_below_one_are_refused(replicas):
    with pytest.raises(ValueError) as refused:
        build(replicas=replicas)
    assert str(refused.value) == f"replicas {replicas}: must be at least 1"


def test_the_deployment_is_the_components_child_selects_its_own_pods_and_is_its_output(registered):
    program = build()
    component = program.one("wi:index:WorkloadPod")
    deployment = program.one(DEPLOYMENT)
    assert component.name == "w"
    assert (deployment.name, deployment.parent) == ("w-deployment", component.urn)
    selector = {"app.kubernetes.io/name": "w", "app.kubernetes.io/instance": "w"}
    assert deployment.inputs["metadata"] == {"namespace": "apps", "labels": selector}
    assert deployment.inputs["spec"]["selector"] == {"matchLabels": selector}
    assert registered["WorkloadPod"] == {
        "deployment_name": deployment.outputs["metadata"]["name"],
        "namespace": "apps",
    }


def test_the_kubernetes_provider_passed_in_opts_declares_the_deployment_and_its_policy():
    """With a `depends_on` of one resource (not a list) beside it: the pods still wait for it, and only they."""

    def program():
        grant = random.RandomString("acr-pull", length=4)
        provider = k8s.Provider("cluster", kubeconfig="{}")
        args = WorkloadPodArgs(namespace="apps", service_account_name="reader", image=IMAGE, network_policy=True)
        WorkloadPod("w", args, opts=pulumi.ResourceOptions(providers=[provider], depends_on=grant))

    declared = run(program)
    provider = declared.one(K8S_PROVIDER)
    grant = next(r for r in declared.resources if r.name == "acr-pull")
    deployment, policy = declared.one(DEPLOYMENT), declared.one(NETWORK_POLICY)
    assert deployment.provider == policy.provider == f"{provider.urn}::{provider.id}"
    assert deployment.dependencies == [grant.urn]
    assert policy.dependencies == declared.one("wi:index:WorkloadPod").dependencies == []


def test_no_network_policy_unless_asked():
    assert build().of_type(NETWORK_POLICY) == []


def test_egress_policy_allows_dns_public_https_and_the_private_endpoints_only():
    program = build(network_policy=True, private_endpoint_cidrs=["10.240.8.0/24"])
    registration = program.one(NETWORK_POLICY)
    policy = registration.inputs
    assert (registration.name, registration.parent) == ("w-egress", program.one("wi:index:WorkloadPod").urn)
    assert policy["metadata"] == {"name": "w-egress", "namespace": "apps"}
    # Exactly the Deployment's own pods: the selector it matches them by.
    assert policy["spec"]["podSelector"] == program.one(DEPLOYMENT).inputs["spec"]["selector"]
    assert policy["spec"]["policyTypes"] == ["Egress"]
    dns, public, private = policy["spec"]["egress"]
    assert dns == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            },
            # AKS LocalDNS's two node-local addresses, each alone (facts: LOCAL_DNS_ADDRESSES).
            {"ipBlock": {"cidr": "169.254.10.10/32"}},
            {"ipBlock": {"cidr": "169.254.10.11/32"}},
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    assert public["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(facts.NON_PUBLIC_RANGES)}}]
    assert "169.254.0.0/16" in public["to"][0]["ipBlock"]["except"]  # IMDS, the node's identity
    assert private["to"] == [{"ipBlock": {"cidr": "10.240.8.0/24"}}]
    assert public["ports"] == private["ports"] == [{"protocol": "TCP", "port": 443}]


def test_egress_reaches_each_private_range_given_and_no_private_range_without_one():
    ranges = ["10.240.8.0/24", "10.241.0.0/28"]
    *_, private = build(network_policy=True, private_endpoint_cidrs=ranges).one(NETWORK_POLICY).inputs["spec"]["egress"]
    assert private == {
        "to": [{"ipBlock": {"cidr": "10.240.8.0/24"}}, {"ipBlock": {"cidr": "10.241.0.0/28"}}],
        "ports": [{"protocol": "TCP", "port": facts.HTTPS_PORT}],
    }
    # Without private ranges: DNS and public HTTPS only, no third rule.
    _dns, public = build(network_policy=True).one(NETWORK_POLICY).inputs["spec"]["egress"]
    assert [peer["ipBlock"]["cidr"] for peer in public["to"]] == ["0.0.0.0/0"]


def test_namespace_is_restricted_and_denies_all_traffic_until_a_workload_allows_some(registered):
    program = run(lambda: WorkloadNamespace("ns", WorkloadNamespaceArgs(name="apps")))
    component = program.one("wi:index:WorkloadNamespace")
    namespace = program.one(NAMESPACE)
    assert namespace.inputs["metadata"] == {"name": "apps", "labels": {facts.POD_SECURITY_ENFORCE_LABEL: "restricted"}}
    deny = program.one(NETWORK_POLICY)
    assert deny.inputs["metadata"] == {"name": "default-deny", "namespace": "apps"}
    assert deny.inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert component.name == "ns"
    assert [(r.name, r.parent) for r in (namespace, deny)] == [
        ("ns-namespace", component.urn),
        ("ns-default-deny", component.urn),
    ]
    assert registered["WorkloadNamespace"] == {"name": "apps"}
    open_namespace = run(lambda: WorkloadNamespace("ns", WorkloadNamespaceArgs(name="apps", network_policy=False)))
    assert open_namespace.of_type(NETWORK_POLICY) == []


def test_the_kubernetes_provider_passed_in_opts_declares_the_namespace_and_its_policy():
    def program():
        provider = k8s.Provider("cluster", kubeconfig="{}")
        WorkloadNamespace("ns", WorkloadNamespaceArgs(name="apps"), opts=pulumi.ResourceOptions(providers=[provider]))

    declared = run(program)
    provider = declared.one(K8S_PROVIDER)
    assert declared.one(NAMESPACE).provider == declared.one(NETWORK_POLICY).provider == f"{provider.urn}::{provider.id}"


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
    workload = program.one("wi:index:Workload").urn
    parts = ("wi:index:FederatedIdentity", "wi:index:SecretVault", "wi:index:WorkloadPod")
    assert {t: program.one(t).parent for t in parts} == dict.fromkeys(parts, workload)
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
    args = WorkloadPodArgs(namespace="apps", service_account_name="reader", image=IMAGE, network_policy=True)
    program, grant = waits_for_a_grant(lambda opts: WorkloadPod("w", args, opts=opts))
    assert grant.urn in program.one(DEPLOYMENT).dependencies
    others = [r for r in program.resources if r.type != DEPLOYMENT and r is not grant]
    assert {r.type for r in others} == {"wi:index:WorkloadPod", NETWORK_POLICY}
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


# --- secrets as files (Secrets Store CSI driver) -----------------------------------------------------------------

SPC = f"kubernetes:{facts.SECRET_PROVIDER_CLASS_API_VERSION}:{facts.SECRET_PROVIDER_CLASS_KIND}"


def test_a_files_workload_mounts_its_own_class_read_only_and_its_pods_wait_for_it():
    args = orders_args(delivery="files", files={"mount_path": "/etc/orders"}, env={"SECRET_FILE": "/etc/orders/x"})
    program = run(lambda: Workload("orders", args))
    spc = program.one(SPC)
    identity = program.one("azure-native:managedidentity:UserAssignedIdentity").outputs
    vault = program.one("azure-native:keyvault:Vault").outputs
    assert spc.inputs["metadata"] == {"name": "orders-files", "namespace": "orders"}
    assert spc.inputs["spec"]["provider"] == "azure"
    parameters = spc.inputs["spec"]["parameters"]
    assert parameters == {
        "usePodIdentity": "false",
        "clientID": identity["clientId"],
        "keyvaultName": vault["name"],
        "tenantID": identity["tenantId"],
        "objects": "array:\n  - |\n    objectName: db-password\n    objectType: secret\n",
    }
    assert "secretObjects" not in spc.inputs["spec"]  # nothing copied into etcd unless asked
    spec = pod_template(program)["spec"]
    (container,) = spec["containers"]
    assert {"name": "secrets-store", "mountPath": "/etc/orders", "readOnly": True} in container["volumeMounts"]
    assert {
        "name": "secrets-store",
        "csi": {
            "driver": "secrets-store.csi.k8s.io",
            "readOnly": True,
            "volumeAttributes": {"secretProviderClass": "orders-files"},
        },
    } in spec["volumes"]
    # Files only: no vault URL for an app that does not read the vault itself; the pod stays restricted.
    assert container_env(program) == {"SECRET_FILE": "/etc/orders/x"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spc.urn in program.one(DEPLOYMENT).dependencies


def test_pinned_versions_and_the_kubernetes_secret_copy_are_in_the_class_only_when_asked():
    version = "0123456789abcdef0123456789abcdef"
    files = {"versions": {"db-password": version}, "sync_to_kubernetes_secret": True}
    args = orders_args(delivery="both", files=files, secrets=[{"name": "db-password"}, {"name": "api-key"}])
    program = run(lambda: Workload("orders", args))
    spec = program.one(SPC).inputs["spec"]
    objects = [yaml.safe_load(item) for item in yaml.safe_load(spec["parameters"]["objects"])["array"]]
    assert objects == [
        {"objectName": "db-password", "objectType": "secret", "objectVersion": version},
        {"objectName": "api-key", "objectType": "secret"},
    ]
    assert spec["secretObjects"] == [
        {
            "secretName": "orders-files-synced",
            "type": "Opaque",
            "data": [{"objectName": "db-password", "key": "db-password"}, {"objectName": "api-key", "key": "api-key"}],
        }
    ]
    # Both: the app may also read the vault itself, and the mount is at the default path.
    assert "KEY_VAULT_URL" in container_env(program)
    (container,) = pod_template(program)["spec"]["containers"]
    assert {"name": "secrets-store", "mountPath": "/mnt/secrets", "readOnly": True} in container["volumeMounts"]


def test_what_a_workload_says_of_its_image_is_what_its_pods_run():
    """Port and probe paths, command and args, replicas: given to the workload, they reach its Deployment."""
    args = orders_args(
        probes=Probes(port=9000, readiness_path="/ready", liveness_path="/health"),
        command=["/app/serve"],
        args=["--verbose"],
        replicas=2,
    )
    program = run(lambda: Workload("orders", args))
    (container,) = pod_template(program)["spec"]["containers"]
    assert (container["command"], container["args"]) == (["/app/serve"], ["--verbose"])
    assert container["ports"] == [{"name": "health", "containerPort": 9000}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "health"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "health"}
    assert program.one(DEPLOYMENT).inputs["spec"]["replicas"] == 2


def test_an_sdk_workload_has_no_class_and_no_csi_volume():
    program = run(lambda: Workload("orders", orders_args()))
    assert program.of_type(SPC) == []
    assert [v["name"] for v in pod_template(program)["spec"]["volumes"]] == ["tmp"]


def test_any_image_runs_its_own_command_and_without_probes_is_ready_once_mounted():
    program = build(command=["sh", "-c"], args=["cat /mnt/secrets/x; sleep 3600"], health_probes=False)
    (container,) = pod_template(program)["spec"]["containers"]
    assert (container["command"], container["args"]) == (["sh", "-c"], ["cat /mnt/secrets/x; sleep 3600"])
    assert not {"readinessProbe", "livenessProbe", "ports"} & set(container)
    with_probes = pod_template(build())["spec"]["containers"][0]
    assert {"readinessProbe", "livenessProbe", "ports"} <= set(with_probes)
    assert not {"command", "args"} & set(with_probes)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"delivery": "file"}, "delivery 'file': must be one of sdk, files, both"),
        ({"health_probes": False}, "health_probes False: an sdk workload's readiness is its app's"),
        ({"delivery": "files", "files": {"versions": {"other": "0" * 32}}}, r"versions pin \['other'\]"),
        ({"delivery": "files", "files": {"versions": {"db-password": "v1"}}}, "must be 32 hex digits"),
    ],
)
def test_a_workload_refuses_what_the_driver_could_not_serve_and_declares_nothing(overrides, message):
    refused: list[str] = []

    def program() -> None:
        try:
            Workload("orders", orders_args(**overrides))
        except ValueError as error:
            refused.append(str(error))

    declared = run(program)
    assert len(refused) == 1 and re.search(message, refused[0])
    # Checked before the component registers: no identity, vault or credential left half-declared.
    assert [r.type for r in declared.resources if r.type != "pulumi:pulumi:Stack"] == []


def test_the_class_name_output_carries_the_class_so_what_takes_it_waits_for_it():
    def program() -> None:
        workload = Workload("orders", orders_args(delivery="files"))
        random.RandomString("consumer", length=4, keepers={"class": workload.secret_provider_class})
        pulumi.export("class", workload.secret_provider_class)

    declared = run(program)
    assert declared.exports["class"] == "orders-files"
    consumer = next(r for r in declared.of_type(RANDOM_STRING_TYPE) if r.name == "consumer")
    assert declared.one(SPC).urn in consumer.dependencies
    # The pods' mount takes the same name.
    volumes = pod_template(declared)["spec"]["volumes"]
    assert {"secretProviderClass": "orders-files"} in [v["csi"]["volumeAttributes"] for v in volumes if "csi" in v]


RANDOM_STRING_TYPE = "random:index/randomString:RandomString"


def test_go_durations_read_as_the_driver_reads_them():
    assert [go_duration_seconds(d) for d in ("2m", "90s", "1m30s", "1.5h", "500ms", ".5s")] == [
        120.0,
        90.0,
        90.0,
        5400.0,
        0.5,
        0.5,
    ]
    assert [go_duration_seconds(d) for d in ("2", "2 m", "-2m", "2min", "", "m")] == [None] * 6
