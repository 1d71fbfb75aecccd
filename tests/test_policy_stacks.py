"""The policy pack on the project's own stacks: dev, prod and byo pass every policy (the Key Vault API version
advisory aside, which the provider's default version earns on purpose), during `pulumi up` and during a first
preview, when links between resources come from property dependencies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from aks_workload_identity import facts
from tests.policy_args import (
    DEPLOYMENT,
    Row,
    checked,
    container,
    depends,
    of_type,
    only,
    pack_config,
    resource_args,
    rows,
    run,
    stack_args,
    violations,
    wp,
)
from twin.mocks import Program

#: The advisory every stack earns while azure-native manages Key Vault with its default API version.
API_VERSION_ADVISORY = "key-vault-api-version-is-served"


@pytest.mark.parametrize("stack", ["dev", "prod", "byo"])
def test_project_stacks_pass_every_policy(stack: str, request: pytest.FixtureRequest) -> None:
    program: Program = request.getfixturevalue(stack)
    config = pack_config(stack, program)
    has_classes = bool(program.of_type(wp.SECRET_PROVIDER_CLASS))
    reported: dict[str, list[str]] = {}
    for policy in wp.POLICIES:
        if isinstance(policy, ResourceValidationPolicy):
            for row in rows(program, "inputs"):
                found, _ = run(policy.validate, resource_args(row, config))
                reported.setdefault(policy.name, []).extend(found)
        else:
            assert isinstance(policy, StackValidationPolicy)
            found, reason = run(policy.validate, stack_args(rows(program), config))
            reported.setdefault(policy.name, []).extend(found)
            if policy.name == "secret-provider-classes-use-the-pods-identity" and not has_classes:
                assert "declares no SecretProviderClass" in (reason or ""), reason
            else:
                assert reason is None, (policy.name, reason)
    managed = len(program.of_type(wp.VAULT)) + len(program.of_type(wp.SECRET))
    assert len(reported.pop(API_VERSION_ADVISORY)) == managed > 0
    assert {name: found for name, found in reported.items() if found} == {}


def test_prod_is_production_by_its_stack_name(prod: Program, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = only(rows(prod, "inputs"), wp.CLUSTER)
    cluster["props"]["disableLocalAccounts"] = False
    monkeypatch.setenv("PULUMI_STACK", "acme/aks-workload-identity/prod")
    assert violations(checked("production-cluster-disables-local-accounts"), resource_args(cluster))
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert run(checked("production-cluster-disables-local-accounts"), resource_args(cluster))[1] is not None
    assert violations(
        checked("production-cluster-disables-local-accounts"), resource_args(cluster, {"production": True})
    )


def test_dev_cluster_is_not_held_to_production_rules(dev: Program, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_STACK", "dev")
    cluster = only(rows(dev, "inputs"), wp.CLUSTER)
    for validate in (
        checked("production-cluster-disables-local-accounts"),
        checked("production-cluster-uses-entra-rbac"),
        checked("production-csi-driver-rotates-secrets"),
    ):
        found, reason = run(validate, resource_args(cluster))
        assert found == [] and "not a production stack" in (reason or "")


# --- A first preview: the created resources' outputs are unknown, links come from property dependencies ------------


def first_preview(resources: list[Row]) -> None:
    """The dev stack as a first preview sees it: every output of the cluster, the identity, the vault and the
    registry unknown, and each value computed from one of them unknown too, with its property dependency."""
    cluster, identity = only(resources, wp.CLUSTER), only(resources, wp.IDENTITY)
    vault, registry = only(resources, wp.VAULT), only(resources, wp.REGISTRY)
    cluster["props"]["oidcIssuerProfile"]["issuerURL"] = UNKNOWN_STRING_VALUE
    cluster["props"]["identityProfile"] = UNKNOWN_STRING_VALUE
    for key in ("principalId", "clientId", "id", "name"):
        identity["props"][key] = UNKNOWN_STRING_VALUE
    for key in ("id", "name", "vaultName"):
        vault["props"][key] = UNKNOWN_STRING_VALUE
    vault["props"]["properties"]["vaultUri"] = UNKNOWN_STRING_VALUE
    for key in ("id", "name", "registryName", "loginServer"):
        registry["props"][key] = UNKNOWN_STRING_VALUE
    for credential in of_type(resources, wp.FEDERATED_CREDENTIAL):
        credential["props"].update(issuer=UNKNOWN_STRING_VALUE, resourceName=UNKNOWN_STRING_VALUE)
        depends(credential, "issuer", cluster)
        depends(credential, "resourceName", identity)
    for secret in of_type(resources, wp.SECRET):
        secret["props"].update(id=UNKNOWN_STRING_VALUE, vaultName=UNKNOWN_STRING_VALUE)
        depends(secret, "vaultName", vault)
    for assignment in of_type(resources, wp.ROLE_ASSIGNMENT):
        reads = assignment["name"].startswith("reader")
        assignment["props"].update(principalId=UNKNOWN_STRING_VALUE, scope=UNKNOWN_STRING_VALUE)
        depends(assignment, "principalId", identity if reads else cluster)
        depends(assignment, "scope", vault if reads else registry)
    for account in of_type(resources, wp.SERVICE_ACCOUNT):
        account["props"]["metadata"]["annotations"][facts.CLIENT_ID_ANNOTATION] = UNKNOWN_STRING_VALUE
        depends(account, "metadata", identity)
    deployment = only(resources, DEPLOYMENT)
    container(deployment)["image"] = UNKNOWN_STRING_VALUE
    for variable in container(deployment)["env"]:
        if variable["name"] == facts.VAULT_URL_ENV:
            variable["value"] = UNKNOWN_STRING_VALUE
    depends(deployment, "spec", vault, registry)


def test_unknown_value_makes_a_resource_check_not_applicable(dev: Program) -> None:
    row = only(rows(dev, "inputs"), wp.FEDERATED_CREDENTIAL)
    row["props"]["audiences"] = UNKNOWN_STRING_VALUE
    found, reason = run(checked("fic-audience-is-token-exchange"), resource_args(row))
    assert found == [] and "can't be known during preview" in (reason or "")


def test_unknown_issuers_during_preview_are_not_applicable_not_silent(dev: Program) -> None:
    resources = rows(dev)
    first_preview(resources)
    found, reason = run(wp.federated_credential_issuer_is_the_cluster_issuer, stack_args(resources))
    assert found == [] and "pulumi up" in (reason or "")


@pytest.mark.parametrize(
    "validate",
    [
        wp.federated_identity_reads_its_vault,
        wp.pods_read_what_their_identity_may_read,
        wp.images_come_from_pullable_registries,
    ],
)
def test_first_preview_links_the_chain_by_dependency(dev: Program, validate) -> None:
    """Every link these policies follow is unknown in a first preview, and decided by where its value came from."""
    resources = rows(dev)
    first_preview(resources)
    assert run(validate, stack_args(resources)) == ([], None)


def test_first_preview_still_finds_a_grant_to_the_wrong_identity_or_role(dev: Program) -> None:
    resources = rows(dev)
    first_preview(resources)
    for assignment in of_type(resources, wp.ROLE_ASSIGNMENT):
        if assignment["name"].startswith("reader"):
            assignment["props"]["roleDefinitionId"] = assignment["props"]["roleDefinitionId"].replace(
                facts.KEY_VAULT_SECRETS_USER, facts.KEY_VAULT_SECRETS_OFFICER
            )
    assert any(
        "Secrets Officer" in v for v in violations(wp.workload_identity_roles_are_read_only, stack_args(resources))
    )
    assert violations(wp.federated_identity_reads_its_vault, stack_args(resources))


def test_first_preview_pod_computed_from_another_vault_is_undecided_not_passed(dev: Program) -> None:
    resources = rows(dev)
    first_preview(resources)
    deployment = only(resources, DEPLOYMENT)
    depends(deployment, "spec", only(resources, wp.REGISTRY))
    found, reason = run(wp.pods_read_what_their_identity_may_read, stack_args(resources))
    assert found == [] and f"{facts.VAULT_URL_ENV} of container" in (reason or "")


# --- The pack's own description ------------------------------------------------------------------------------------


def test_every_policy_is_documented_with_its_level() -> None:
    readme = (Path(__file__).resolve().parent.parent / "policy" / "README.md").read_text()
    names = [p.name for p in wp.POLICIES]
    assert len(names) == len(set(names))
    for policy in wp.POLICIES:
        level = policy.enforcement_level.value
        assert re.search(rf"\| `{re.escape(policy.name)}` \| [^|]+ \| {level} \|", readme), policy.name


def test_first_preview_image_from_a_registry_without_a_pull_grant_is_undecided_not_passed(dev: Program) -> None:
    resources = rows(dev)
    first_preview(resources)
    for assignment in of_type(resources, wp.ROLE_ASSIGNMENT):
        depends(assignment, "scope", only(resources, wp.VAULT))
    found, reason = run(wp.images_come_from_pullable_registries, stack_args(resources))
    assert found == [] and "the image of container 'reader' is not known yet" in (reason or "")


def test_a_pod_whose_service_account_is_unknown_is_undecided_not_taken_for_the_default(dev: Program) -> None:
    resources = rows(dev)
    deployment = only(resources, DEPLOYMENT)
    deployment["props"]["spec"]["template"]["spec"]["serviceAccountName"] = UNKNOWN_STRING_VALUE
    found, reason = run(wp.pods_read_what_their_identity_may_read, stack_args(resources))
    assert found == [] and "serviceAccountName" in (reason or "")
