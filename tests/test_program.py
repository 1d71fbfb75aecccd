"""The whole program: what each stack declares, workload by workload, and how the pieces are wired together."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
import yaml
from conftest import (
    BUILD,
    CLUSTER,
    CREDENTIAL,
    DEPLOYMENT,
    IDENTITY,
    K8S_PROVIDER,
    NAMESPACE,
    NETWORK_POLICY,
    RANDOM_STRING,
    REGISTRY,
    ROLE_ASSIGNMENT,
    SECRET,
    SERVICE_ACCOUNT,
    VAULT,
    container_env,
    depends_on,
    named,
    parts,
    pod_template,
    workload_names,
)

from aks_workload_identity import facts
from twin.mocks import PROJECT, PROJECT_DIR, SUBSCRIPTION_ID, run_program

PROJECT_FILES = {stack: PROJECT_DIR / f"Pulumi.{stack}.yaml" for stack in ("dev", "prod", "byo")}
WORKLOADS = "aks-workload-identity:workloads"

#: The Kubernetes version whose API schema the declared objects are checked against.
KUBERNETES_SCHEMA_VERSION = "1.33"

DEV_STACK_TYPES = {
    "azure-native:resources:ResourceGroup": 1,
    "wi:index:ImageRegistry": 1,
    "wi:index:AppImage": 1,
    RANDOM_STRING: 3,
    REGISTRY: 1,
    BUILD: 1,
    "wi:index:AksOidcCluster": 1,
    CLUSTER: 1,
    "azure-native:containerservice:AgentPool": 1,
    "azure-native:containerservice:MaintenanceConfiguration": 2,
    ROLE_ASSIGNMENT: 2,
    K8S_PROVIDER: 1,
    "wi:index:SecretVault": 1,
    VAULT: 1,
    SECRET: 1,
    "random:index/randomPassword:RandomPassword": 1,
    "wi:index:WorkloadNamespace": 1,
    NAMESPACE: 1,
    NETWORK_POLICY: 2,
    "wi:index:Workload": 1,
    "wi:index:FederatedIdentity": 1,
    IDENTITY: 1,
    SERVICE_ACCOUNT: 1,
    CREDENTIAL: 1,
    "wi:index:WorkloadPod": 1,
    DEPLOYMENT: 1,
}


def test_dev_stack_declares_each_resource_once(dev):
    declared: dict[str, int] = {}
    for resource in dev.resources:
        declared[resource.type] = declared.get(resource.type, 0) + 1
    assert declared == DEV_STACK_TYPES


def test_stacks_declare_their_workloads(program):
    expected = {"dev": ["reader"], "prod": ["billing", "orders", "reader"], "byo": ["ledger", "payments"]}
    assert workload_names(program) == expected[program.stack]
    assert sorted(program.exports["workloads"]) == expected[program.stack]


def test_each_credential_trusts_the_cluster_issuer_byte_for_byte_and_its_own_service_account(program):
    issuer = program.exports["oidc_issuer_url"]
    assert issuer.endswith("/")
    for workload in workload_names(program):
        w = parts(program, workload)
        subjects = {
            f"system:serviceaccount:{a.outputs['metadata']['namespace']}:{a.outputs['metadata']['name']}"
            for a in w.accounts
        }
        assert {c.inputs["subject"] for c in w.credentials} == subjects, workload
        for credential in w.credentials:
            assert credential.inputs["issuer"] == issuer
            assert credential.inputs["audiences"] == [facts.TOKEN_AUDIENCE]
            assert credential.inputs["resourceName"] == w.identity.outputs["name"]
            assert credential.inputs["resourceGroupName"] == w.identity.inputs["resourceGroupName"]


def test_dev_federates_the_walkthroughs_service_account(dev):
    (credential,) = dev.of_type(CREDENTIAL)
    assert credential.inputs["subject"] == "system:serviceaccount:wi-demo:wi-demo-sa"


def test_each_service_account_names_its_own_identity(program):
    for workload in workload_names(program):
        w = parts(program, workload)
        for account in w.accounts:
            annotations = account.inputs["metadata"]["annotations"]
            assert annotations[facts.CLIENT_ID_ANNOTATION] == w.identity.outputs["clientId"]
            assert annotations[facts.TENANT_ID_ANNOTATION] == w.identity.outputs["tenantId"]
        assert program.exports["workloads"][workload]["client_id"] == w.identity.outputs["clientId"]


def test_each_pod_template_is_labelled_and_runs_as_its_first_service_account(program):
    configured = yaml.safe_load(PROJECT_FILES[program.stack].read_text())["config"][WORKLOADS]
    for entry in configured:
        w = parts(program, entry["name"])
        template = pod_template(program, w.deployment)
        assert template["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL] == "true"
        assert template["spec"]["serviceAccountName"] == entry["serviceAccounts"][0]
        federated = {(a.outputs["metadata"]["namespace"], a.outputs["metadata"]["name"]) for a in w.accounts}
        assert (w.deployment.inputs["metadata"]["namespace"], entry["serviceAccounts"][0]) in federated


def test_each_workload_reads_its_own_vault(program):
    for workload in workload_names(program):
        w = parts(program, workload)
        env = container_env(program, w.deployment)
        assert env["KEY_VAULT_URL"] == w.vault.outputs["properties"]["vaultUri"]
        assert program.exports["workloads"][workload]["vault_uri"] == env["KEY_VAULT_URL"]


def test_dev_workload_env_is_the_walkthroughs(dev):
    env = container_env(dev)
    assert env == {
        "SECRET_NAME": "Secret",
        "REVEAL_SECRET": "false",
        "HEALTH_PORT": "8080",
        "KEY_VAULT_URL": dev.one(VAULT).outputs["properties"]["vaultUri"],
    }
    assert dev.one(SECRET).inputs["secretName"] == "Secret"


def configured_secrets(stack: str) -> dict[str, set[str]]:
    """Workload name -> the secret names its entry in the stack file lists."""
    workloads = yaml.safe_load(PROJECT_FILES[stack].read_text())["config"][WORKLOADS]
    return {w["name"]: {s["name"] for s in w["secrets"]} for w in workloads}


def test_each_identity_may_read_its_own_secrets_and_nothing_else(program):
    """A vault per workload: Secrets User on that vault, which holds its secrets alone. A shared vault: Secrets User
    on each of its own secrets."""
    secrets = {r.outputs["id"]: r for r in program.of_type(SECRET)}
    for workload, own in configured_secrets(program.stack).items():
        w = parts(program, workload)
        assert w.grants, workload
        for grant in w.grants:
            assert grant.inputs["roleDefinitionId"] == facts.role_definition_id(
                SUBSCRIPTION_ID, facts.KEY_VAULT_SECRETS_USER
            )
            assert grant.inputs["principalType"] == "ServicePrincipal"
        scopes = {g.inputs["scope"] for g in w.grants}
        if w.vault.name == "shared-vault":
            assert {secrets[scope].inputs["secretName"] for scope in scopes} == own, workload
        else:
            assert scopes == {w.vault.outputs["id"]}, workload
            in_vault = {
                s.inputs["secretName"] for s in secrets.values() if s.inputs["vaultName"] == w.vault.outputs["name"]
            }
            assert in_vault == own, workload


def test_no_identity_has_a_grant_on_another_workloads_vault_or_secret(program):
    names = workload_names(program)
    for a in names:
        scopes = {g.inputs["scope"] for g in parts(program, a).grants}
        for b in set(names) - {a}:
            theirs = parts(program, b)
            if theirs.vault.name != "shared-vault":
                assert theirs.vault.outputs["id"] not in scopes, (a, b)
            their_scopes = {g.inputs["scope"] for g in theirs.grants}
            assert not scopes & their_scopes, (a, b)


def test_each_deployment_waits_for_its_own_trust_and_no_other_workloads(program):
    names = workload_names(program)
    for a in names:
        mine = parts(program, a)
        for resource in (*mine.credentials, *mine.grants):
            assert resource.urn in mine.deployment.dependencies, (a, resource.name)
        for b in set(names) - {a}:
            theirs = parts(program, b)
            for resource in (theirs.identity, *theirs.credentials, *theirs.grants, theirs.deployment):
                assert not depends_on(program, mine.deployment, resource), (a, resource.name)


def test_credentials_are_written_one_at_a_time_per_identity_and_in_parallel_across_identities(prod):
    orders = parts(prod, "orders").credentials
    assert len(orders) == 2 and orders[0].urn in orders[1].dependencies
    others = [c for w in ("reader", "billing") for c in parts(prod, w).credentials]
    for credential in orders:
        assert not any(other.urn in credential.dependencies for other in others)


def test_removing_a_workload_changes_no_other_workloads_resources(prod):
    workloads = [
        w for w in yaml.safe_load(PROJECT_FILES["prod"].read_text())["config"][WORKLOADS] if w["name"] != "orders"
    ]
    fewer = run_program({"workloads": json.dumps(workloads)}, stack="prod")
    kept = {r.urn: r.inputs for r in prod.resources if not r.urn.split("::")[-1].startswith("orders")}
    after = {r.urn: r.inputs for r in fewer.resources}
    for urn, inputs in kept.items():
        if "orders" in urn:
            continue
        assert urn in after, urn
        assert after[urn] == inputs or urn.endswith(("::wi-k8s", "::rg")), urn
    assert not [urn for urn in after if urn.split("::")[-1].startswith("orders")]


def test_acr_pull_goes_to_the_kubelet_identity_on_the_registry(program):
    kubelet = kubelet_object_id(program)
    (grant,) = [r for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == kubelet]
    assert grant.inputs["roleDefinitionId"].endswith("/" + facts.ACR_PULL)
    assert grant.inputs["scope"] == program.one(REGISTRY).outputs["id"]
    assert grant.inputs["principalType"] == "ServicePrincipal"
    for workload in workload_names(program):
        assert grant.urn in parts(program, workload).deployment.dependencies


def kubelet_object_id(program) -> str:
    """The kubelet identity: of the created cluster, or as the existing cluster's invoke reported it."""
    clusters = program.of_type(CLUSTER)
    if clusters:
        return clusters[0].outputs["identityProfile"]["kubeletidentity"]["objectId"]
    (read,) = [i for i in program.invokes if i.token.endswith("getManagedCluster")]
    return read.result["identityProfile"]["kubeletidentity"]["objectId"]


def test_each_grant_is_named_by_what_it_grants_so_adding_one_moves_no_other(dev):
    registry = (
        "/subscriptions/"
        + SUBSCRIPTION_ID
        + ("/resourceGroups/shared/providers/Microsoft.ContainerRegistry/registries/SharedImages")
    )
    more = run_program({"pullRegistryIds": json.dumps([registry])})
    before = {r.name: r.inputs["scope"] for r in dev.of_type(ROLE_ASSIGNMENT)}
    after = {r.name: r.inputs["scope"] for r in more.of_type(ROLE_ASSIGNMENT)}
    assert before == {
        "wi-acr-pull-app": dev.one(REGISTRY).outputs["id"],
        "reader-reads-vault": dev.one(VAULT).outputs["id"],
    }
    assert after == {**before, "wi-acr-pull-sharedimages": registry}


@pytest.mark.parametrize("repository", ["secret-reader", "team/apps/secret-reader"])
def test_prebuilt_image_from_a_private_registry_waits_for_acr_pull_on_that_registry(repository):
    registry = (
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/ci/providers/Microsoft.ContainerRegistry/registries/contoso"
    )
    image = f"contoso.azurecr.io/{repository}@sha256:" + "b" * 64
    workloads = [{"name": "reader", "secrets": [{"name": "s"}], "image": {"prebuilt": image}}]
    program = run_program({"workloads": json.dumps(workloads), "pullRegistryIds": json.dumps([registry])})
    assert program.of_type(REGISTRY) == [] and program.of_type(BUILD) == []
    (grant,) = [r for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == kubelet_object_id(program)]
    assert (grant.inputs["scope"], grant.inputs["roleDefinitionId"]) == (
        registry,
        facts.role_definition_id(SUBSCRIPTION_ID, facts.ACR_PULL),
    )
    assert grant.urn in program.one(DEPLOYMENT).dependencies
    assert pod_template(program)["spec"]["containers"][0]["image"] == image


def test_a_public_prebuilt_image_needs_no_grant():
    image = "mcr.microsoft.com/azure-cli@sha256:" + "c" * 64
    workloads = [{"name": "cli", "secrets": [{"name": "s"}], "image": {"prebuilt": image}}]
    program = run_program({"workloads": json.dumps(workloads)})
    assert not any(r.inputs["roleDefinitionId"].endswith(facts.ACR_PULL) for r in program.of_type(ROLE_ASSIGNMENT))


def test_workloads_run_the_built_image_by_the_digest_the_build_printed(program):
    build = named(program, BUILD, "secret-reader-build")
    image = f"{program.one(REGISTRY).outputs['loginServer']}/secret-reader@{build.outputs['stdout'].strip()}"
    assert re.fullmatch(r"[a-z0-9.]+/secret-reader@sha256:[0-9a-f]{64}", image)
    for workload in workload_names(program):
        assert pod_template(program, parts(program, workload).deployment)["spec"]["containers"][0]["image"] == image
    assert ":latest" not in build.inputs["environment"]["IMAGE"]


def test_one_registry_and_one_build_per_image_however_many_workloads(prod):
    assert len(prod.of_type(REGISTRY)) == 1
    assert [b.name for b in prod.of_type(BUILD) if b.name.endswith("-build")] == ["secret-reader-build"]


def _reader(image: dict) -> dict:
    return {"name": "reader", "secrets": [{"name": "s"}], "image": image}


def test_a_workload_built_locally_runs_the_pushed_image_by_digest():
    """`builder: local`, for subscriptions without ACR Tasks: Docker here builds, the registry holds the image."""
    program = run_program({"workloads": json.dumps([_reader({"build": "app", "builder": "local"})])})
    assert [b.name for b in program.of_type(BUILD) if b.name.endswith("-build")] == []
    (image,) = program.of_type("docker-build:index:Image")
    login_server = program.one(REGISTRY).outputs["loginServer"]
    expected = f"{login_server}/reader@{image.outputs['digest']}"
    assert pod_template(program)["spec"]["containers"][0]["image"] == expected
    assert image.inputs["tags"][0].startswith(f"{login_server}/reader:")


def test_two_repositories_built_locally_share_one_acr_push_grant_on_the_registry():
    """ARM allows one assignment per principal, role and scope: a grant per image would be refused the second time,
    and removing one image would take away the grant the other needs."""
    other = {**_reader({"build": "app", "repository": "team/billing", "builder": "local"}), "name": "billing"}
    other |= {"namespace": "billing"}
    program = run_program({"workloads": json.dumps([_reader({"build": "app", "builder": "local"}), other])})
    push = [g for g in program.of_type(ROLE_ASSIGNMENT) if g.inputs["roleDefinitionId"].endswith(facts.ACR_PUSH)]
    (grant,) = push
    registry = program.one("wi:index:ImageRegistry")
    assert (grant.name, grant.parent, grant.inputs["scope"]) == (
        "app-deployer-push",
        registry.urn,
        program.one(REGISTRY).outputs["id"],
    )
    images = program.of_type("docker-build:index:Image")
    assert sorted(i.name for i in images) == ["reader-build", "team-billing-build"]
    for image in images:
        assert grant.urn in image.dependencies, image.name
    # The grant the first local image used to declare for itself is the one kept (no second assignment).
    assert grant.aliases[0] == (
        {
            "urn": f"urn:pulumi:dev::{PROJECT}::wi:index:AppImage$azure-native:authorization:RoleAssignment::"
            "reader-deployer-push"
        }
    )


@pytest.mark.parametrize(
    ("workloads", "problem"),
    [
        (
            [_reader({"build": "app", "builder": "docker"})],
            "aks-workload-identity:workloads[0].image.builder = 'docker': must be acr (az acr build, in the "
            "registry) or local (Docker on the deploying machine, for subscriptions without ACR Tasks)",
        ),
        (
            [_reader({"prebuilt": "mcr.microsoft.com/azure-cli@sha256:" + "c" * 64, "builder": "local"})],
            "aks-workload-identity:workloads[0].image.builder = 'local': must be absent with prebuilt: a prebuilt "
            "image is not built here",
        ),
        (
            [
                _reader({"build": "app", "repository": "shared"}),
                {**_reader({"build": "app", "repository": "shared", "builder": "local"}), "name": "other"},
            ],
            "aks-workload-identity:workloads[1].image.builder = 'local': must be acr like workloads[0], which builds "
            "the same image (app as shared)",
        ),
    ],
)
def test_image_builder_settings_are_refused_by_key_value_and_rule(workloads, problem):
    with pytest.raises(Exception, match="invalid stack settings") as failure:
        run_program({"workloads": json.dumps(workloads)})
    assert f"  - {problem}" in str(failure.value).splitlines()


def test_vaults_use_rbac_and_registry_admin_and_anonymous_pull_are_off(program):
    for vault in program.of_type(VAULT):
        assert vault.inputs["properties"]["enableRbacAuthorization"] is True
        assert vault.inputs["properties"]["accessPolicies"] == []
    registry = program.one(REGISTRY).inputs
    assert (registry["adminUserEnabled"], registry["anonymousPullEnabled"]) == (False, False)


def test_dev_vault_can_be_purged_after_destroy(dev):
    vault = dev.one(VAULT).inputs["properties"]
    assert "enablePurgeProtection" not in vault
    assert vault["softDeleteRetentionInDays"] == 7


def test_destroy_and_renames_never_delete_a_secret_through_the_data_plane(program):
    """azure-native deletes a Secret through Key Vault's data plane (facts: Key Vault secret delete), which the
    deployer may not reach: secrets are left to go with their vault."""
    for secret in program.of_type(SECRET):
        assert secret.retain_on_delete is True
    assert not any(vault.retain_on_delete for vault in program.of_type(VAULT))


def test_a_secret_from_config_is_registered_secret_and_appears_in_no_output():
    value = "correct-horse-battery-staple"
    workloads = [
        {"name": "orders", "secrets": [{"name": "db-password", "valueFrom": "ordersDb"}], "image": {"build": "app"}}
    ]
    program = run_program({"workloads": json.dumps(workloads), "ordersDb": value})
    secret = program.one(SECRET)
    assert secret.inputs["properties"] == {"value": value, "contentType": "text/plain"}
    assert "properties" in secret.secret_inputs
    assert program.of_type("random:index/randomPassword:RandomPassword") == []
    assert value not in repr(program.exports)
    others = [r for r in program.resources if r is not secret]
    assert all(value not in repr(r.inputs) and value not in repr(r.outputs) for r in others)


def test_generated_secret_values_are_registered_secret(program):
    for secret in program.of_type(SECRET):
        assert secret.inputs["properties"]["value"]
        assert "properties" in secret.secret_inputs
        assert secret.inputs["properties"]["value"] not in repr(program.exports)


def test_exports_give_what_a_user_needs_and_no_credential(program):
    assert set(program.exports) == {"resource_group", "cluster_name", "oidc_issuer_url", "workloads"}
    assert program.secret_exports == []
    assert "mock-user-token" not in repr(program.exports)
    for workload, exported in program.exports["workloads"].items():
        w = parts(program, workload)
        assert set(exported) == {"client_id", "vault_uri", "namespace", "service_account", "logs_command"}
        deployment = w.deployment.outputs["metadata"]
        assert exported["logs_command"].endswith(
            f"kubectl logs -f -n {deployment['namespace']} deploy/{deployment['name']}"
        )


def test_every_child_has_its_component_as_parent(program):
    components = {r.urn: r for r in program.resources if r.type.startswith("wi:index:")}
    stack_children = {r.type for r in program.resources if r.parent not in components}
    assert "azure-native:resources:ResourceGroup" in stack_children
    assert stack_children <= {"azure-native:resources:ResourceGroup", *(r.type for r in components.values())}
    for resource in program.resources:
        if resource.parent in components:
            component = components[resource.parent]
            assert resource.name == component.name or resource.name.startswith(component.name + "-"), (
                resource.name,
                component.name,
            )


@pytest.mark.parametrize("type_", [NAMESPACE, SERVICE_ACCOUNT, DEPLOYMENT, NETWORK_POLICY])
def test_kubernetes_objects_are_valid_manifests_for_the_api_server(program, type_):
    import kubernetes_validate

    for resource in program.of_type(type_):
        kubernetes_validate.validate(resource.outputs, KUBERNETES_SCHEMA_VERSION, strict=True)


#: A Kubernetes quantity (apimachinery's resource.Quantity): a number, then a binary or decimal SI suffix or an
#: exponent.
QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][+-]?[0-9]+)?$"
)
QUANTITY_SUFFIXES = {
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate(("k", "M", "G", "T", "P", "E"))},
    "m": Decimal("0.001"),
    None: Decimal(1),
}


def quantity(value: str | int) -> Decimal:
    """A quantity's amount, as the API server reads it (cores for CPU, bytes for memory)."""
    match = QUANTITY.match(str(value))
    assert match, f"{value!r} is not a Kubernetes quantity"
    suffix = match["suffix"]
    if suffix and suffix[0] in "eE":
        return Decimal(match["number"]) * Decimal(10) ** int(suffix[1:])
    return Decimal(match["number"]) * QUANTITY_SUFFIXES[suffix]


def test_every_pod_template_holds_together(program):
    """What no schema checks: each mount names a volume, each probe a port of its container, each quantity parses,
    no request exceeds its limit, and none asks for more CPU than the smallest node a stack may have."""
    for deployment in program.of_type(DEPLOYMENT):
        spec = pod_template(program, deployment)["spec"]
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for volume in volumes.values():
            if "sizeLimit" in volume.get("emptyDir", {}):
                quantity(volume["emptyDir"]["sizeLimit"])
        for container in spec["containers"]:
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, (deployment.name, mount)
            ports = {port.get("name"): port["containerPort"] for port in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe in container:
                    port = container[probe]["httpGet"]["port"]
                    assert port in ports or port in ports.values(), (deployment.name, probe, port)
            requests, limits = container["resources"].get("requests", {}), container["resources"].get("limits", {})
            for resource, amount in requests.items():
                if resource in limits:
                    assert quantity(amount) <= quantity(limits[resource]), (deployment.name, resource)
            for amount in limits.values():
                quantity(amount)
            for cpu in (requests.get("cpu"), limits.get("cpu")):
                if cpu is not None:
                    assert quantity(cpu) <= facts.SYSTEM_POOL_MIN_VCPUS, (deployment.name, cpu)


def test_kubernetes_objects_use_the_cluster_provider(program):
    provider = program.one(K8S_PROVIDER)
    for type_ in (NAMESPACE, SERVICE_ACCOUNT, DEPLOYMENT, NETWORK_POLICY):
        for resource in program.of_type(type_):
            assert resource.provider.startswith(provider.urn + "::"), type_


def test_independent_work_does_not_wait_for_the_cluster(program):
    clusters = program.of_type(CLUSTER)
    if not clusters:
        return
    cluster = clusters[0]
    for resource in (*program.of_type(REGISTRY), *program.of_type(VAULT), *program.of_type(SECRET)):
        assert not depends_on(program, resource, cluster), resource.name
    for workload in workload_names(program):
        assert not depends_on(program, parts(program, workload).identity, cluster), workload
    assert not depends_on(program, named(program, BUILD, "secret-reader-build"), cluster)
    for type_ in (CREDENTIAL, SERVICE_ACCOUNT, DEPLOYMENT):
        for resource in program.of_type(type_):
            assert depends_on(program, resource, cluster), resource.name


def test_bring_your_own_cluster_creates_none_and_reads_the_existing_one(byo):
    assert byo.of_type(CLUSTER) == [] and byo.of_type("azure-native:containerservice:AgentPool") == []
    (read,) = [i for i in byo.invokes if i.token.endswith("getManagedCluster")]
    assert read.args == {"resourceGroupName": "platform-rg", "resourceName": "platform-aks"}
    assert byo.exports["oidc_issuer_url"] == read.result["oidcIssuerProfile"]["issuerURL"]
    (credentials,) = [i for i in byo.invokes if i.token.endswith("listManagedClusterUserCredentials")]
    assert credentials.args == {"resourceGroupName": "platform-rg", "resourceName": "platform-aks", "format": "exec"}
    assert "az aks get-credentials -g platform-rg -n platform-aks && kubelogin" in str(byo.exports["workloads"])
    # Nothing on the cluster waits for a cluster: trust and rollout only.
    assert not any(r.type == "command:local:Command" and r.name.endswith("await-access") for r in byo.resources)


def test_an_existing_cluster_that_cannot_federate_stops_the_run_before_anything_is_declared(monkeypatch):
    from aks_workload_identity import ClusterNotReady
    from twin import mocks

    answer = mocks.existing_cluster("platform-rg", "platform-aks")
    monkeypatch.setattr(mocks, "existing_cluster", lambda group, name: {**answer, "securityProfile": {}})
    created: list[str] = []
    original = mocks.RecordingMonitor.RegisterResource

    def spy(self, request):
        created.append(request.type)
        return original(self, request)

    monkeypatch.setattr(mocks.RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(ClusterNotReady, match="--enable-workload-identity"):
        run_program(stack="byo")
    assert [t for t in created if t != "pulumi:pulumi:Stack"] == []


#: Resources whose physical name the program gives, and what gives a replacement a new one: a RandomString keeper
#: (pools, registry, vault) or the replaced cluster's id (maintenance windows, the Container Insights association).
EXPLICITLY_NAMED = {
    "azure-native:containerservice:AgentPool": "agentPoolName",
    "azure-native:containerservice:MaintenanceConfiguration": "configName",
    "azure-native:monitor:DataCollectionRuleAssociation": "associationName",
    REGISTRY: "registryName",
    VAULT: "vaultName",
}


def test_every_explicitly_named_resource_is_replaced_create_before_delete(program):
    """azure-native deletes first whenever a name is given (facts: Delete-before-replace): a pool, a registry or a
    vault would be gone before its replacement exists. Each says otherwise, explicitly."""
    named_here = [r for r in program.resources if r.type in EXPLICITLY_NAMED]
    assert {r.type for r in named_here} >= {REGISTRY, VAULT}
    for resource in named_here:
        assert EXPLICITLY_NAMED[resource.type] in resource.inputs, resource.name
        assert resource.delete_before_replace is False, resource.name
