"""The AKS workload-identity webhook's rule: what it injects into a declared workload's pod, if anything.

Modelled on Azure/azure-workload-identity's pod mutator (facts: Workload identity):

- The webhook sees only pods whose own labels (the Deployment's pod template) carry
  `azure.workload.identity/use: "true"`; a label on the service account does nothing. Pods in `kube-system`
  are never mutated. An unmutated pod gets no identity environment, so `DefaultAzureCredential` falls back to
  IMDS and fails with `ManagedIdentityCredential authentication unavailable`.
- Before any webhook, the API server's ServiceAccount admission rejects a pod whose `serviceAccountName` does
  not exist (`default` always does): `PodRejected`.
- `AZURE_CLIENT_ID` comes from the account's `client-id` annotation, `AZURE_TENANT_ID` from its `tenant-id`
  annotation or else the cluster's tenant. A variable is injected only when its value is non-empty and the
  container does not already declare it: an account without a client-id annotation gets no `AZURE_CLIENT_ID`,
  and azure-identity's `DefaultAzureCredential()` then raises "Workload identity was selected but no client ID
  was provided" (the token file and tenant are there, the client id is not).
- The projected token is for the pod's own service account in the pod's namespace, audience
  `api://AzureADTokenExchange`, whatever the annotations say.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aks_workload_identity import facts
from twin.model import Declarations, ServiceAccount, Workload

DEFAULT_SERVICE_ACCOUNT = "default"


class PodRejected(Exception):
    """The API server refused the pod (the ReplicaSet shows it as a FailedCreate event)."""


@dataclass(frozen=True)
class Admission:
    mutated: bool
    #: Why the webhook did or did not mutate, in one line.
    reason: str
    service_account: ServiceAccount | None = None
    #: The environment the webhook appends to the container (only variables it did not find there).
    env: dict[str, str] = field(default_factory=dict)
    #: The projected token's subject and audience (empty when nothing is projected).
    token_subject: str = ""
    token_audience: str = ""


def admit(declarations: Declarations, pod: Workload, token_file: str) -> Admission:
    """Admission of the workload's pod in the declared cluster; `token_file` is where the twin's kubelet writes
    the token.

    In the cluster the token is on a projected volume the webhook mounts, at the path AZURE_FEDERATED_TOKEN_FILE
    names; the twin injects the path of its own kubelet's file, which is the only difference.
    """
    name = pod.service_account_name or DEFAULT_SERVICE_ACCOUNT
    account = next((a for a in declarations.service_accounts if a.namespace == pod.namespace and a.name == name), None)
    if account is None and name == DEFAULT_SERVICE_ACCOUNT:
        account = ServiceAccount(pod.namespace, DEFAULT_SERVICE_ACCOUNT, {})
    if account is None:
        # The API server's ServiceAccount admission refuses it before any webhook runs.
        raise PodRejected(
            f"pods is forbidden: error looking up service account {pod.namespace}/{name}: "
            f'serviceaccount "{name}" not found'
        )
    if pod.namespace == facts.UNMUTATED_NAMESPACE:
        return Admission(False, f"pods in {facts.UNMUTATED_NAMESPACE} are never mutated", account)
    label = pod.labels.get(facts.WORKLOAD_IDENTITY_USE_LABEL)
    if label != "true":
        return Admission(
            False, f"pod template label {facts.WORKLOAD_IDENTITY_USE_LABEL}={label!r}, not 'true': not mutated", account
        )

    annotations = account.annotations
    client_var, tenant_var, file_var, authority_var = facts.INJECTED_ENV
    desired = {
        client_var: annotations.get(facts.CLIENT_ID_ANNOTATION, ""),
        tenant_var: annotations.get(facts.TENANT_ID_ANNOTATION, declarations.cluster.tenant_id),
        file_var: token_file,
        authority_var: facts.DEFAULT_AUTHORITY_HOST,
    }
    env = {k: v for k, v in desired.items() if v and k not in pod.env}
    reason = f"mutated for service account {pod.namespace}/{name}"
    if client_var not in env and client_var not in pod.env:
        reason += f" (it has no {facts.CLIENT_ID_ANNOTATION} annotation: no AZURE_CLIENT_ID)"
    return Admission(
        True,
        reason,
        account,
        env,
        facts.service_account_subject(pod.namespace, name),
        facts.TOKEN_AUDIENCE,
    )
