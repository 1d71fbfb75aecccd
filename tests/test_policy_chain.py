"""The policy pack's trust-chain policies: each break of the chain the digital twin's tests make is reported by the
policy that guards it, and so is each link wired from the right resource but the wrong property (the dependency
says "computed from the identity", the value is its clientId), since the policies compare values whenever known."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from aks_workload_identity import facts
from tests.policy_args import (
    DEPLOYMENT,
    Mutation,
    Row,
    byo_issuer,
    container,
    depends,
    each,
    of_type,
    only,
    reported,
    rows,
    run,
    set_env,
    stack_args,
    violations,
    wp,
)
from twin.mocks import Program


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
    return each("kubernetes:apps/v1:Deployment", lambda row: change(row["props"]["spec"]["template"]))


def _unlabel(template: dict[str, Any]) -> None:
    del template["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL]


def _label_only_the_account(resources: list[Row]) -> None:
    _template(_unlabel)(resources)
    for row in of_type(resources, wp.SERVICE_ACCOUNT):
        row["props"]["metadata"]["labels"] = {facts.WORKLOAD_IDENTITY_USE_LABEL: "true"}


def _kubelet_client_id(resources: list[Row]) -> str:
    return only(resources, wp.CLUSTER)["props"]["identityProfile"][facts.KUBELET_IDENTITY_KEY]["clientId"]


def _subject(namespace: str, name: str) -> Mutation:
    return each(
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
        each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer=r["props"]["issuer"].rstrip("/"))),
        r"trailing slash",
    ),
    "issuer in another case": (
        wp.federated_credential_issuer_is_the_cluster_issuer,
        each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer=r["props"]["issuer"].upper())),
        r"in case",
    ),
    "issuer of another cluster": (
        wp.federated_credential_issuer_is_the_cluster_issuer,
        each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer="https://example.com/other/")),
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
        each(wp.SERVICE_ACCOUNT, lambda r: r["props"]["metadata"]["annotations"].clear()),
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


def _vault(resources: list[Row]) -> Row:
    return only(resources, wp.VAULT)


def _pod_env(name: str, value: Callable[[list[Row]], str]) -> Mutation:
    return lambda resources: set_env(only(resources, DEPLOYMENT), name, value(resources))


_DIGEST = "@sha256:" + "0" * 64

#: name: (policy, mutation of the dev stack's outputs, what the message must say)
VALUE_BREAKS: dict[str, tuple[Callable, Mutation, str]] = {
    "pod reading a vault its identity has no grant on": (
        wp.pods_read_what_their_identity_may_read,
        _pod_env(facts.VAULT_URL_ENV, lambda _: "https://someone-elses.vault.azure.net/"),
        r"vault 'someone-elses' is not one its identity holds a read role on",
    ),
    "pod naming a secret the stack does not hold": (
        wp.pods_read_what_their_identity_may_read,
        _pod_env(facts.SECRET_NAME_ENV, lambda _: "db-password"),
        r"SECRET_NAME=db-password, a secret its identity cannot read in vault",
    ),
    "pod's vault URL written by hand for another cloud": (
        wp.pods_read_what_their_identity_may_read,
        _pod_env(
            facts.VAULT_URL_ENV,
            lambda r: _vault(r)["props"]["properties"]["vaultUri"].replace("azure.net", "azure.cn"),
        ),
        r"not the vault's vaultUri",
    ),
    "image from a registry the kubelet holds no AcrPull on": (
        wp.images_come_from_pullable_registries,
        lambda r: container(only(r, DEPLOYMENT)).update(image="elsewhere.azurecr.io/secret-reader" + _DIGEST),
        r"from registry 'elsewhere', on which the cluster's kubelet identity holds no AcrPull",
    ),
}


@pytest.mark.parametrize(("validate", "mutate", "message"), VALUE_BREAKS.values(), ids=VALUE_BREAKS.keys())
def test_each_wrong_value_is_reported_by_its_stack_policy(
    dev: Program, validate: Callable, mutate: Mutation, message: str
) -> None:
    resources = rows(dev)
    assert violations(validate, stack_args(resources)) == []
    mutate(resources)
    assert reported(validate, resources, message), violations(validate, stack_args(resources))


# --- Right resource, wrong property: the dependency names the right resource, the value is another property -------


def _reader_grant(resources: list[Row]) -> Row:
    return only(resources, wp.ROLE_ASSIGNMENT, "reader-reads-vault")


def _acr_pull(resources: list[Row]) -> Row:
    (found,) = [
        r for r in of_type(resources, wp.ROLE_ASSIGNMENT) if r["props"]["roleDefinitionId"].endswith(facts.ACR_PULL)
    ]
    return found


def _kubelet(resources: list[Row], field: str) -> str:
    return only(resources, wp.CLUSTER)["props"]["identityProfile"][facts.KUBELET_IDENTITY_KEY][field]


def _from(type_: str, target: Callable[[list[Row]], Row], prop: str, value: Callable[[Row], Any]) -> Mutation:
    """Sets `target`'s top-level `prop` to `value` of the stack's one resource of `type_`, computed from it."""

    def mutate(resources: list[Row]) -> None:
        source, row = only(resources, type_), target(resources)
        row["props"][prop] = value(source)
        depends(row, prop, source)

    return mutate


def _env_from(type_: str, name: str, value: Callable[[Row], Any]) -> Mutation:
    def mutate(resources: list[Row]) -> None:
        source, deployment = only(resources, type_), only(resources, DEPLOYMENT)
        set_env(deployment, name, value(source))
        depends(deployment, "spec", source)

    return mutate


def _image_from_registry_name(resources: list[Row]) -> None:
    registry, deployment = only(resources, wp.REGISTRY), only(resources, DEPLOYMENT)
    container(deployment)["image"] = f"{registry['props']['name']}/secret-reader{_DIGEST}"
    depends(deployment, "spec", registry)


#: name: (policy, mutation of the dev stack's outputs, what the message must say)
WRONG_PROPERTY: dict[str, tuple[Callable, Mutation, str]] = {
    "grant's principalId is the identity's clientId": (
        wp.federated_identity_reads_its_vault,
        _from(wp.IDENTITY, _reader_grant, "principalId", lambda identity: identity["props"]["clientId"]),
        r"names the identity's clientId as its principalId",
    ),
    "grant's principalId is the identity's clientId in uppercase": (
        wp.federated_identity_reads_its_vault,
        _from(wp.IDENTITY, _reader_grant, "principalId", lambda identity: identity["props"]["clientId"].upper()),
        r"names the identity's clientId as its principalId",
    ),
    "grant's scope is the vault's URI, not its id": (
        wp.federated_identity_reads_its_vault,
        _from(wp.VAULT, _reader_grant, "scope", lambda vault: vault["props"]["properties"]["vaultUri"]),
        r"scope 'https://[^']+', which is no vault's or secret's ARM id",
    ),
    "credential's resourceName is the identity's principalId": (
        wp.service_account_client_id_is_a_federated_identity,
        _from(
            wp.IDENTITY,
            lambda r: only(r, wp.FEDERATED_CREDENTIAL),
            "resourceName",
            lambda identity: identity["props"]["principalId"],
        ),
        r"has no federated credential for 'system:serviceaccount:wi-demo:wi-demo-sa'",
    ),
    "credential's issuer is the cluster's API server": (
        wp.federated_credential_issuer_is_the_cluster_issuer,
        _from(
            wp.CLUSTER,
            lambda r: only(r, wp.FEDERATED_CREDENTIAL),
            "issuer",
            lambda cluster: f"https://{cluster['props']['fqdn']}/",
        ),
        r"not the OIDC issuer of any cluster",
    ),
    "pod's KEY_VAULT_URL is the vault's ARM id": (
        wp.pods_read_what_their_identity_may_read,
        _env_from(wp.VAULT, facts.VAULT_URL_ENV, lambda vault: vault["props"]["id"]),
        r"KEY_VAULT_URL=/subscriptions/[^:]+: that is no vault URI",
    ),
    "pod's SECRET_NAME is the secret's URI": (
        wp.pods_read_what_their_identity_may_read,
        _env_from(wp.SECRET, facts.SECRET_NAME_ENV, lambda secret: secret["props"]["properties"]["secretUri"]),
        r"SECRET_NAME=https://[^,]+, a secret its identity cannot read",
    ),
    "image built from the registry's name, not its login server": (
        wp.images_come_from_pullable_registries,
        _image_from_registry_name,
        r"computed from registry 'app-registry' but naming no registry login server",
    ),
    "AcrPull scoped to the registry's login server, not its id": (
        wp.registry_pull_is_granted_to_the_kubelet,
        _from(wp.REGISTRY, _acr_pull, "scope", lambda registry: registry["props"]["loginServer"]),
        r"grants AcrPull to no cluster's kubelet identity: assign",
    ),
    "AcrPull to the kubelet's clientId, not its objectId": (
        wp.registry_pull_is_granted_to_the_kubelet,
        _from(wp.CLUSTER, _acr_pull, "principalId", lambda c: _kubelet([c], "clientId")),
        r"it names the kubelet's clientId; AcrPull takes its objectId",
    ),
    "image pulled with AcrPull given to the kubelet's clientId": (
        wp.images_come_from_pullable_registries,
        _from(wp.CLUSTER, _acr_pull, "principalId", lambda c: _kubelet([c], "clientId")),
        r"holds no AcrPull",
    ),
}


@pytest.mark.parametrize(("validate", "mutate", "message"), WRONG_PROPERTY.values(), ids=WRONG_PROPERTY.keys())
def test_right_resource_wrong_property_is_reported(
    dev: Program, validate: Callable, mutate: Mutation, message: str
) -> None:
    resources = rows(dev)
    assert violations(validate, stack_args(resources)) == []
    mutate(resources)
    assert reported(validate, resources, message), violations(validate, stack_args(resources))


# --- A vault shared by workloads, each granted its own secrets (byo) -------------------------------------------------


def test_a_pod_naming_another_workloads_secret_in_a_shared_vault_is_reported(byo: Program) -> None:
    resources = rows(byo)
    validate = wp.pods_read_what_their_identity_may_read
    assert violations(validate, stack_args(resources)) == []
    set_env(only(resources, DEPLOYMENT, "payments-deployment"), facts.SECRET_NAME_ENV, "ledger-db-password")
    assert reported(validate, resources, r"SECRET_NAME=ledger-db-password, a secret its identity cannot read")


def test_grants_at_the_secrets_scope_count_as_reading_the_vault(byo: Program) -> None:
    resources = rows(byo)
    grants = [r for r in of_type(resources, wp.ROLE_ASSIGNMENT) if "/secrets/" in r["props"]["scope"]]
    assert grants and violations(wp.federated_identity_reads_its_vault, stack_args(resources)) == []
    for grant in grants:
        grant["props"]["scope"] = grant["props"]["scope"].replace("/secrets/", "/keys/")
    assert violations(wp.federated_identity_reads_its_vault, stack_args(resources))


# --- A cluster the stack reads rather than declares (byo) ------------------------------------------------------------


def test_existing_cluster_issuer_is_checked_against_trusted_issuers(byo: Program) -> None:
    resources = rows(byo)
    trusted = {"trustedIssuers": [byo_issuer(byo)]}
    validate = wp.federated_credential_issuer_is_the_cluster_issuer
    assert run(validate, stack_args(resources, trusted)) == ([], None)
    each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer=r["props"]["issuer"].rstrip("/")))(resources)
    assert any("trailing slash" in v for v in violations(validate, stack_args(resources, trusted)))


def test_existing_cluster_without_trusted_issuers_checks_the_shape_only(byo: Program) -> None:
    resources = rows(byo)
    validate = wp.federated_credential_issuer_is_the_cluster_issuer
    found, reason = run(validate, stack_args(resources))
    assert found == [] and "no trustedIssuers" in (reason or "")
    each(wp.FEDERATED_CREDENTIAL, lambda r: r["props"].update(issuer=r["props"]["issuer"].rstrip("/")))(resources)
    assert any("ends with '/'" in v for v in violations(validate, stack_args(resources)))


def test_service_accounts_of_another_stack_are_accepted_when_listed(dev: Program) -> None:
    resources = rows(dev)
    _subject("shared", "platform-sa")(resources)
    validate = wp.federated_credential_subject_is_a_declared_service_account
    assert violations(validate, stack_args(resources))
    assert violations(validate, stack_args(resources, {"externalServiceAccounts": ["shared/platform-sa"]})) == []


def test_client_and_tenant_ids_match_in_any_case(dev: Program) -> None:
    """Entra ID takes a GUID in any case, so an uppercase annotation names the same identity and tenant."""
    resources = rows(dev)
    identity = only(resources, wp.IDENTITY, "reader-identity")
    client_id, tenant_id = identity["props"]["clientId"], identity["props"]["tenantId"]
    assert client_id.upper() != client_id and tenant_id.upper() != tenant_id
    _annotate(facts.CLIENT_ID_ANNOTATION, lambda _: client_id.upper())(resources)
    _annotate(facts.TENANT_ID_ANNOTATION, lambda _: tenant_id.upper())(resources)
    validate = wp.service_account_client_id_is_a_federated_identity
    assert run(validate, stack_args(resources)) == ([], None)
    kubelet = _kubelet_client_id(resources)
    _annotate(facts.CLIENT_ID_ANNOTATION, lambda _: kubelet.upper())(resources)
    assert reported(validate, resources, r"kubelet identity, which has no federated credential")
    assert run(validate, stack_args(resources, {"externalClientIds": [kubelet]})) == ([], None)
