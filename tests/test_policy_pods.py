"""The pods policies on small stacks built by hand: a service account's client-id annotation names the identity
federated with it, a labelled pod runs as such an account, a pod running as one carries the label, a pod names a
vault and secret its identity may read, and no container sets a secret as a literal. Each promise is held to the
exact message a user reads, the resource it is reported on, the exact reason while a preview leaves it undecided,
and what each config key changes."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from aks_workload_identity import facts
from tests.policy_args import (
    DEPLOYMENT,
    UNDECIDED,
    Found,
    Row,
    checked,
    depends,
    named,
    outcome,
    resource_args,
    row,
    stack_args,
    wp,
)

SUBSCRIPTION = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-apps"
TENANT = "00000000-aaaa-4bbb-8ccc-7e4a47000000"
OTHER_TENANT = "11111111-1111-4111-8111-111111111111"
CLIENT_ID = "e38b6938-80a2-5539-94ab-e2a208d0da80"
PRINCIPAL_ID = "d818d7ff-5090-59e6-bd38-ea2cb7638ddf"
KUBELET_CLIENT_ID = "868d4a63-1f55-5037-9de7-bbfae28a7453"
UNDECLARED_CLIENT_ID = "00000000-0000-4000-8000-000000000000"
ISSUER = f"https://eastus.oic.prod-aks.azure.com/{TENANT}/892ce2ef-3d24-5f76-aced-fc4f915cead9/"
VAULT = "app-kv-3anab"
VAULT_URI = f"https://{VAULT}.vault.azure.net/"
#: How every not-applicable reason of a stack check begins while a preview leaves something undecided.
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl"


def judge(policy: str, resources: list[Row], config: dict[str, Any] | None = None) -> tuple[Found, str | None]:
    """What the engine hears from the stack policy `policy` on `resources`."""
    return outcome(checked(policy), stack_args(resources, config))


# --- Building small stacks -----------------------------------------------------------------------------------------


def cluster() -> Row:
    kubelet = {"clientId": KUBELET_CLIENT_ID, "objectId": "8dded0c7-752a-558b-b1ba-3aa51fe63dfa"}
    return row(
        wp.CLUSTER,
        "wi-aks",
        {"oidcIssuerProfile": {"issuerURL": ISSUER}, "identityProfile": {facts.KUBELET_IDENTITY_KEY: kubelet}},
    )


def identity(name: str = "app-identity", client_id: str = CLIENT_ID, principal_id: str = PRINCIPAL_ID) -> Row:
    return row(
        wp.IDENTITY,
        name,
        {"name": f"{name}-x7k2", "clientId": client_id, "principalId": principal_id, "tenantId": TENANT},
    )


def credential(of: Row, namespace: str = "apps", account: str = "app-sa") -> Row:
    return row(
        wp.FEDERATED_CREDENTIAL,
        f"{of['name']}-{namespace}-{account}-federation",
        {
            "resourceName": of["props"]["name"],
            "subject": facts.service_account_subject(namespace, account),
            "issuer": ISSUER,
            "audiences": [facts.TOKEN_AUDIENCE],
        },
    )


def service_account(
    name: str = "app-sa", namespace: str | None = "apps", client_id: str | None = CLIENT_ID, **metadata: Any
) -> Row:
    annotations = {facts.TENANT_ID_ANNOTATION: TENANT}
    if client_id is not None:
        annotations[facts.CLIENT_ID_ANNOTATION] = client_id
    meta: dict[str, Any] = {"name": name, "annotations": annotations, **metadata}
    if namespace is not None:
        meta["namespace"] = namespace
    return row(wp.SERVICE_ACCOUNT, f"{namespace}-{name}", {"metadata": meta})


def env(**values: str) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in values.items()]


def deployment(
    name: str = "app-deployment",
    namespace: str | None = "apps",
    account: str | None = "app-sa",
    label: str | None = "true",
    variables: list[dict[str, Any]] | None = None,
) -> Row:
    labels = {"app.kubernetes.io/name": name}
    if label is not None:
        labels[facts.WORKLOAD_IDENTITY_USE_LABEL] = label
    spec: dict[str, Any] = {
        "containers": [{"name": "app", "image": "app.azurecr.io/app:1.0", "env": variables or []}],
    }
    if account is not None:
        spec["serviceAccountName"] = account
    metadata = {"name": f"{name}-q1w2"} | ({"namespace": namespace} if namespace is not None else {})
    return row(
        "kubernetes:apps/v1:Deployment",
        name,
        {"metadata": metadata, "spec": {"template": {"metadata": {"labels": labels}, "spec": spec}}},
    )


def vault(name: str = VAULT, uri: str | None = None) -> Row:
    return row(
        wp.VAULT,
        name,
        {
            "name": name,
            "vaultName": name,
            "id": f"{SUBSCRIPTION}/providers/Microsoft.KeyVault/vaults/{name}",
            "properties": {"vaultUri": uri or f"https://{name}.vault.azure.net/", "enableRbacAuthorization": True},
        },
    )


def secret(in_vault: Row, name: str) -> Row:
    return row(
        wp.SECRET,
        f"{in_vault['name']}-{name}",
        {
            "id": f"{in_vault['props']['id']}/secrets/{name}",
            "vaultName": in_vault["props"]["name"],
            "name": name,
            "secretName": name,
        },
    )


def grant(scope: str, principal_id: str = PRINCIPAL_ID, role: str = facts.KEY_VAULT_SECRETS_USER) -> Row:
    return row(
        wp.ROLE_ASSIGNMENT,
        f"grant-{scope.rsplit('/', 1)[-1]}-{role[:8]}",
        {
            "principalId": principal_id,
            "scope": scope,
            "roleDefinitionId": f"/subscriptions/00000000-1111-2222-3333-444444444444/providers/"
            f"Microsoft.Authorization/roleDefinitions/{role}",
            "principalType": "ServicePrincipal",
        },
    )


def federated_stack() -> list[Row]:
    """A cluster, an identity federated with apps/app-sa, that account annotated with it, and its labelled pod."""
    app = identity()
    return [cluster(), app, credential(app), service_account(), deployment()]


def reading_stack(**variables: str) -> list[Row]:
    """The federated stack whose identity holds Key Vault Secrets User on a vault declaring db-password, and whose
    pod reads it (or sets `variables` instead)."""
    kv = vault()
    app = identity()
    chosen = variables or {facts.VAULT_URL_ENV: VAULT_URI, facts.SECRET_NAME_ENV: "db-password"}
    return [
        cluster(),
        app,
        credential(app),
        service_account(),
        kv,
        secret(kv, "db-password"),
        grant(kv["props"]["id"]),
        deployment(variables=env(**chosen)),
    ]


def the(resources: list[Row], type_: str) -> Row:
    """The stack's one resource of `type_`."""
    (found,) = [r for r in resources if r["type"] == type_]
    return found


def swap(resources: list[Row], new: Row) -> Row:
    """Puts `new` in the place of the stack's one resource of its type."""
    resources[resources.index(the(resources, new["type"]))] = new
    return new


def urn(resources: list[Row], name: str) -> str:
    return named(resources, name)["urn"]


def account_annotations(account: Row) -> dict[str, Any]:
    return account["props"]["metadata"]["annotations"]


def template(workload: Row) -> dict[str, Any]:
    return workload["props"]["spec"]["template"]


# --- service-account-client-id-is-a-federated-identity -------------------------------------------------------------

CLIENT_ID_POLICY = "service-account-client-id-is-a-federated-identity"


def no_identity_message(namespace: str, name: str, client_id: str, where: str) -> str:
    return (
        f"ServiceAccount '{namespace}/{name}' is annotated azure.workload.identity/client-id={client_id}, {where}: "
        f"annotate it with the clientId of the identity federated with "
        f"'system:serviceaccount:{namespace}:{name}' (or list an identity another stack declares in this policy's "
        "externalClientIds)."
    )


def no_credential_message(namespace: str, name: str) -> str:
    return (
        f"ServiceAccount '{namespace}/{name}' names identity 'app-identity', which has no federated credential for "
        f"'system:serviceaccount:{namespace}:{name}': add one (issuer: the cluster's, audience: "
        "api://AzureADTokenExchange) or annotate the account with the identity that has it."
    )


def test_an_account_annotated_with_its_federated_identity_passes() -> None:
    assert judge(CLIENT_ID_POLICY, federated_stack()) == ([], None)


def test_an_account_without_a_namespace_is_federated_as_one_in_default() -> None:
    resources = federated_stack()
    swap(resources, service_account(namespace=None))
    swap(resources, credential(the(resources, wp.IDENTITY), namespace="default"))
    assert judge(CLIENT_ID_POLICY, resources) == ([], None)
    swap(resources, credential(the(resources, wp.IDENTITY), namespace="apps"))
    assert judge(CLIENT_ID_POLICY, resources) == (
        [(no_credential_message("default", "app-sa"), the(resources, wp.SERVICE_ACCOUNT)["urn"])],
        None,
    )


def test_a_client_id_no_declared_identity_has_is_reported_on_the_account() -> None:
    resources = federated_stack()
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.CLIENT_ID_ANNOTATION] = UNDECLARED_CLIENT_ID
    where = "no user-assigned identity this stack declares"
    assert judge(CLIENT_ID_POLICY, resources) == (
        [(no_identity_message("apps", "app-sa", UNDECLARED_CLIENT_ID, where), urn(resources, "apps-app-sa"))],
        None,
    )


def test_the_kubelets_client_id_in_any_case_is_named_as_the_kubelets() -> None:
    resources = federated_stack()
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.CLIENT_ID_ANNOTATION] = KUBELET_CLIENT_ID.upper()
    where = "the cluster's kubelet identity, which has no federated credential"
    assert judge(CLIENT_ID_POLICY, resources) == (
        [(no_identity_message("apps", "app-sa", KUBELET_CLIENT_ID.upper(), where), urn(resources, "apps-app-sa"))],
        None,
    )


def test_client_and_tenant_ids_name_the_identity_in_any_case() -> None:
    resources = federated_stack()
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.CLIENT_ID_ANNOTATION] = CLIENT_ID.upper()
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.TENANT_ID_ANNOTATION] = TENANT.upper()
    assert judge(CLIENT_ID_POLICY, resources) == ([], None)


def test_identities_another_stack_declares_pass_when_listed_in_external_client_ids() -> None:
    resources = federated_stack()
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.CLIENT_ID_ANNOTATION] = UNDECLARED_CLIENT_ID
    listed = {"externalClientIds": [UNDECLARED_CLIENT_ID.upper()]}
    assert judge(CLIENT_ID_POLICY, resources, listed) == ([], None)
    where = "no user-assigned identity this stack declares"
    unlisted = (
        [(no_identity_message("apps", "app-sa", UNDECLARED_CLIENT_ID, where), urn(resources, "apps-app-sa"))],
        None,
    )
    assert judge(CLIENT_ID_POLICY, resources, {"externalClientIds": [CLIENT_ID]}) == unlisted
    assert judge(CLIENT_ID_POLICY, resources) == unlisted


@pytest.mark.parametrize(
    "metadata",
    [
        {"name": "app-sa", "namespace": "apps"},
        {"name": "app-sa", "namespace": "apps", "annotations": {}},
        {"name": "app-sa", "namespace": "apps", "annotations": {facts.CLIENT_ID_ANNOTATION: ""}},
        {"name": "app-sa", "namespace": "apps", "annotations": {facts.TENANT_ID_ANNOTATION: OTHER_TENANT}},
    ],
    ids=["no annotations", "empty annotations", "empty client id", "tenant only"],
)
def test_an_account_without_a_client_id_is_not_this_policys_concern(metadata: dict[str, Any]) -> None:
    resources = federated_stack()
    the(resources, wp.SERVICE_ACCOUNT)["props"]["metadata"] = metadata
    assert judge(CLIENT_ID_POLICY, resources) == ([], None)


def test_an_identity_without_a_credential_for_the_account_is_reported_on_the_account() -> None:
    resources = federated_stack()
    swap(resources, credential(the(resources, wp.IDENTITY), account="other-sa"))
    expected = ([(no_credential_message("apps", "app-sa"), urn(resources, "apps-app-sa"))], None)
    assert judge(CLIENT_ID_POLICY, resources) == expected
    resources.remove(the(resources, wp.FEDERATED_CREDENTIAL))
    assert judge(CLIENT_ID_POLICY, resources) == expected


def test_a_tenant_annotation_other_than_the_identitys_is_reported_on_the_account() -> None:
    resources = federated_stack()
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.TENANT_ID_ANNOTATION] = OTHER_TENANT
    assert judge(CLIENT_ID_POLICY, resources) == (
        [
            (
                f"ServiceAccount 'apps/app-sa' is annotated azure.workload.identity/tenant-id={OTHER_TENANT}, but "
                f"identity 'app-identity' lives in tenant {TENANT}: remove the annotation (the cluster's tenant is "
                "the default) or set it to the identity's tenantId.",
                urn(resources, "apps-app-sa"),
            )
        ],
        None,
    )


def test_a_tenant_is_compared_only_when_both_the_annotation_and_the_identity_name_one() -> None:
    resources = federated_stack()
    del account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.TENANT_ID_ANNOTATION]
    assert judge(CLIENT_ID_POLICY, resources) == ([], None)
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.TENANT_ID_ANNOTATION] = OTHER_TENANT
    del the(resources, wp.IDENTITY)["props"]["tenantId"]
    assert judge(CLIENT_ID_POLICY, resources) == ([], None)


def test_every_wrong_account_is_reported_on_itself() -> None:
    resources = federated_stack()
    first = service_account("first-sa", client_id=UNDECLARED_CLIENT_ID)
    second = service_account("second-sa", client_id=UNDECLARED_CLIENT_ID)
    resources[3:3] = [service_account("plain-sa", client_id=None), first, second]
    where = "no user-assigned identity this stack declares"
    assert judge(CLIENT_ID_POLICY, resources) == (
        [
            (no_identity_message("apps", "first-sa", UNDECLARED_CLIENT_ID, where), first["urn"]),
            (no_identity_message("apps", "second-sa", UNDECLARED_CLIENT_ID, where), second["urn"]),
        ],
        None,
    )


def test_an_identitys_unknown_client_id_leaves_an_unmatched_account_undecided() -> None:
    resources = federated_stack()
    the(resources, wp.IDENTITY)["props"]["clientId"] = UNKNOWN_STRING_VALUE
    assert judge(CLIENT_ID_POLICY, resources) == (
        [],
        UNDECIDED + "apps-app-sa: an identity's client id is not known yet",
    )


def test_an_unknown_client_id_of_another_identity_does_not_hold_up_a_matched_account() -> None:
    resources = federated_stack()
    resources.append(identity("pending-identity", client_id=UNKNOWN_STRING_VALUE, principal_id=UNKNOWN_STRING_VALUE))
    assert judge(CLIENT_ID_POLICY, resources) == ([], None)


def test_only_an_unknown_client_id_leaves_an_unmatched_account_undecided() -> None:
    """An identity whose other outputs (principalId, tenantId) are still unknown has a known client id to compare."""
    resources = federated_stack()
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.CLIENT_ID_ANNOTATION] = UNDECLARED_CLIENT_ID
    the(resources, wp.IDENTITY)["props"].update(principalId=UNKNOWN_STRING_VALUE, tenantId=UNKNOWN_STRING_VALUE)
    where = "no user-assigned identity this stack declares"
    assert judge(CLIENT_ID_POLICY, resources) == (
        [(no_identity_message("apps", "app-sa", UNDECLARED_CLIENT_ID, where), urn(resources, "apps-app-sa"))],
        None,
    )
    del the(resources, wp.IDENTITY)["props"]["clientId"]
    assert judge(CLIENT_ID_POLICY, resources) == (
        [],
        UNDECIDED + "apps-app-sa: an identity's client id is not known yet",
    )


def test_an_undecided_account_does_not_stop_the_next_from_being_checked() -> None:
    resources = federated_stack()
    resources.insert(3, service_account("waiting-sa", client_id=UNDECLARED_CLIENT_ID))
    resources.append(identity("pending-identity", client_id=UNKNOWN_STRING_VALUE, principal_id=UNKNOWN_STRING_VALUE))
    resources.remove(the(resources, wp.FEDERATED_CREDENTIAL))
    assert judge(CLIENT_ID_POLICY, resources) == (
        [(no_credential_message("apps", "app-sa"), urn(resources, "apps-app-sa"))],
        None,
    )


def test_an_accounts_unknown_annotation_leaves_it_undecided() -> None:
    resources = federated_stack()
    account_annotations(the(resources, wp.SERVICE_ACCOUNT))[facts.CLIENT_ID_ANNOTATION] = UNKNOWN_STRING_VALUE
    assert judge(CLIENT_ID_POLICY, resources) == (
        [],
        UNDECIDED
        + "apps-app-sa: string value at .metadata.annotations.azure.workload.identity/client-id can't be known "
        "during preview",
    )


# --- labelled-pods-run-as-federated-service-accounts ---------------------------------------------------------------

LABELLED_POLICY = "labelled-pods-run-as-federated-service-accounts"


def undeclared_message(workload: str, namespace: str, account: str) -> str:
    return (
        f"'{workload}' is labelled for workload identity but runs as service account '{namespace}/{account}', which "
        "this stack does not declare: set the pod template's serviceAccountName to the ServiceAccount federated for "
        "it."
    )


def unannotated_message(workload: str, namespace: str, account: str) -> str:
    return (
        f"'{workload}' is labelled for workload identity but its service account '{namespace}/{account}' has no "
        "azure.workload.identity/client-id annotation: annotate it with the clientId of the identity federated with "
        "it."
    )


def kube_system_message(workload: str) -> str:
    return (
        f"'{workload}' is labelled for workload identity in namespace kube-system, whose pods the webhook never "
        "mutates: run it in a namespace of its own."
    )


def test_a_labelled_pod_running_as_an_annotated_account_passes() -> None:
    assert judge(LABELLED_POLICY, federated_stack()) == ([], None)


def test_a_labelled_pod_in_kube_system_is_reported_on_the_workload() -> None:
    resources = federated_stack()
    swap(resources, deployment(namespace=facts.UNMUTATED_NAMESPACE))
    swap(resources, service_account(namespace=facts.UNMUTATED_NAMESPACE))
    assert judge(LABELLED_POLICY, resources) == (
        [(kube_system_message("app-deployment"), the(resources, DEPLOYMENT)["urn"])],
        None,
    )


def test_a_labelled_pod_running_as_an_undeclared_account_is_reported_on_the_workload() -> None:
    resources = federated_stack()
    swap(resources, deployment(account="other-sa"))
    assert judge(LABELLED_POLICY, resources) == (
        [(undeclared_message("app-deployment", "apps", "other-sa"), the(resources, DEPLOYMENT)["urn"])],
        None,
    )


def test_a_pod_without_namespace_or_account_runs_as_default_in_default() -> None:
    resources = federated_stack()
    swap(resources, deployment(namespace=None, account=None))
    assert judge(LABELLED_POLICY, resources) == (
        [(undeclared_message("app-deployment", "default", "default"), the(resources, DEPLOYMENT)["urn"])],
        None,
    )
    resources.append(service_account("default", namespace=None))
    assert judge(LABELLED_POLICY, resources) == ([], None)


@pytest.mark.parametrize(
    "metadata",
    [
        {"name": "app-sa", "namespace": "apps"},
        {"name": "app-sa", "namespace": "apps", "annotations": {}},
        {"name": "app-sa", "namespace": "apps", "annotations": {facts.TENANT_ID_ANNOTATION: TENANT}},
        {"name": "app-sa", "namespace": "apps", "annotations": {facts.CLIENT_ID_ANNOTATION: ""}},
    ],
    ids=["no annotations", "empty annotations", "tenant only", "empty client id"],
)
def test_a_labelled_pod_whose_account_has_no_client_id_is_reported_on_the_workload(metadata: dict[str, Any]) -> None:
    resources = federated_stack()
    the(resources, wp.SERVICE_ACCOUNT)["props"]["metadata"] = metadata
    assert judge(LABELLED_POLICY, resources) == (
        [(unannotated_message("app-deployment", "apps", "app-sa"), the(resources, DEPLOYMENT)["urn"])],
        None,
    )


@pytest.mark.parametrize("label", [None, "false", "True"])
def test_a_pod_not_labelled_true_is_not_this_policys_concern(label: str | None) -> None:
    resources = federated_stack()
    swap(resources, deployment(account="other-sa", label=label))
    assert judge(LABELLED_POLICY, resources) == ([], None)


@pytest.mark.parametrize("entry", ["shared/platform-sa", "system:serviceaccount:shared:platform-sa"])
def test_accounts_another_stack_declares_pass_when_listed_in_external_service_accounts(entry: str) -> None:
    resources = federated_stack()
    swap(resources, deployment(namespace="shared", account="platform-sa"))
    assert judge(LABELLED_POLICY, resources, {"externalServiceAccounts": [entry]}) == ([], None)
    unlisted = {"externalServiceAccounts": ["shared/other-sa"]}
    expected = (
        [(undeclared_message("app-deployment", "shared", "platform-sa"), the(resources, DEPLOYMENT)["urn"])],
        None,
    )
    assert judge(LABELLED_POLICY, resources, unlisted) == expected
    assert judge(LABELLED_POLICY, resources) == expected


def test_every_labelled_pod_is_checked_whatever_the_workloads_before_it() -> None:
    resources = federated_stack()
    bare = service_account("bare-sa", client_id=None)
    workloads = [
        deployment("unlabelled", account="nobody", label=None),
        deployment("in-kube-system", namespace=facts.UNMUTATED_NAMESPACE),
        deployment("external", namespace="shared", account="platform-sa"),
        deployment("undeclared", account="nobody"),
        deployment("bare", account="bare-sa"),
        deployment("fine"),
    ]
    resources += [bare, *workloads]
    assert judge(LABELLED_POLICY, resources, {"externalServiceAccounts": ["shared/platform-sa"]}) == (
        [
            (kube_system_message("in-kube-system"), workloads[1]["urn"]),
            (undeclared_message("undeclared", "apps", "nobody"), workloads[3]["urn"]),
            (unannotated_message("bare", "apps", "bare-sa"), workloads[4]["urn"]),
        ],
        None,
    )


def test_a_pod_template_unknown_in_a_preview_is_undecided() -> None:
    resources = federated_stack()
    template(the(resources, DEPLOYMENT))["metadata"]["labels"] = UNKNOWN_STRING_VALUE
    reason = UNDECIDED + "app-deployment: string value at .spec.template.metadata.labels can't be known during preview"
    assert judge(LABELLED_POLICY, resources) == ([], reason)


# --- federated-pods-carry-the-use-label ----------------------------------------------------------------------------

USE_LABEL_POLICY = "federated-pods-carry-the-use-label"
#: What a ServiceAccount labelled instead of its pods adds to the message.
ACCOUNT_LABEL_HINT = " The label on the ServiceAccount does nothing since webhook v1.0."


def unlabelled_message(workload: str, namespace: str, account: str) -> str:
    return (
        f"'{workload}' runs as service account '{namespace}/{account}', which is annotated for workload identity, "
        'but its pod template lacks the label azure.workload.identity/use: "true": add it to the pod template\'s '
        "metadata.labels (the webhook mutates only labelled pods; unlabelled ones get no AZURE_* variables and no "
        "token)."
    )


def test_a_labelled_pod_carries_the_label() -> None:
    assert judge(USE_LABEL_POLICY, federated_stack()) == ([], None)


@pytest.mark.parametrize("label", [None, "True", "yes"])
def test_a_pod_of_an_annotated_account_without_the_label_true_is_reported_on_the_workload(label: str | None) -> None:
    resources = federated_stack()
    swap(resources, deployment(label=label))
    assert judge(USE_LABEL_POLICY, resources) == (
        [(unlabelled_message("app-deployment", "apps", "app-sa"), the(resources, DEPLOYMENT)["urn"])],
        None,
    )


def test_a_pod_template_without_metadata_lacks_the_label() -> None:
    resources = federated_stack()
    del template(the(resources, DEPLOYMENT))["metadata"]
    assert judge(USE_LABEL_POLICY, resources) == (
        [(unlabelled_message("app-deployment", "apps", "app-sa"), the(resources, DEPLOYMENT)["urn"])],
        None,
    )


@pytest.mark.parametrize("value", ["true", "false", ""])
def test_the_label_on_the_account_instead_of_the_pod_is_named(value: str) -> None:
    resources = federated_stack()
    the(resources, wp.SERVICE_ACCOUNT)["props"]["metadata"]["labels"] = {facts.WORKLOAD_IDENTITY_USE_LABEL: value}
    swap(resources, deployment(label=None))
    assert judge(USE_LABEL_POLICY, resources) == (
        [
            (
                unlabelled_message("app-deployment", "apps", "app-sa") + ACCOUNT_LABEL_HINT,
                the(resources, DEPLOYMENT)["urn"],
            )
        ],
        None,
    )
    the(resources, wp.SERVICE_ACCOUNT)["props"]["metadata"]["labels"] = {"app.kubernetes.io/name": "app"}
    assert judge(USE_LABEL_POLICY, resources) == (
        [(unlabelled_message("app-deployment", "apps", "app-sa"), the(resources, DEPLOYMENT)["urn"])],
        None,
    )


def test_a_pod_opted_out_with_the_label_false_passes() -> None:
    resources = federated_stack()
    swap(resources, deployment(label="false"))
    assert judge(USE_LABEL_POLICY, resources) == ([], None)


@pytest.mark.parametrize(
    "metadata",
    [
        {"name": "app-sa", "namespace": "apps"},
        {"name": "app-sa", "namespace": "apps", "annotations": {facts.TENANT_ID_ANNOTATION: TENANT}},
        {"name": "other-sa", "namespace": "apps", "annotations": {facts.CLIENT_ID_ANNOTATION: CLIENT_ID}},
        {"name": "app-sa", "namespace": "other", "annotations": {facts.CLIENT_ID_ANNOTATION: CLIENT_ID}},
    ],
    ids=["no annotations", "no client id", "another account", "another namespace"],
)
def test_an_unlabelled_pod_of_an_account_not_annotated_here_is_not_this_policys_concern(
    metadata: dict[str, Any],
) -> None:
    resources = federated_stack()
    the(resources, wp.SERVICE_ACCOUNT)["props"]["metadata"] = metadata
    swap(resources, deployment(label=None))
    assert judge(USE_LABEL_POLICY, resources) == ([], None)


def test_every_unlabelled_pod_is_checked_whatever_the_workloads_before_it() -> None:
    resources = federated_stack()
    resources.append(service_account("bare-sa", client_id=None))
    workloads = [
        deployment("labelled"),
        deployment("undeclared", account="nobody", label=None),
        deployment("bare", account="bare-sa", label=None),
        deployment("opted-out", label="false"),
        deployment("unlabelled", label=None),
    ]
    resources += workloads
    assert judge(USE_LABEL_POLICY, resources) == (
        [(unlabelled_message("unlabelled", "apps", "app-sa"), workloads[4]["urn"])],
        None,
    )


def test_an_unknown_pod_label_is_undecided() -> None:
    resources = federated_stack()
    template(the(resources, DEPLOYMENT))["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL] = UNKNOWN_STRING_VALUE
    reason = (
        UNDECIDED + "app-deployment: string value at .spec.template.metadata.labels.azure.workload.identity/use "
        "can't be known during preview"
    )
    assert judge(USE_LABEL_POLICY, resources) == ([], reason)


# --- pods-read-what-their-identity-may-read ------------------------------------------------------------------------

READS_POLICY = "pods-read-what-their-identity-may-read"
#: Who the reading stack's pod is, as its messages name it.
POD = "Container 'app' of 'app-deployment' (service account 'apps/app-sa') sets"


def unreadable_secret_message(value: str, where: str, may_read: str, container: str = "app") -> str:
    return (
        f"Container '{container}' of 'app-deployment' (service account 'apps/app-sa') sets SECRET_NAME={value}, a "
        f"secret its identity cannot read in {where} (it may read: {may_read}): name a secret the identity holds "
        "Key Vault Secrets User on, or grant it (the read answers 403 or 404 otherwise)."
    )


def ungranted_vault_message(variable: str, value: str, vault_name: str, may_read: str) -> str:
    return (
        f"{POD} {variable}={value}: vault '{vault_name}' is not one its identity holds a read role on (it may read: "
        f"{may_read}); point it at the vault the identity is granted, or grant it."
    )


def pod_urn(resources: list[Row]) -> str:
    return urn(resources, "app-deployment")


def another_vault(resources: list[Row], name: str, *secrets: str) -> Row:
    """Adds a vault declaring `secrets`, on which the reading stack's identity holds Key Vault Secrets User."""
    kv = vault(name)
    resources += [kv, *(secret(kv, s) for s in secrets), grant(kv["props"]["id"])]
    return kv


@pytest.mark.parametrize(
    "variables",
    [
        {facts.VAULT_URL_ENV: VAULT_URI, facts.SECRET_NAME_ENV: "db-password"},
        {facts.VAULT_URL_ENV: VAULT_URI.upper(), facts.SECRET_NAME_ENV: "DB-Password"},
        {facts.VAULT_URL_ENV: VAULT_URI.rstrip("/")},
        {facts.VAULT_NAME_ENV: VAULT.upper(), facts.SECRET_NAME_ENV: "db-password"},
        {facts.SECRET_NAME_ENV: "db-password"},
        {"HEALTH_PORT": "8080"},
    ],
    ids=["url and secret", "in capitals", "url without its slash", "vault by name", "secret alone", "neither"],
)
def test_a_pod_reading_its_identitys_vault_and_secret_passes(variables: dict[str, str]) -> None:
    assert judge(READS_POLICY, reading_stack(**variables)) == ([], None)


def test_a_vault_uri_is_compared_in_any_case_and_without_its_trailing_slash() -> None:
    """A private cloud's suffix may end in any letter; only the trailing slash and the case are ignored."""
    resources = reading_stack(**{facts.VAULT_URL_ENV: "HTTPS://APP-KV-3ANAB.VAULT.CONTOSO.MX/"})
    the(resources, wp.VAULT)["props"]["properties"]["vaultUri"] = "https://app-kv-3anab.vault.contoso.mx"
    assert judge(READS_POLICY, resources) == ([], None)
    the(resources, wp.VAULT)["props"]["properties"]["vaultUri"] = "HTTPS://APP-KV-3ANAB.VAULT.CONTOSO.MX/"
    swap(resources, deployment(variables=env(**{facts.VAULT_URL_ENV: "https://app-kv-3anab.vault.contoso.mx"})))
    assert judge(READS_POLICY, resources) == ([], None)


@pytest.mark.parametrize(
    "value",
    [
        f"{SUBSCRIPTION}/providers/Microsoft.KeyVault/vaults/{VAULT}",
        f"{VAULT_URI}secrets/db-password",
        f"http://{VAULT}.vault.azure.net/",
    ],
    ids=["arm id", "secret uri", "plain http"],
)
def test_a_vault_url_that_is_no_vault_uri_is_reported_on_the_pod(value: str) -> None:
    resources = reading_stack(**{facts.VAULT_URL_ENV: value, facts.SECRET_NAME_ENV: "db-password"})
    problem = "that is no vault URI (https://<vault>.vault.<cloud suffix>/, the vault's vaultUri output)"
    assert judge(READS_POLICY, resources) == ([(f"{POD} KEY_VAULT_URL={value}: {problem}.", pod_urn(resources))], None)


def test_a_vault_url_built_by_hand_for_another_cloud_is_reported_on_the_pod() -> None:
    value = f"https://{VAULT}.vault.azure.cn/"
    resources = reading_stack(**{facts.VAULT_URL_ENV: value, facts.SECRET_NAME_ENV: "db-password"})
    problem = f"that is not the vault's vaultUri '{VAULT_URI}' (use the output, not a URL built by hand)"
    assert judge(READS_POLICY, resources) == ([(f"{POD} KEY_VAULT_URL={value}: {problem}.", pod_urn(resources))], None)


def test_a_vault_name_is_not_held_to_the_vault_uri() -> None:
    resources = reading_stack(**{facts.VAULT_NAME_ENV: VAULT})
    the(resources, wp.VAULT)["props"]["properties"]["vaultUri"] = f"https://{VAULT}.vault.azure.cn/"
    assert judge(READS_POLICY, resources) == ([], None)


def test_a_vault_the_identity_may_not_read_is_reported_with_what_it_may_read() -> None:
    value = "https://someone-elses.vault.azure.net/"
    resources = reading_stack(**{facts.VAULT_URL_ENV: value, facts.SECRET_NAME_ENV: "db-password"})
    assert judge(READS_POLICY, resources) == (
        [
            (ungranted_vault_message("KEY_VAULT_URL", value, "someone-elses", VAULT), pod_urn(resources)),
            (unreadable_secret_message("db-password", "vault 'someone-elses'", "none"), pod_urn(resources)),
        ],
        None,
    )


def test_a_vault_named_by_name_is_compared_in_lowercase_and_quoted_as_set() -> None:
    resources = reading_stack(**{facts.VAULT_NAME_ENV: "Someone-Elses"})
    another_vault(resources, "accounts-kv")
    assert judge(READS_POLICY, resources) == (
        [
            (
                ungranted_vault_message("KEY_VAULT_NAME", "Someone-Elses", "someone-elses", f"accounts-kv, {VAULT}"),
                pod_urn(resources),
            )
        ],
        None,
    )


def test_an_identity_holding_no_read_role_may_read_nothing() -> None:
    resources = reading_stack()
    resources.remove(the(resources, wp.ROLE_ASSIGNMENT))
    assert judge(READS_POLICY, resources) == (
        [
            (ungranted_vault_message("KEY_VAULT_URL", VAULT_URI, VAULT, "none"), pod_urn(resources)),
            (unreadable_secret_message("db-password", f"vault '{VAULT}'", "none"), pod_urn(resources)),
        ],
        None,
    )


def test_read_roles_names_the_roles_that_read_secrets() -> None:
    resources = reading_stack()
    swap(resources, grant(the(resources, wp.VAULT)["props"]["id"], role=facts.KEY_VAULT_SECRETS_OFFICER))
    found, reason = judge(READS_POLICY, resources)
    assert reason is None
    assert found[0] == (ungranted_vault_message("KEY_VAULT_URL", VAULT_URI, VAULT, "none"), pod_urn(resources))
    officer = {"readRoles": [facts.KEY_VAULT_SECRETS_OFFICER.upper()]}
    assert judge(READS_POLICY, resources, officer) == ([], None)
    user = {"readRoles": [facts.KEY_VAULT_SECRETS_USER]}
    assert judge(READS_POLICY, resources, user) == (found, None)


def test_a_vault_granted_but_declared_elsewhere_is_read_as_its_uri_says() -> None:
    resources = reading_stack(**{facts.VAULT_URL_ENV: "https://shared-kv.vault.azure.net/", facts.SECRET_NAME_ENV: "x"})
    resources.append(grant(f"{SUBSCRIPTION}/providers/Microsoft.KeyVault/vaults/shared-kv"))
    assert judge(READS_POLICY, resources) == ([], None)


@pytest.mark.parametrize(
    ("extra", "may_read"),
    [((), "db-password"), (("api-key",), "api-key, db-password")],
    ids=["one secret", "two secrets"],
)
def test_a_secret_the_identity_may_not_read_in_the_pods_vault_is_reported(
    extra: tuple[str, ...], may_read: str
) -> None:
    resources = reading_stack(**{facts.VAULT_URL_ENV: VAULT_URI, facts.SECRET_NAME_ENV: "Ledger-Password"})
    resources += [secret(the(resources, wp.VAULT), name) for name in extra]
    assert judge(READS_POLICY, resources) == (
        [(unreadable_secret_message("Ledger-Password", f"vault '{VAULT}'", may_read), pod_urn(resources))],
        None,
    )


def test_a_secret_named_without_a_vault_is_looked_for_in_every_vault_the_identity_reads() -> None:
    resources = reading_stack(**{facts.SECRET_NAME_ENV: "ledger-token"})
    assert judge(READS_POLICY, resources) == (
        [(unreadable_secret_message("ledger-token", "its vaults", "db-password"), pod_urn(resources))],
        None,
    )
    another_vault(resources, "ledger-kv", "ledger-token")
    assert judge(READS_POLICY, resources) == ([], None)


def test_a_secret_of_another_vault_than_the_pods_is_reported() -> None:
    resources = reading_stack(**{facts.VAULT_URL_ENV: VAULT_URI, facts.SECRET_NAME_ENV: "ledger-token"})
    another_vault(resources, "ledger-kv", "ledger-token")
    assert judge(READS_POLICY, resources) == (
        [(unreadable_secret_message("ledger-token", f"vault '{VAULT}'", "db-password"), pod_urn(resources))],
        None,
    )


def test_any_secret_of_a_granted_vault_declaring_none_may_be_read() -> None:
    resources = reading_stack(**{facts.VAULT_URL_ENV: VAULT_URI, facts.SECRET_NAME_ENV: "made-elsewhere"})
    resources.remove(the(resources, wp.SECRET))
    assert judge(READS_POLICY, resources) == ([], None)


def test_variables_from_a_secret_or_config_map_are_not_literals() -> None:
    resources = reading_stack()
    from_refs = [
        {"name": facts.VAULT_URL_ENV, "valueFrom": {"configMapKeyRef": {"name": "app", "key": "vault"}}},
        {"name": facts.SECRET_NAME_ENV, "valueFrom": {"secretKeyRef": {"name": "app", "key": "secret"}}},
    ]
    swap(resources, deployment(variables=from_refs))
    assert judge(READS_POLICY, resources) == ([], None)


def test_a_vault_url_unknown_in_a_preview_is_decided_by_the_vault_it_came_from() -> None:
    resources = reading_stack(**{facts.VAULT_URL_ENV: UNKNOWN_STRING_VALUE, facts.SECRET_NAME_ENV: "db-password"})
    depends(the(resources, DEPLOYMENT), "spec", the(resources, wp.VAULT))
    assert judge(READS_POLICY, resources) == ([], None)
    other = vault("other-kv")
    resources.append(other)
    depends(the(resources, DEPLOYMENT), "spec", other)
    reason = UNDECIDED + "app-deployment: KEY_VAULT_URL of container 'app' is not known yet"
    assert judge(READS_POLICY, resources) == ([], reason)
    the(resources, DEPLOYMENT)["property_dependencies"] = {}
    assert judge(READS_POLICY, resources) == ([], reason)


def test_an_unknown_vault_url_does_not_stop_the_next_vault_variable_from_being_checked() -> None:
    resources = reading_stack(**{facts.VAULT_URL_ENV: UNKNOWN_STRING_VALUE, facts.VAULT_NAME_ENV: "someone-elses"})
    depends(the(resources, DEPLOYMENT), "spec", the(resources, wp.VAULT))
    assert judge(READS_POLICY, resources) == (
        [(ungranted_vault_message("KEY_VAULT_NAME", "someone-elses", "someone-elses", VAULT), pod_urn(resources))],
        None,
    )


def test_a_secret_name_unknown_in_a_preview_is_undecided() -> None:
    resources = reading_stack(**{facts.VAULT_URL_ENV: VAULT_URI, facts.SECRET_NAME_ENV: UNKNOWN_STRING_VALUE})
    reason = UNDECIDED + "app-deployment: SECRET_NAME of container 'app' is not known yet"
    assert judge(READS_POLICY, resources) == ([], reason)


def test_an_unknown_secret_name_does_not_stop_the_next_container_from_being_checked() -> None:
    resources = reading_stack(**{facts.SECRET_NAME_ENV: "ledger-token"})
    template(the(resources, DEPLOYMENT))["spec"]["initContainers"] = [
        {
            "name": "init",
            "image": "app.azurecr.io/init:1.0",
            "env": env(**{facts.SECRET_NAME_ENV: UNKNOWN_STRING_VALUE}),
        }
    ]
    assert judge(READS_POLICY, resources) == (
        [(unreadable_secret_message("ledger-token", "its vaults", "db-password"), pod_urn(resources))],
        None,
    )


def test_an_unknown_service_account_leaves_the_pod_undecided() -> None:
    resources = reading_stack()
    template(the(resources, DEPLOYMENT))["spec"]["serviceAccountName"] = UNKNOWN_STRING_VALUE
    reason = (
        UNDECIDED
        + "app-deployment: string value at .spec.template.spec.serviceAccountName can't be known during preview"
    )
    assert judge(READS_POLICY, resources) == ([], reason)


def test_every_federated_pod_is_checked_whatever_the_workloads_before_it() -> None:
    resources = reading_stack(**{facts.SECRET_NAME_ENV: "ledger-token"})
    bad = env(**{facts.VAULT_URL_ENV: "https://someone-elses.vault.azure.net/", facts.SECRET_NAME_ENV: "x"})
    resources[-1:-1] = [deployment("quiet"), deployment("unfederated", account="other-sa", variables=bad)]
    assert judge(READS_POLICY, resources) == (
        [(unreadable_secret_message("ledger-token", "its vaults", "db-password"), pod_urn(resources))],
        None,
    )


# --- pod-env-has-no-secret-literals --------------------------------------------------------------------------------

LITERALS_POLICY = "pod-env-has-no-secret-literals"


def literal_message(variable: str, reason: str, container: str = "app", workload: str = "app-deployment") -> str:
    return (
        f"Container '{container}' of '{workload}' sets env {variable} to {reason}: keep secrets out of the pod spec; "
        "put it in Key Vault and read it with the workload identity, or reference a Kubernetes Secret with "
        "valueFrom.secretKeyRef (or list the name in this policy's allowedNames if it is no secret)."
    )


#: The reason a literal under a secret's name is reported with.
BY_NAME = "a literal value and a secret's name"


def literals(variables: list[dict[str, Any]], config: dict[str, Any] | None = None) -> tuple[Found, str | None]:
    """What the engine hears from the resource policy on a Deployment whose one container sets `variables`."""
    return outcome(checked(LITERALS_POLICY), resource_args(deployment(variables=variables), config))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEALTH_PORT", "8080"),
        ("LOG_FORMAT", "json"),
        ("MONKEY_COUNT", "12"),
        ("REVEAL_SECRET", "false"),
        ("API_KEY", ""),
        ("SESSION_TOKEN", "none"),
        ("DB_PASSWORD", "3.14"),
        ("SECRET_NAME", "db-password"),
        ("TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"),
        ("DB_PASSWORD_FILE", "/mnt/secrets/db-password"),
        ("clientSecretUrl", "https://app-kv.vault.azure.net/secrets/client"),
    ],
)
def test_literals_that_are_no_secrets_pass(name: str, value: str) -> None:
    assert literals(env(**{name: value})) == ([], None)


def test_a_number_under_a_secrets_name_is_no_secret() -> None:
    assert literals([{"name": "DB_PASSWORD", "value": 1234}]) == ([], None)


@pytest.mark.parametrize(
    "name",
    ["DB_PASSWORD", "PASSWORD", "apiKey", "APIKEYs", "SMTP_PWD", "clientSecret", "GITHUB_TOKEN", "AZURE_CREDENTIALS"],
)
def test_a_literal_under_a_secrets_name_is_reported(name: str) -> None:
    assert literals(env(**{name: "hunter2-but-longer"})) == ([(literal_message(name, BY_NAME), None)], None)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (JWT, "a JSON Web Token"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
            "a PEM private key",
        ),
        ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123==", "a connection string with a key"),
        ("postgres://app:s3cr3t@db.internal:5432/app", "a URL with a password"),
        ("Xy18Q~aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456", "an Entra ID client secret"),
        ("ghp_" + "a1B2c3D4e5" * 4, "a GitHub token"),
        ("AKIAIOSFODNN7EXAMPLE", "an AWS access key"),
        ("https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=abcdefghijklmnopqrstuvwxyz%3D", "a SAS token"),
    ],
)
def test_a_value_that_looks_like_a_credential_is_reported_whatever_its_name(value: str, what: str) -> None:
    assert literals(env(GREETING=value)) == (
        [(literal_message("GREETING", f"a value that looks like {what}"), None)],
        None,
    )
    assert literals(env(DB_PASSWORD=value)) == (
        [(literal_message("DB_PASSWORD", f"a value that looks like {what}"), None)],
        None,
    )


def test_a_variable_without_a_name_is_still_checked_by_its_value() -> None:
    assert literals([{"value": JWT}]) == (
        [(literal_message("", "a value that looks like a JSON Web Token"), None)],
        None,
    )


def test_allowed_names_lets_a_listed_name_through_and_no_other() -> None:
    variables = env(LEGACY_KEY="abcdef123", DB_PASSWORD="hunter2-but-longer", GREETING=JWT)
    assert literals(variables, {"allowedNames": ["LEGACY_KEY", "GREETING"]}) == (
        [(literal_message("DB_PASSWORD", BY_NAME), None)],
        None,
    )
    everything = [
        (literal_message("LEGACY_KEY", BY_NAME), None),
        (literal_message("DB_PASSWORD", BY_NAME), None),
        (literal_message("GREETING", "a value that looks like a JSON Web Token"), None),
    ]
    assert literals(variables, {"allowedNames": ["legacy_key"]}) == (everything, None)
    assert literals(variables) == (everything, None)


def test_every_variable_is_checked_whatever_the_variables_before_it() -> None:
    variables = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        *env(LEGACY_KEY="abcdef123", HEALTH_PORT="8080", LOG_FORMAT="json", API_TOKEN="s3cr3t-value-9f8e7d"),
    ]
    assert literals(variables, {"allowedNames": ["LEGACY_KEY"]}) == (
        [(literal_message("API_TOKEN", BY_NAME), None)],
        None,
    )


def test_every_container_of_every_kind_is_checked() -> None:
    cron = row(
        "kubernetes:batch/v1:CronJob",
        "nightly",
        {
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "initContainers": [{"name": "prepare", "env": env(DB_PASSWORD="hunter2-but-longer")}],
                                "containers": [{"name": "job", "env": env(GREETING=JWT)}],
                            }
                        }
                    }
                }
            }
        },
    )
    assert outcome(checked(LITERALS_POLICY), resource_args(cron)) == (
        [
            (literal_message("DB_PASSWORD", BY_NAME, "prepare", "nightly"), None),
            (literal_message("GREETING", "a value that looks like a JSON Web Token", "job", "nightly"), None),
        ],
        None,
    )


def test_resources_that_run_no_pods_are_not_checked() -> None:
    config_map = row("kubernetes:core/v1:ConfigMap", "settings", {"data": {"DB_PASSWORD": "hunter2-but-longer"}})
    assert outcome(checked(LITERALS_POLICY), resource_args(config_map)) == ([], None)
    account = service_account()
    assert outcome(checked(LITERALS_POLICY), resource_args(account)) == ([], None)
