"""The policy pack: the project's stacks pass every policy, and each break of the trust chain or the baseline is
reported by the policy that guards it.

The validators are called directly with pulumi-policy's own argument types, built from what the program declares
under the mocks: inputs for resource validations, outputs for stack validations (as the engine passes them), every
property behind pulumi-policy's unknown-checking proxy. The pack itself is never built here (it blocks serving).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from aks_workload_identity import facts
from policy import wi_policies as wp
from twin.mocks import Program

Row = dict[str, Any]
Mutation = Callable[[list[Row]], None]

# --- Adapters: a Program's registrations as pulumi-policy's argument types ----------------------------------------


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def rows(program: Program, of: str = "outputs") -> list[Row]:
    """The program's custom resources as plain, mutable rows (component resources carry no properties)."""
    return [
        {
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "props": copy.deepcopy(getattr(r, of)),
            "dependencies": list(r.dependencies),
            "property_dependencies": {},
        }
        for r in program.resources
        if not r.type.startswith("wi:index:")
    ]


def stack_args(resources: list[Row], config: dict[str, Any] | None = None) -> StackValidationArgs:
    built = {
        row["urn"]: PolicyResource(
            row["type"], unknown_checking_proxy(row["props"]), row["urn"], row["name"], _options(), None, None, [], {}
        )
        for row in resources
    }
    for row in resources:
        resource = built[row["urn"]]
        resource.dependencies = [built[u] for u in row["dependencies"] if u in built]
        resource.property_dependencies = {
            k: [built[u] for u in urns if u in built] for k, urns in row["property_dependencies"].items()
        }
    return StackValidationArgs(list(built.values()), config)


def resource_args(row: Row, config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    props = unknown_checking_proxy(copy.deepcopy(row["props"]))
    return ResourceValidationArgs(row["type"], props, row["urn"], row["name"], _options(), None, config)


def run(validate: Callable, args: ResourceValidationArgs | StackValidationArgs) -> tuple[list[str], str | None]:
    """The violations a validator reports, and its not-applicable reason (None when it applied)."""
    found: list[str] = []
    try:
        validate(args, lambda message, urn=None: found.append(message))
    except _NotApplicableError as not_applicable:
        return found, not_applicable.reason or ""
    return found, None


def violations(validate: Callable, args: ResourceValidationArgs | StackValidationArgs) -> list[str]:
    return run(validate, args)[0]


def only(resources: list[Row], type_: str, name: str | None = None) -> Row:
    (found,) = [r for r in resources if r["type"] == type_ and (name is None or r["name"] == name)]
    return found


def of_type(resources: list[Row], type_: str) -> list[Row]:
    return [r for r in resources if r["type"] == type_]


def _byo_issuer(byo: Program) -> str:
    (cluster,) = [i.result for i in byo.invokes if i.token == "azure-native:containerservice:getManagedCluster"]
    return cluster["oidcIssuerProfile"]["issuerURL"]


#: Each stack's pack config: prod says production; byo trusts the existing cluster's issuer it reads by invoke.
def _config(stack: str, program: Program) -> dict[str, Any]:
    if stack == "prod":
        return {"production": True}
    if stack == "byo":
        return {"trustedIssuers": [_byo_issuer(program)]}
    return {}


# --- The project's own stacks pass ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod", "byo"])
def test_project_stacks_pass_every_policy(stack: str, request: pytest.FixtureRequest) -> None:
    program: Program = request.getfixturevalue(stack)
    config = _config(stack, program)
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
            assert reason is None, (policy.name, reason)
    assert {name: found for name, found in reported.items() if found} == {}


def test_prod_is_production_by_its_stack_name(prod: Program, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = only(rows(prod, "inputs"), wp.CLUSTER)
    cluster["props"]["disableLocalAccounts"] = False
    monkeypatch.setenv("PULUMI_STACK", "acme/aks-workload-identity/prod")
    assert violations(wp.production_cluster_disables_local_accounts, resource_args(cluster))
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert run(wp.production_cluster_disables_local_accounts, resource_args(cluster))[1] is not None
    assert violations(wp.production_cluster_disables_local_accounts, resource_args(cluster, {"production": True}))


def test_dev_cluster_is_not_held_to_production_rules(dev: Program, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_STACK", "dev")
    cluster = only(rows(dev, "inputs"), wp.CLUSTER)
    for validate in (wp.production_cluster_disables_local_accounts, wp.production_cluster_uses_entra_rbac):
        found, reason = run(validate, resource_args(cluster))
        assert found == [] and "not a production stack" in (reason or "")
        assert violations(validate, resource_args(cluster, {"production": True}))


# --- The twin's trust-chain breaks, each reported by the policy that guards it ---------------------------------------


def _each(type_: str, change: Callable[[Row], None]) -> Mutation:
    def mutate(resources: list[Row]) -> None:
        for row in of_type(resources, type_):
            change(row)

    return mutate


def _workload_principal(resources: list[Row]) -> str:
    return only(resources, wp.IDENTITY)["props"]["principalId"]


def _assignments(change: Callable[[list[Row], Row], bool]) -> Mutation:
    """Applies `change` to the workload identity's assignments; one that returns False is dropped."""

    def mutate(resources: list[Row]) -> None:
        principal = _workload_principal(resources)
        for row in [r for r in of_type(resources, wp.ROLE_ASSIGNMENT) if r["props"]["principalId"] == principal]:
            if not change(resources, row):
                resources.remove(row)

    return mutate


def _role(guid: str) -> Mutation:
    def change(_: list[Row], row: Row) -> bool:
        row["props"]["roleDefinitionId"] = row["props"]["roleDefinitionId"].rsplit("/", 1)[0] + "/" + guid
        return True

    return _assignments(change)


def _other_vault(resources: list[Row], row: Row) -> bool:
    row["props"]["scope"] = only(resources, wp.VAULT)["props"]["id"] + "-other"
    return True


def _annotate(key: str, value: Callable[[list[Row]], str]) -> Mutation:
    def mutate(resources: list[Row]) -> None:
        for row in of_type(resources, wp.SERVICE_ACCOUNT):
            row["props"]["metadata"]["annotations"][key] = value(resources)

    return mutate


def _template(change: Callable[[dict[str, Any]], None]) -> Mutation:
    return _each("kubernetes:apps/v1:Deployment", lambda row: change(row["props"]["spec"]["template"]))


def _unlabel(template: dict[str, Any]) -> None:
    del template["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL]


def _label_only_the_account(resources: list[Row]) -> None:
    _template(_unlabel)(resources)
    for row in of_type(resources, wp.SERVICE_ACCOUNT):
        row["props"]["metadata"]["labels"] = {facts.WORKLOAD_IDENTITY_USE_LABEL: "true"}


def _kubelet_client_id(resources: list[Row]) -> str:
    return only(resources, wp.CLUSTER)["props"]["identityProfile"][facts.KUBELET_IDENTITY_KEY]["clientId"]


def _subject(namespace: str, name: str) -> Mutation:
    return _each(
        wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(subject=f"system:serviceaccount:{namespace}:{name}")
    )


def _to_kube_system(resources: list[Row]) -> None:
    for row in of_type(resources, "kubernetes:apps/v1:Deployment"):
        row["props"]["metadata"]["namespace"] = facts.UNMUTATED_NAMESPACE


def _kubelet_role(guid: str) -> Mutation:
    def mutate(resources: list[Row]) -> None:
        for row in of_type(resources, wp.ROLE_ASSIGNMENT):
            if row["props"]["roleDefinitionId"].endswith(facts.ACR_PULL):
                row["props"]["roleDefinitionId"] = row["props"]["roleDefinitionId"].rsplit("/", 1)[0] + "/" + guid

    return mutate


def _pull_by_control_plane(resources: list[Row]) -> None:
    control_plane = only(resources, wp.CLUSTER)["props"]["identity"]["principalId"]
    for row in of_type(resources, wp.ROLE_ASSIGNMENT):
        if row["props"]["roleDefinitionId"].endswith(facts.ACR_PULL):
            row["props"]["principalId"] = control_plane


def _drop_principal_type(resources: list[Row]) -> None:
    for row in of_type(resources, wp.ROLE_ASSIGNMENT):
        row["props"].pop("principalType", None)


def _drop_federation(resources: list[Row]) -> None:
    for row in of_type(resources, wp.FEDERATED_CREDENTIAL):
        resources.remove(row)


#: name: (policy, mutation of the dev stack's outputs, what the message must say)
STACK_BREAKS: dict[str, tuple[Callable, Mutation, str]] = {
    "issuer without its trailing slash": (
        wp.federated_credential_issuer_is_the_cluster_issuer,
        _each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer=r["props"]["issuer"].rstrip("/"))),
        r"trailing slash",
    ),
    "issuer in another case": (
        wp.federated_credential_issuer_is_the_cluster_issuer,
        _each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer=r["props"]["issuer"].upper())),
        r"in case",
    ),
    "issuer of another cluster": (
        wp.federated_credential_issuer_is_the_cluster_issuer,
        _each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer="https://example.com/other/")),
        r"not the OIDC issuer of any cluster",
    ),
    "subject in another namespace": (
        wp.federated_credential_subject_is_a_declared_service_account,
        _subject("default", "wi-demo-sa"),
        r"names no ServiceAccount this stack declares",
    ),
    "subject of another service account": (
        wp.federated_credential_subject_is_a_declared_service_account,
        _subject("wi-demo", "other-sa"),
        r"'system:serviceaccount:wi-demo:other-sa'",
    ),
    "client-id annotation of another identity (the kubelet's)": (
        wp.service_account_client_id_is_a_federated_identity,
        _annotate(facts.CLIENT_ID_ANNOTATION, _kubelet_client_id),
        r"kubelet identity, which has no federated credential",
    ),
    "client-id annotation of no identity": (
        wp.service_account_client_id_is_a_federated_identity,
        _annotate(facts.CLIENT_ID_ANNOTATION, lambda _: "00000000-0000-0000-0000-000000000000"),
        r"no user-assigned identity this stack declares",
    ),
    "tenant-id annotation of another tenant": (
        wp.service_account_client_id_is_a_federated_identity,
        _annotate(facts.TENANT_ID_ANNOTATION, lambda _: "11111111-1111-1111-1111-111111111111"),
        r"lives in tenant",
    ),
    "identity without a federated credential for its service account": (
        wp.service_account_client_id_is_a_federated_identity,
        _drop_federation,
        r"has no federated credential for 'system:serviceaccount:wi-demo:wi-demo-sa'",
    ),
    "pod template without the use label": (
        wp.federated_pods_carry_the_use_label,
        _template(_unlabel),
        r"lacks the label azure.workload.identity/use",
    ),
    "use label on the service account only": (
        wp.federated_pods_carry_the_use_label,
        _label_only_the_account,
        r"label on the ServiceAccount does nothing",
    ),
    "use label with a value other than the string true": (
        wp.federated_pods_carry_the_use_label,
        _template(lambda t: t["metadata"]["labels"].update({facts.WORKLOAD_IDENTITY_USE_LABEL: "True"})),
        r"lacks the label",
    ),
    "pod running as another service account": (
        wp.labelled_pods_run_as_federated_service_accounts,
        _template(lambda t: t["spec"].update(serviceAccountName="default")),
        r"'wi-demo/default', which this stack does not declare",
    ),
    "service account without the client-id annotation": (
        wp.labelled_pods_run_as_federated_service_accounts,
        _each(wp.SERVICE_ACCOUNT, lambda r: r["props"]["metadata"]["annotations"].clear()),
        r"has no azure.workload.identity/client-id annotation",
    ),
    "labelled pod in kube-system": (
        wp.labelled_pods_run_as_federated_service_accounts,
        _to_kube_system,
        r"never mutates",
    ),
    "role assignment missing": (
        wp.federated_identity_reads_its_vault,
        _assignments(lambda resources, row: False),
        r"holds no role",
    ),
    "role assignment on another vault": (
        wp.federated_identity_reads_its_vault,
        _assignments(_other_vault),
        r"cannot read a secret of this stack's vaults",
    ),
    "role without read rights (Key Vault Reader)": (
        wp.federated_identity_reads_its_vault,
        _role(facts.KEY_VAULT_READER),
        r"holds Key Vault Reader",
    ),
    "workload identity given Secrets Officer": (
        wp.workload_identity_roles_are_read_only,
        _role(facts.KEY_VAULT_SECRETS_OFFICER),
        r"gives Key Vault Secrets Officer to the workload identity",
    ),
    "workload identity given Key Vault Administrator": (
        wp.workload_identity_roles_are_read_only,
        _role(facts.KEY_VAULT_ADMINISTRATOR),
        r"gives Key Vault Administrator",
    ),
    "workload identity given Owner": (wp.workload_identity_roles_are_read_only, _role(wp.OWNER), r"gives Owner"),
    "kubelet given Contributor instead of AcrPull": (
        wp.workload_identity_roles_are_read_only,
        _kubelet_role(wp.CONTRIBUTOR),
        r"gives Contributor to the kubelet identity",
    ),
    "workload identity given User Access Administrator": (
        wp.workload_identity_roles_are_read_only,
        _role(wp.USER_ACCESS_ADMINISTRATOR),
        r"gives User Access Administrator",
    ),
    "AcrPull given to the control plane": (
        wp.registry_pull_is_granted_to_the_kubelet,
        _pull_by_control_plane,
        r"control-plane identity",
    ),
    "role assignments without principalType": (
        wp.workload_role_assignments_name_service_principals,
        _drop_principal_type,
        r"does not set principalType 'ServicePrincipal'",
    ),
}


@pytest.mark.parametrize(("validate", "mutate", "message"), STACK_BREAKS.values(), ids=STACK_BREAKS.keys())
def test_each_broken_link_is_reported_by_its_stack_policy(
    dev: Program, validate: Callable, mutate: Mutation, message: str
) -> None:
    resources = rows(dev)
    assert violations(validate, stack_args(resources)) == []
    mutate(resources)
    found = violations(validate, stack_args(resources))
    assert any(re.search(message, f) for f in found), found


def _inputs(dev: Program, type_: str) -> Row:
    (row,) = [r for r in rows(dev, "inputs") if r["type"] == type_]
    return row


def _deployment(change: Callable[[dict[str, Any]], None]) -> Callable[[Row], None]:
    return lambda row: change(row["props"]["spec"]["template"]["spec"]["containers"][0])


def _env(name: str, value: str) -> Callable[[Row], None]:
    return _deployment(lambda c: c["env"].append({"name": name, "value": value}))


_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl"

#: name: (policy, resource type in the dev stack, mutation of its inputs, what the message must say)
RESOURCE_BREAKS: dict[str, tuple[Callable, str, Callable[[Row], None], str]] = {
    "audience of another cloud": (
        wp.federated_credential_audience_is_token_exchange,
        wp.FEDERATED_CREDENTIAL,
        lambda r: r["props"].update(audiences=["api://AzureADTokenExchangeChina"]),
        r"set audiences to exactly \['api://AzureADTokenExchange'\]",
    ),
    "a second audience": (
        wp.federated_credential_audience_is_token_exchange,
        wp.FEDERATED_CREDENTIAL,
        lambda r: r["props"]["audiences"].append("api://other"),
        r"AADSTS70021",
    ),
    "subject not in the service-account form": (
        wp.federated_credential_subject_is_a_service_account,
        wp.FEDERATED_CREDENTIAL,
        lambda r: r["props"].update(subject="system:serviceaccount:wi-demo/wi-demo-sa"),
        r"system:serviceaccount:<namespace>:<service account>",
    ),
    "vault on the access-policy model": (
        wp.key_vault_uses_rbac,
        wp.VAULT,
        lambda r: r["props"]["properties"].update(enableRbacAuthorization=False),
        r"enableRbacAuthorization to true",
    ),
    "vault relying on the provider's default model": (
        wp.key_vault_uses_rbac,
        wp.VAULT,
        lambda r: r["props"]["properties"].pop("enableRbacAuthorization"),
        r"not on the RBAC permission model",
    ),
    "vault with access policies": (
        wp.key_vault_uses_rbac,
        wp.VAULT,
        lambda r: r["props"]["properties"].update(accessPolicies=[{"objectId": "x", "permissions": {}}]),
        r"declares 1 access policies",
    ),
    "registry admin user on": (
        wp.registry_admin_user_disabled,
        "azure-native:containerregistry:Registry",
        lambda r: r["props"].update(adminUserEnabled=True),
        r"adminUserEnabled to false",
    ),
    "registry anonymous pull on": (
        wp.registry_anonymous_pull_disabled,
        "azure-native:containerregistry:Registry",
        lambda r: r["props"].update(anonymousPullEnabled=True),
        r"anonymousPullEnabled to false",
    ),
    "image tagged latest": (
        wp.images_are_pinned,
        "kubernetes:apps/v1:Deployment",
        _deployment(lambda c: c.update(image="myregistry.azurecr.io/secret-reader:latest")),
        r"tagged latest",
    ),
    "image without tag or digest": (
        wp.images_are_pinned,
        "kubernetes:apps/v1:Deployment",
        _deployment(lambda c: c.update(image="localhost:5000/secret-reader")),
        r"without a tag or digest",
    ),
    "cluster without OIDC issuer": (
        wp.cluster_oidc_issuer_enabled,
        wp.CLUSTER,
        lambda r: r["props"].update(oidcIssuerProfile={"enabled": False}),
        r"oidcIssuerProfile.enabled to true",
    ),
    "cluster without workload identity": (
        wp.cluster_workload_identity_enabled,
        wp.CLUSTER,
        lambda r: r["props"].pop("securityProfile"),
        r"securityProfile.workloadIdentity.enabled to true",
    ),
    "password literal in the pod's env": (
        wp.pod_env_has_no_secret_literals,
        "kubernetes:apps/v1:Deployment",
        _env("DB_PASSWORD", "hunter2-but-longer"),
        r"sets env DB_PASSWORD to a literal value",
    ),
    "API key literal in camelCase": (
        wp.pod_env_has_no_secret_literals,
        "kubernetes:apps/v1:Deployment",
        _env("apiKey", "k-123456789"),
        r"sets env apiKey",
    ),
    "token under an innocent name": (
        wp.pod_env_has_no_secret_literals,
        "kubernetes:apps/v1:Deployment",
        _env("GREETING", _JWT),
        r"looks like a JSON Web Token",
    ),
    "connection string with a key": (
        wp.pod_env_has_no_secret_literals,
        "kubernetes:apps/v1:Deployment",
        _env("STORAGE", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123=="),
        r"connection string",
    ),
}


@pytest.mark.parametrize(
    ("validate", "type_", "mutate", "message"), RESOURCE_BREAKS.values(), ids=RESOURCE_BREAKS.keys()
)
def test_each_bad_resource_is_reported_by_its_policy(
    dev: Program, validate: Callable, type_: str, mutate: Callable[[Row], None], message: str
) -> None:
    row = _inputs(dev, type_)
    assert violations(validate, resource_args(row)) == []
    mutate(row)
    found = violations(validate, resource_args(row))
    assert any(re.search(message, f) for f in found), found


def test_secret_message_never_repeats_the_value(dev: Program) -> None:
    row = _inputs(dev, "kubernetes:apps/v1:Deployment")
    _env("API_TOKEN", "s3cr3t-value-9f8e7d")(row)
    (message,) = violations(wp.pod_env_has_no_secret_literals, resource_args(row))
    assert "s3cr3t-value-9f8e7d" not in message


def test_names_that_only_point_at_secrets_are_not_secrets(dev: Program) -> None:
    row = _inputs(dev, "kubernetes:apps/v1:Deployment")
    for name, value in [("SECRET_NAME", "db-password"), ("REVEAL_SECRET", "false"), ("TOKEN_FILE", "/var/run/t")]:
        _env(name, value)(row)
    _env("MONKEY_COUNT", "12")(row)
    assert violations(wp.pod_env_has_no_secret_literals, resource_args(row)) == []
    _env("LEGACY_KEY", "abcdef")(row)
    assert violations(wp.pod_env_has_no_secret_literals, resource_args(row, {"allowedNames": ["LEGACY_KEY"]})) == []


def test_a_key_vault_access_policy_resource_is_refused() -> None:
    row = {"type": wp.ACCESS_POLICY, "name": "legacy", "urn": "urn:x", "props": {"policy": {"objectId": "x"}}}
    assert any("delete it" in v for v in violations(wp.key_vault_uses_rbac, resource_args(row)))


def test_production_cluster_with_local_accounts_and_without_entra(prod: Program) -> None:
    cluster = only(rows(prod, "inputs"), wp.CLUSTER)
    cluster["props"]["disableLocalAccounts"] = False
    cluster["props"]["aadProfile"]["enableAzureRBAC"] = False
    production = {"production": True}
    assert violations(wp.production_cluster_disables_local_accounts, resource_args(cluster, production))
    assert violations(wp.production_cluster_uses_entra_rbac, resource_args(cluster, production))


# --- A cluster the stack reads rather than declares (byo) ------------------------------------------------------------


def test_existing_cluster_issuer_is_checked_against_trusted_issuers(byo: Program) -> None:
    resources = rows(byo)
    trusted = {"trustedIssuers": [_byo_issuer(byo)]}
    validate = wp.federated_credential_issuer_is_the_cluster_issuer
    assert run(validate, stack_args(resources, trusted)) == ([], None)
    _each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer=r["props"]["issuer"].rstrip("/")))(resources)
    assert any("trailing slash" in v for v in violations(validate, stack_args(resources, trusted)))


def test_existing_cluster_without_trusted_issuers_checks_the_shape_only(byo: Program) -> None:
    resources = rows(byo)
    validate = wp.federated_credential_issuer_is_the_cluster_issuer
    found, reason = run(validate, stack_args(resources))
    assert found == [] and "no trustedIssuers" in (reason or "")
    _each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer=r["props"]["issuer"].rstrip("/")))(resources)
    assert any("ends with '/'" in v for v in violations(validate, stack_args(resources)))


def test_service_accounts_of_another_stack_are_accepted_when_listed(dev: Program) -> None:
    resources = rows(dev)
    _subject("shared", "platform-sa")(resources)
    validate = wp.federated_credential_subject_is_a_declared_service_account
    assert violations(validate, stack_args(resources))
    assert violations(validate, stack_args(resources, {"externalServiceAccounts": ["shared/platform-sa"]})) == []


# --- During a preview: unknown values are not applicable, links come from property dependencies ---------------------


def test_unknown_value_makes_a_resource_check_not_applicable(dev: Program) -> None:
    row = _inputs(dev, wp.FEDERATED_CREDENTIAL)
    row["props"]["audiences"] = UNKNOWN_STRING_VALUE
    found, reason = run(wp.federated_credential_audience_is_token_exchange, resource_args(row))
    assert found == [] and "can't be known during preview" in (reason or "")


def _preview(resources: list[Row]) -> None:
    """The dev stack as a first preview sees it: cluster and identity outputs unknown, links by dependency."""
    cluster = only(resources, wp.CLUSTER)
    identity = only(resources, wp.IDENTITY)
    cluster["props"]["oidcIssuerProfile"]["issuerURL"] = UNKNOWN_STRING_VALUE
    cluster["props"]["identityProfile"] = UNKNOWN_STRING_VALUE
    for key in ("principalId", "clientId", "id", "name"):
        identity["props"][key] = UNKNOWN_STRING_VALUE
    for credential in of_type(resources, wp.FEDERATED_CREDENTIAL):
        credential["props"].update(issuer=UNKNOWN_STRING_VALUE, resourceName=UNKNOWN_STRING_VALUE)
        credential["property_dependencies"] = {"issuer": [cluster["urn"]], "resourceName": [identity["urn"]]}
    for assignment in of_type(resources, wp.ROLE_ASSIGNMENT):
        source = identity if assignment["name"].startswith("reader") else cluster
        assignment["props"]["principalId"] = UNKNOWN_STRING_VALUE
        assignment["property_dependencies"] = {"principalId": [source["urn"]]}


def test_unknown_issuers_during_preview_are_not_applicable_not_silent(dev: Program) -> None:
    resources = rows(dev)
    _preview(resources)
    found, reason = run(wp.federated_credential_issuer_is_the_cluster_issuer, stack_args(resources))
    assert found == [] and "pulumi up" in (reason or "")


def test_preview_links_a_role_assignment_to_its_identity_by_dependency(dev: Program) -> None:
    resources = rows(dev)
    _preview(resources)
    assert run(wp.federated_identity_reads_its_vault, stack_args(resources)) == ([], None)
    for assignment in of_type(resources, wp.ROLE_ASSIGNMENT):
        if assignment["name"].startswith("reader"):
            assignment["props"]["roleDefinitionId"] = assignment["props"]["roleDefinitionId"].replace(
                facts.KEY_VAULT_SECRETS_USER, facts.KEY_VAULT_SECRETS_OFFICER
            )
    assert any(
        "Secrets Officer" in v for v in violations(wp.workload_identity_roles_are_read_only, stack_args(resources))
    )
    assert violations(wp.federated_identity_reads_its_vault, stack_args(resources))


# --- The pack's own description ------------------------------------------------------------------------------------


def test_every_policy_is_documented_with_its_level() -> None:
    readme = (Path(__file__).resolve().parent.parent / "policy" / "README.md").read_text()
    names = [p.name for p in wp.POLICIES]
    assert len(names) == len(set(names))
    for policy in wp.POLICIES:
        level = policy.enforcement_level.value
        assert re.search(rf"\| `{re.escape(policy.name)}` \| [^|]+ \| {level} \|", readme), policy.name
