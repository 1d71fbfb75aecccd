"""The twin's workload-identity webhook rule, `twin.webhook.admit`, called directly on small pods.

Each test builds the declarations and the pod it needs and compares the whole `Admission`: whether the pod is
mutated, the service account it names, the reason (the twin's own one-line explanation, so compared whole), the
environment injected and the projected token's subject and audience. The rules are the real webhook's
(facts: Workload identity; Azure/azure-workload-identity's pod mutator): only pods labelled
`azure.workload.identity/use: "true"` outside `kube-system` are mutated, a pod naming no service account runs as
its namespace's `default`, and a variable is appended only when its value is non-empty and the container does not
already declare it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from aks_workload_identity import facts
from twin.model import Cluster, Declarations, ServiceAccount, Workload
from twin.webhook import Admission, PodRejected, admit

NAMESPACE = "orders"
TOKEN_FILE = "/tmp/twin/token"
CLUSTER_TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT_ID = "22222222-2222-2222-2222-222222222222"
ACCOUNT_TENANT = "33333333-3333-3333-3333-333333333333"
LABELLED = {facts.WORKLOAD_IDENTITY_USE_LABEL: "true"}
NO_CLIENT_ID = f" (it has no {facts.CLIENT_ID_ANNOTATION} annotation: no AZURE_CLIENT_ID)"


def declarations(*accounts: ServiceAccount) -> Declarations:
    cluster = Cluster("aks", "https://issuer.example/tenant/", CLUSTER_TENANT)
    return Declarations(cluster, (), (), accounts, (), (), (), ())


def pod(
    service_account: str = "orders",
    namespace: str = NAMESPACE,
    labels: Mapping[str, str] = LABELLED,
    env: Mapping[str, str] | None = None,
) -> Workload:
    return Workload(
        name="orders",
        deployment="orders",
        namespace=namespace,
        labels=labels,
        annotations={},
        service_account_name=service_account,
        container_name="app",
        env=env or {},
    )


def account(namespace: str = NAMESPACE, name: str = "orders", **annotations: str) -> ServiceAccount:
    return ServiceAccount(namespace, name, annotations)


def annotated(namespace: str = NAMESPACE, name: str = "orders") -> ServiceAccount:
    """An account as the program declares it: the identity's client id in its annotation."""
    return ServiceAccount(namespace, name, {facts.CLIENT_ID_ANNOTATION: CLIENT_ID})


def mutated(sa: ServiceAccount, reason: str, env: Mapping[str, str]) -> Admission:
    return Admission(
        True,
        reason,
        sa,
        dict(env),
        f"system:serviceaccount:{sa.namespace}:{sa.name}",
        "api://AzureADTokenExchange",
    )


def test_a_labelled_pod_naming_no_account_is_mutated_for_the_namespace_default() -> None:
    """Catches mutant 1: the `default` account built without its name (`ServiceAccount(ns, {})`, or a `None` name)
    or with `None` annotations. A pod naming no service account runs as its namespace's `default`, which always
    exists and here carries no annotations: the Admission names exactly that account, and with no client id the
    webhook injects no AZURE_CLIENT_ID."""
    admission = admit(declarations(annotated()), pod(service_account=""), TOKEN_FILE)

    default = ServiceAccount(NAMESPACE, "default", {})
    assert admission == mutated(
        default,
        f"mutated for service account {NAMESPACE}/default{NO_CLIENT_ID}",
        {
            "AZURE_TENANT_ID": CLUSTER_TENANT,
            "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
            "AZURE_AUTHORITY_HOST": facts.DEFAULT_AUTHORITY_HOST,
        },
    )


def test_an_unlabelled_pod_naming_no_account_is_refused_as_the_namespace_default() -> None:
    """Catches mutant 1 on the refusal path: the unmutated pod's Admission still names the `default` account
    (namespace, name `default`, no annotations), not an account missing its name."""
    admission = admit(declarations(), pod(service_account="", labels={}), TOKEN_FILE)

    assert admission == Admission(
        False,
        f"pod template label {facts.WORKLOAD_IDENTITY_USE_LABEL}=None, not 'true': not mutated",
        ServiceAccount(NAMESPACE, "default", {}),
    )


def test_a_declared_default_account_is_used_as_declared() -> None:
    """Catches the `default` account being rebuilt even when declared (`account is None or name == "default"`): a
    pod naming no account runs as its namespace's `default` as it actually is, so a client-id annotation on it is
    what the webhook injects."""
    default = annotated(name="default")
    admission = admit(declarations(default), pod(service_account=""), TOKEN_FILE)

    assert admission == mutated(
        default,
        f"mutated for service account {NAMESPACE}/default",
        {
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_TENANT_ID": CLUSTER_TENANT,
            "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
            "AZURE_AUTHORITY_HOST": facts.DEFAULT_AUTHORITY_HOST,
        },
    )


def test_a_pod_naming_an_account_missing_from_its_namespace_is_rejected() -> None:
    """Catches the rejection losing its message (`PodRejected(None)`) and a missing account being stood in for by
    `default` (`account is None or name == "default"`): the API server's ServiceAccount admission refuses a pod whose
    account does not exist in the pod's namespace (one of that name elsewhere does not count), before any webhook
    runs, with the error the ReplicaSet's FailedCreate event shows."""
    with pytest.raises(PodRejected) as rejected:
        admit(declarations(annotated(namespace="billing", name="nobody")), pod(service_account="nobody"), TOKEN_FILE)

    assert str(rejected.value) == (
        f'pods is forbidden: error looking up service account {NAMESPACE}/nobody: serviceaccount "nobody" not found'
    )


def test_a_labelled_pod_in_kube_system_is_never_mutated_but_names_its_account() -> None:
    """Catches mutant 2: the kube-system refusal returning no account (`None`) instead of the pod's own. The webhook
    never mutates pods in kube-system, however labelled and whatever its account's annotations say; the Admission
    still reports which account the pod runs as."""
    sa = annotated(namespace="kube-system")
    admission = admit(declarations(sa), pod(namespace="kube-system"), TOKEN_FILE)

    assert admission == Admission(False, "pods in kube-system are never mutated", sa)


def test_kube_system_default_account_is_named_in_the_refusal() -> None:
    """Catches mutant 2 (and mutant 1) together: a kube-system pod naming no account is refused, and the refusal
    names kube-system's `default` account with no annotations."""
    admission = admit(declarations(), pod(service_account="", namespace="kube-system"), TOKEN_FILE)

    assert admission == Admission(
        False, "pods in kube-system are never mutated", ServiceAccount("kube-system", "default", {})
    )


@pytest.mark.parametrize(
    ("labels", "shown"),
    [
        ({}, "None"),
        ({facts.WORKLOAD_IDENTITY_USE_LABEL: "True"}, "'True'"),
        ({facts.WORKLOAD_IDENTITY_USE_LABEL: "false"}, "'false'"),
        ({facts.WORKLOAD_IDENTITY_USE_LABEL: ""}, "''"),
        ({"app": "orders"}, "None"),
    ],
    ids=["unlabelled", "True", "false", "empty", "other-label"],
)
def test_a_pod_without_the_use_label_true_is_not_mutated_and_says_why(labels: Mapping[str, str], shown: str) -> None:
    """Catches mutant 3: the label refusal's reason dropped (`Admission(False, account)`, which also loses the
    account). The webhook's object selector matches only the exact label value "true" on the pod itself; an
    annotated account does not make up for it. The reason quotes the label as the pod has it."""
    sa = annotated()
    admission = admit(declarations(sa), pod(labels=labels), TOKEN_FILE)

    assert admission == Admission(
        False, f"pod template label {facts.WORKLOAD_IDENTITY_USE_LABEL}={shown}, not 'true': not mutated", sa
    )


def test_an_empty_tenant_annotation_injects_no_tenant() -> None:
    """Catches mutant 4 (`if v or k not in pod.env`): an empty desired value is not injected. An account whose
    tenant-id annotation is present but empty gets that empty value, not the cluster's tenant (the webhook falls
    back only when the annotation is absent), and the webhook appends no variable whose value is empty."""
    sa = account(**{facts.CLIENT_ID_ANNOTATION: CLIENT_ID, facts.TENANT_ID_ANNOTATION: ""})
    admission = admit(declarations(sa), pod(), TOKEN_FILE)

    assert admission == mutated(
        sa,
        f"mutated for service account {NAMESPACE}/orders",
        {
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
            "AZURE_AUTHORITY_HOST": facts.DEFAULT_AUTHORITY_HOST,
        },
    )


def test_variables_the_container_already_declares_are_left_as_the_pod_set_them() -> None:
    """Catches mutant 4 (`if v or k not in pod.env`): the webhook appends only variables the container does not
    already declare, so a pod's own AZURE_TENANT_ID and AZURE_AUTHORITY_HOST are not overwritten (they are absent
    from what the webhook injects), while the others are injected from the account's annotations."""
    sa = account(**{facts.CLIENT_ID_ANNOTATION: CLIENT_ID, facts.TENANT_ID_ANNOTATION: ACCOUNT_TENANT})
    own = {"AZURE_TENANT_ID": "pod-tenant", "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/"}
    admission = admit(declarations(sa), pod(env=own), TOKEN_FILE)

    assert admission == mutated(
        sa,
        f"mutated for service account {NAMESPACE}/orders",
        {"AZURE_CLIENT_ID": CLIENT_ID, "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE},
    )


def test_a_variable_the_container_declares_empty_is_still_not_injected() -> None:
    """Catches mutant 4 from the other side: the container declaring a variable, even with an empty value, is
    enough for the webhook to leave it alone (it checks the name, not the value)."""
    sa = annotated()
    admission = admit(declarations(sa), pod(env={"AZURE_CLIENT_ID": ""}), TOKEN_FILE)

    assert admission == mutated(
        sa,
        f"mutated for service account {NAMESPACE}/orders",
        {
            "AZURE_TENANT_ID": CLUSTER_TENANT,
            "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
            "AZURE_AUTHORITY_HOST": facts.DEFAULT_AUTHORITY_HOST,
        },
    )


def test_an_account_with_a_client_id_is_mutated_without_a_note() -> None:
    """Catches mutant 5 (`client_var in env ...`, and `... or ...`): when the webhook injects AZURE_CLIENT_ID from
    the account's annotation the reason carries no "no AZURE_CLIENT_ID" note; the full injection is the client id,
    the cluster's tenant, the token file and the public-cloud authority host."""
    sa = annotated()
    admission = admit(declarations(sa), pod(), TOKEN_FILE)

    assert admission == mutated(
        sa,
        f"mutated for service account {NAMESPACE}/orders",
        {
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_TENANT_ID": CLUSTER_TENANT,
            "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
            "AZURE_AUTHORITY_HOST": facts.DEFAULT_AUTHORITY_HOST,
        },
    )


def test_an_account_without_a_client_id_is_mutated_with_the_note() -> None:
    """Catches mutants 5 and 6: with no client-id annotation and no AZURE_CLIENT_ID of the pod's own, nothing gives
    the container a client id, and the reason is the usual one followed by the note (not the note alone, which
    `reason = ...` would leave). The rest is still injected: the account's own tenant, token file, authority."""
    sa = account(**{facts.TENANT_ID_ANNOTATION: ACCOUNT_TENANT})
    admission = admit(declarations(sa), pod(), TOKEN_FILE)

    assert admission == mutated(
        sa,
        f"mutated for service account {NAMESPACE}/orders (it has no azure.workload.identity/client-id annotation: "
        "no AZURE_CLIENT_ID)",
        {
            "AZURE_TENANT_ID": ACCOUNT_TENANT,
            "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
            "AZURE_AUTHORITY_HOST": facts.DEFAULT_AUTHORITY_HOST,
        },
    )


def test_a_pod_setting_its_own_client_id_needs_no_annotation() -> None:
    """Catches mutant 5 (`... and client_var in pod.env`): an account without a client-id annotation, but a container
    that declares AZURE_CLIENT_ID itself, does have a client id, so the reason carries no note; the webhook injects
    no AZURE_CLIENT_ID (the pod's own value stands) and injects the rest."""
    sa = account()
    admission = admit(declarations(sa), pod(env={"AZURE_CLIENT_ID": CLIENT_ID}), TOKEN_FILE)

    assert admission == mutated(
        sa,
        f"mutated for service account {NAMESPACE}/orders",
        {
            "AZURE_TENANT_ID": CLUSTER_TENANT,
            "AZURE_FEDERATED_TOKEN_FILE": TOKEN_FILE,
            "AZURE_AUTHORITY_HOST": facts.DEFAULT_AUTHORITY_HOST,
        },
    )
