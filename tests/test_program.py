"""The whole program: what the dev stack declares and how the pieces are wired together."""

from __future__ import annotations

import json
import re

import pytest
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
    pod_template,
)

from components import facts
from twin.mocks import SUBSCRIPTION_ID, run_program

#: The Kubernetes version whose API schema the declared objects are checked against.
KUBERNETES_SCHEMA_VERSION = "1.33"

DEV_STACK_TYPES = {
    "azure-native:resources:ResourceGroup": 1,
    "wi:index:AppImage": 1,
    RANDOM_STRING: 2,
    REGISTRY: 1,
    BUILD: 1,
    "wi:index:AksOidcCluster": 1,
    CLUSTER: 1,
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


def test_federated_issuer_is_the_cluster_issuer_byte_for_byte(program):
    issuer = program.one(CLUSTER).outputs["oidcIssuerProfile"]["issuerURL"]
    assert issuer.endswith("/")
    assert program.one(CREDENTIAL).inputs["issuer"] == issuer
    assert program.exports["oidc_issuer_url"] == issuer


def test_federated_subject_is_the_declared_service_account(program):
    account = program.one(SERVICE_ACCOUNT).outputs["metadata"]
    credential = program.one(CREDENTIAL).inputs
    assert credential["subject"] == f"system:serviceaccount:{account['namespace']}:{account['name']}"
    assert credential["subject"] == "system:serviceaccount:wi-demo:wi-demo-sa"
    assert credential["audiences"] == [facts.TOKEN_AUDIENCE]


def test_federated_credential_is_on_the_workload_identity(program):
    (identity,) = [r for r in program.of_type(IDENTITY) if r.name == "workload-identity"]
    credential = program.one(CREDENTIAL).inputs
    assert credential["resourceName"] == identity.outputs["name"]
    assert credential["resourceGroupName"] == identity.inputs["resourceGroupName"]


def test_service_account_names_the_identity_client_and_tenant(program):
    identity = named(program, IDENTITY, "workload-identity").outputs
    annotations = program.one(SERVICE_ACCOUNT).inputs["metadata"]["annotations"]
    assert annotations[facts.CLIENT_ID_ANNOTATION] == identity["clientId"]
    assert annotations[facts.TENANT_ID_ANNOTATION] == identity["tenantId"]
    assert program.exports["identity_client_id"] == identity["clientId"]


def test_pod_template_is_labelled_and_runs_as_the_federated_account(program):
    template = pod_template(program)
    assert template["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL] == "true"
    account = program.one(SERVICE_ACCOUNT).outputs["metadata"]
    assert template["spec"]["serviceAccountName"] == account["name"]
    assert program.one(DEPLOYMENT).inputs["metadata"]["namespace"] == account["namespace"]


def test_workload_reads_the_vault_the_program_declares(program):
    env = container_env(program)
    assert env["KEY_VAULT_URL"] == program.one(VAULT).outputs["properties"]["vaultUri"]
    assert env["SECRET_NAME"] == program.one(SECRET).inputs["secretName"] == "Secret"
    assert env["REVEAL_SECRET"] == "false"
    assert "VERSION_ID" not in env


def test_identity_gets_secrets_user_on_the_vault_only(program):
    principal = named(program, IDENTITY, "workload-identity").outputs["principalId"]
    grants = [r for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == principal]
    assert [(g.name, g.inputs) for g in grants] == [
        (
            "workload-reads-vault",
            {
                "principalId": principal,
                "principalType": "ServicePrincipal",
                "roleDefinitionId": facts.role_definition_id(SUBSCRIPTION_ID, facts.KEY_VAULT_SECRETS_USER),
                "scope": program.one(VAULT).outputs["id"],
            },
        )
    ]


def test_role_scope_secret_assigns_on_the_secret_itself():
    program = run_program({"roleScope": "secret"})
    principal = named(program, IDENTITY, "workload-identity").outputs["principalId"]
    (grant,) = [r for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == principal]
    assert grant.inputs["scope"] == program.one(SECRET).outputs["id"]
    assert grant.inputs["scope"].startswith(program.one(VAULT).outputs["id"] + "/secrets/")
    assert grant.name == "workload-reads-secret-secret"


def test_acr_pull_goes_to_the_kubelet_identity_on_the_registry(program):
    kubelet = program.one(CLUSTER).outputs["identityProfile"]["kubeletidentity"]["objectId"]
    (grant,) = [r for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == kubelet]
    assert grant.inputs["roleDefinitionId"].endswith("/" + facts.ACR_PULL)
    assert grant.inputs["scope"] == program.one(REGISTRY).outputs["id"]
    assert grant.inputs["principalType"] == "ServicePrincipal"
    assert kubelet != program.one(CLUSTER).outputs["identity"]["principalId"]


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
        "workload-reads-vault": dev.one(VAULT).outputs["id"],
    }
    assert after == {**before, "wi-acr-pull-sharedimages": registry}


def test_prebuilt_image_from_a_private_registry_gets_acr_pull_on_it():
    registry = (
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/ci/providers/Microsoft.ContainerRegistry/registries/contoso"
    )
    image = "contoso.azurecr.io/secret-reader@sha256:" + "b" * 64
    program = run_program({"prebuiltImage": image, "pullRegistryIds": json.dumps([registry])})
    kubelet = program.one(CLUSTER).outputs["identityProfile"]["kubeletidentity"]["objectId"]
    (grant,) = [r for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == kubelet]
    assert (grant.inputs["scope"], grant.inputs["roleDefinitionId"]) == (
        registry,
        facts.role_definition_id(SUBSCRIPTION_ID, facts.ACR_PULL),
    )
    assert grant.urn in program.one(DEPLOYMENT).dependencies
    assert pod_template(program)["spec"]["containers"][0]["image"] == image


def test_workload_runs_the_built_image_by_the_digest_the_build_printed(program):
    image = pod_template(program)["spec"]["containers"][0]["image"]
    build = named(program, BUILD, "app-build")
    assert image == f"{program.one(REGISTRY).outputs['loginServer']}/secret-reader@{build.outputs['stdout'].strip()}"
    assert re.fullmatch(r"[a-z0-9.]+/secret-reader@sha256:[0-9a-f]{64}", image)
    assert ":latest" not in build.inputs["environment"]["IMAGE"]
    assert program.exports["image"] == image


def test_prebuilt_image_builds_nothing_and_is_run_as_given():
    image = "contoso.azurecr.io/secret-reader:1.2.3"
    program = run_program({"prebuiltImage": image})
    assert program.of_type(REGISTRY) == [] and program.of_type(BUILD) == []
    assert pod_template(program)["spec"]["containers"][0]["image"] == image
    assert all(not r.inputs["roleDefinitionId"].endswith(facts.ACR_PULL) for r in program.of_type(ROLE_ASSIGNMENT))


def test_vault_uses_rbac_and_registry_admin_and_anonymous_pull_are_off(program):
    vault = program.one(VAULT).inputs["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["accessPolicies"] == []
    registry = program.one(REGISTRY).inputs
    assert (registry["adminUserEnabled"], registry["anonymousPullEnabled"]) == (False, False)


def test_dev_vault_can_be_purged_after_destroy(dev):
    vault = dev.one(VAULT).inputs["properties"]
    assert "enablePurgeProtection" not in vault
    assert vault["softDeleteRetentionInDays"] == 7


def test_destroy_and_renames_never_delete_a_secret_through_the_data_plane(program):
    """azure-native deletes a Secret through Key Vault's data plane (facts: Key Vault secret delete), which the
    deployer may not reach: secrets are left to go with their vault."""
    assert program.one(SECRET).retain_on_delete is True
    assert program.one(VAULT).retain_on_delete is False
    renamed = run_program({"secretName": "Renamed"}, stack=program.stack)
    assert renamed.one(SECRET).inputs["secretName"] == "Renamed"
    assert renamed.one(SECRET).retain_on_delete is True


def test_secret_value_is_registered_secret_and_appears_in_no_output():
    value = "correct-horse-battery-staple"
    program = run_program({"secretValue": value})
    secret = program.one(SECRET)
    assert secret.inputs["properties"] == {"value": value, "contentType": "text/plain"}
    assert "properties" in secret.secret_inputs
    assert value not in repr(program.exports)
    others = [r for r in program.resources if r is not secret]
    assert all(value not in repr(r.inputs) and value not in repr(r.outputs) for r in others)


def test_generated_secret_value_is_registered_secret(program):
    secret = program.one(SECRET)
    assert secret.inputs["properties"]["value"]
    assert "properties" in secret.secret_inputs
    assert secret.inputs["properties"]["value"] not in repr(program.exports)


def test_exports_give_what_a_user_needs_and_no_credential(program):
    assert set(program.exports) == {
        "resource_group",
        "cluster_name",
        "oidc_issuer_url",
        "identity_client_id",
        "vault_uri",
        "secret_name",
        "image",
        "namespace",
        "service_account",
        "logs_command",
    }
    assert program.secret_exports == []
    assert "mock-user-token" not in repr(program.exports)
    deployment = program.one(DEPLOYMENT).outputs["metadata"]["name"]
    assert program.exports["logs_command"].endswith(f"kubectl logs -f -n wi-demo deploy/{deployment}")


def test_every_child_has_its_component_as_parent(program):
    components = {r.urn: r for r in program.resources if r.type.startswith("wi:index:")}
    stack_children = {r.type for r in program.resources if r.parent not in components}
    assert stack_children == {"azure-native:resources:ResourceGroup", *(r.type for r in components.values())}
    for resource in program.resources:
        if resource.parent in components:
            component = components[resource.parent]
            assert resource.name.startswith(component.name + "-"), (resource.name, component.name)


@pytest.mark.parametrize("type_", [NAMESPACE, SERVICE_ACCOUNT, DEPLOYMENT, NETWORK_POLICY])
def test_kubernetes_objects_are_valid_manifests_for_the_api_server(program, type_):
    import kubernetes_validate

    for resource in program.of_type(type_):
        kubernetes_validate.validate(resource.outputs, KUBERNETES_SCHEMA_VERSION, strict=True)


def test_kubernetes_objects_use_the_cluster_provider(program):
    provider = program.one(K8S_PROVIDER)
    for type_ in (NAMESPACE, SERVICE_ACCOUNT, DEPLOYMENT, NETWORK_POLICY):
        for resource in program.of_type(type_):
            assert resource.provider.startswith(provider.urn + "::"), type_


def test_workload_waits_for_its_trust_chain(program):
    deployment = program.one(DEPLOYMENT)
    for resource in (*program.of_type(CREDENTIAL), named(program, BUILD, "app-build")):
        assert resource.urn in deployment.dependencies, resource.name
    workload_grants = [
        r for r in program.of_type(ROLE_ASSIGNMENT) if r.name in ("workload-reads-vault", "wi-acr-pull-app")
    ]
    assert len(workload_grants) == 2
    for grant in workload_grants:
        assert grant.urn in deployment.dependencies, grant.name


def test_independent_work_does_not_wait_for_the_cluster(program):
    cluster = program.one(CLUSTER)
    for type_ in (REGISTRY, VAULT, SECRET):
        assert not depends_on(program, program.one(type_), cluster), type_
    for type_, name in ((BUILD, "app-build"), (IDENTITY, "workload-identity")):
        assert not depends_on(program, named(program, type_, name), cluster), name
    for type_ in (CREDENTIAL, SERVICE_ACCOUNT, DEPLOYMENT):
        assert depends_on(program, program.one(type_), cluster), type_
