"""FederatedIdentity: a managed identity that trusts exactly one cluster's service accounts, and its roles."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import managedidentity

from aks_workload_identity import facts
from aks_workload_identity.roles import assign_role


class RoleGrant(TypedDict):
    """A built-in role for the identity on one ARM scope (a vault, or one secret for shared secrets)."""

    name: str
    """What the grant is, e.g. `reads-orders-vault`: it names the role assignment, so removing or reordering grants
    never moves one grant's name to another scope."""
    scope: pulumi.Input[str]
    """ARM id of what the role is granted on, e.g. a `SecretVault`'s `vault_id`."""
    role: NotRequired[str]
    """The built-in role's GUID; by default Key Vault Secrets User, read-only access to secret values."""


#: The service account an identity federates when none is named: the walkthrough's.
DEFAULT_SERVICE_ACCOUNT_NAMES = ["wi-demo-sa"]


class FederatedIdentityArgs(TypedDict):
    resource_group_name: pulumi.Input[str]
    """The resource group the identity goes into."""
    location: pulumi.Input[str]
    """Azure region of the identity."""
    issuer_url: pulumi.Input[str]
    """The cluster's OIDC issuer URL, exactly as the cluster reports it (an `AksOidcCluster`'s `oidc_issuer_url`)."""
    namespace: pulumi.Input[str]
    """Namespace of the service accounts. It must exist: pass the namespace's output (a `WorkloadNamespace`'s
    `name`) to create them after it."""
    service_account_names: NotRequired[list[str]]
    """Service accounts to create and federate, 1 to 20, one credential each; the first is the primary one. Default
    `["wi-demo-sa"]`."""
    role_grants: NotRequired[list[RoleGrant]]
    """Roles for the identity, each on its own scope; none by default."""


class FederatedIdentity(pulumi.ComponentResource):
    """A user-assigned identity, the service accounts that name it, and one federated credential per account.

    Each credential's subject is built from its ServiceAccount's own namespace and name, and its issuer is the
    cluster's output unchanged, so neither can drift from what the pod presents. Kubernetes objects use the
    `kubernetes` provider passed in `opts.providers`.
    """

    client_id: pulumi.Output[str]
    """The identity's client id: what a pod's service account names, and what the app signs in as."""
    principal_id: pulumi.Output[str]
    """The identity's object id: the principal of its role assignments."""
    tenant_id: pulumi.Output[str]
    """The Entra tenant of the identity."""
    identity_id: pulumi.Output[str]
    """ARM id of the user-assigned identity."""
    namespace: pulumi.Output[str]
    """Namespace of the service accounts."""
    service_account_name: pulumi.Output[str]
    """The primary service account's name: what the pods run as."""

    def __init__(self, name: str, args: FederatedIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:FederatedIdentity", name, None, opts)
        account_names = list(args.get("service_account_names", DEFAULT_SERVICE_ACCOUNT_NAMES))
        role_grants = list(args.get("role_grants", []))
        count = len(account_names)
        if not 1 <= count <= facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY:
            raise ValueError(
                f"service_account_names has {count} names: an identity takes 1 to "
                f"{facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY} federated credentials"
            )
        grant_names = [grant["name"] for grant in role_grants]
        if len(set(grant_names)) != len(grant_names):
            raise ValueError(f"role_grants names {grant_names}: each grant needs a name of its own")
        child = pulumi.ResourceOptions(parent=self)

        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=args["resource_group_name"],
            location=args["location"],
            opts=child,
        )

        accounts: list[k8s.core.v1.ServiceAccount] = []
        credentials: list[managedidentity.FederatedIdentityCredential] = []
        for account_name in account_names:
            account = k8s.core.v1.ServiceAccount(
                f"{name}-{account_name}",
                metadata={
                    "name": account_name,
                    "namespace": args["namespace"],
                    "annotations": {
                        facts.CLIENT_ID_ANNOTATION: identity.client_id,
                        facts.TENANT_ID_ANNOTATION: identity.tenant_id,
                    },
                },
                automount_service_account_token=False,
                opts=child,
            )
            subject = pulumi.Output.all(account.metadata.namespace, account.metadata.name).apply(
                lambda ns_and_name: facts.service_account_subject(*ns_and_name)
            )
            # Concurrent writes of credentials on one identity fail with HTTP 409 (facts: Workload identity):
            # each waits for the one before.
            credentials.append(
                managedidentity.FederatedIdentityCredential(
                    f"{name}-{_credential_label(account_name)}-federation",
                    resource_group_name=args["resource_group_name"],
                    resource_name_=identity.name,
                    issuer=args["issuer_url"],
                    subject=subject,
                    audiences=[facts.TOKEN_AUDIENCE],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=credentials[-1:]),
                )
            )
            accounts.append(account)

        assignments = [
            assign_role(
                f"{name}-{grant['name']}",
                role=grant.get("role", facts.KEY_VAULT_SECRETS_USER),
                principal_id=identity.principal_id,
                scope=grant["scope"],
                parent=self,
            )
            for grant in role_grants
        ]

        self.client_id = identity.client_id
        self.principal_id = identity.principal_id
        self.tenant_id = identity.tenant_id
        self.identity_id = identity.id
        self.namespace = accounts[0].metadata.namespace
        self.service_account_name = accounts[0].metadata.name
        self._trust: list[pulumi.Resource] = [*credentials, *assignments]
        self.register_outputs(
            {
                "client_id": self.client_id,
                "principal_id": self.principal_id,
                "tenant_id": self.tenant_id,
                "identity_id": self.identity_id,
                "namespace": self.namespace,
                "service_account_name": self.service_account_name,
            }
        )

    @property
    def trust(self) -> list[pulumi.Resource]:
        """Python only: the federated credentials and role assignments. Pods running as these service accounts
        work only once all of them exist, so their Deployment depends on them."""
        return self._trust


def _credential_label(account_name: str) -> str:
    """The service-account name made fit for a credential's auto-name (facts.FEDERATED_CREDENTIAL_NAME): a
    service account's name is lowercase letters, digits, '-' and '.', so '.' becomes '_', which no such name holds
    and two accounts never share a label; cut to leave room in the name's 120 characters."""
    return account_name.replace(".", "_")[:60]
