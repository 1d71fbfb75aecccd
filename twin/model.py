"""What the twin knows of the cloud: the Pulumi program's declarations, reduced to plain values.

`twin.declared.from_program` builds a `Declarations` from the resources the program registers under mocks; the
twin's servers are configured from nothing else. Tests mutate these records (`dataclasses.replace`) to break one
link of the trust chain at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cluster:
    name: str
    #: The cluster's OIDC issuer URL exactly as AKS reports it (it ends with "/").
    issuer_url: str
    #: The tenant the webhook injects when a service account names none.
    tenant_id: str


@dataclass(frozen=True)
class Identity:
    """A user-assigned managed identity: an Entra service principal the token endpoint can issue tokens for."""

    name: str
    resource_group: str
    client_id: str
    principal_id: str
    tenant_id: str
    id: str


@dataclass(frozen=True)
class FederatedCredential:
    name: str
    #: The identity (by name, within `resource_group`) that this credential lets a token stand for.
    identity_name: str
    resource_group: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RoleAssignment:
    name: str
    principal_id: str
    #: `/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>`.
    role_definition_id: str
    #: The ARM id the role applies to, and everything under it.
    scope: str

    @property
    def role(self) -> str:
        """The built-in role's GUID: the last segment of the role definition id."""
        return self.role_definition_id.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Vault:
    name: str
    id: str
    #: The data-plane URI as Azure reports it, e.g. https://kv-x.vault.azure.net/
    uri: str
    tenant_id: str
    rbac: bool = True


@dataclass(frozen=True)
class Secret:
    vault_name: str
    name: str
    value: str
    #: ARM id: `<vault id>/secrets/<name>`, the scope of a secret-level role assignment.
    id: str
    #: The one version the twin holds (32 hex digits).
    version: str


@dataclass(frozen=True)
class Workload:
    """The Deployment's pod template, as the webhook and the kubelet see it."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    #: Empty means Kubernetes' default, the namespace's `default` account.
    service_account_name: str
    container_name: str
    #: The container's declared environment (name -> value).
    env: Mapping[str, str]


@dataclass(frozen=True)
class Declarations:
    cluster: Cluster
    identities: tuple[Identity, ...]
    federated_credentials: tuple[FederatedCredential, ...]
    service_accounts: tuple[ServiceAccount, ...]
    role_assignments: tuple[RoleAssignment, ...]
    vaults: tuple[Vault, ...]
    secrets: tuple[Secret, ...]
    workload: Workload
