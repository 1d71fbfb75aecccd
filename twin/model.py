"""What the twin knows of the cloud: the Pulumi program's declarations, reduced to plain values.

`twin.declared.from_program` builds a `Declarations` from the resources the program registers (and the invokes it
makes) under mocks; the twin's servers are configured from nothing else. A stack declares any number of workloads,
each a Deployment with its own pods. Tests mutate these records (`dataclasses.replace`) to break one link of the
trust chain at a time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aks_workload_identity import facts
from twin.netpol import Endpoint, NetworkPolicy, Pod, Verdict, egress


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
    #: `properties.publicNetworkAccess` is not "Disabled": the vault answers on its public address. Off, it answers
    #: only requests that reach it through one of its private endpoints (`twin.keyvault`).
    public_network_access: bool = True


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
    """One Deployment's pod template, as the webhook and the kubelet see it."""

    #: The workload's name: the Deployment's `app.kubernetes.io/instance` label (else the Deployment's name).
    name: str
    #: The Deployment's own name in its namespace.
    deployment: str
    namespace: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    #: Empty means Kubernetes' default, the namespace's `default` account.
    service_account_name: str
    container_name: str
    #: The container's declared environment (name -> value).
    env: Mapping[str, str]

    @property
    def pod(self) -> Pod:
        """The pod as NetworkPolicies select it: its namespace and its template's labels."""
        return Pod(self.namespace, dict(self.labels))

    @property
    def vault_url(self) -> str:
        """The vault the app reads, from the container's env (the program sets it to the vault's URI)."""
        return self.env.get(facts.VAULT_URL_ENV, "")

    @property
    def secret_name(self) -> str:
        return self.env.get(SECRET_NAME_ENV, "")


@dataclass(frozen=True)
class PrivateEndpoint:
    name: str
    #: The ARM id of the resource it connects to (`privateLinkServiceId`) and which of its sub-resources.
    target_id: str
    group_ids: tuple[str, ...]
    subnet_id: str
    #: Azure's `customDnsConfigs`: each name the endpoint answers for -> its private addresses.
    addresses: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Declarations:
    cluster: Cluster
    identities: tuple[Identity, ...]
    federated_credentials: tuple[FederatedCredential, ...]
    service_accounts: tuple[ServiceAccount, ...]
    role_assignments: tuple[RoleAssignment, ...]
    vaults: tuple[Vault, ...]
    secrets: tuple[Secret, ...]
    #: One per declared Deployment, in the order the program declared them.
    workloads: tuple[Workload, ...]
    network_policies: tuple[NetworkPolicy, ...] = ()
    private_endpoints: tuple[PrivateEndpoint, ...] = ()

    def workload(self, name: str) -> Workload:
        """The workload named `name`."""
        found = [w for w in self.workloads if w.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} workloads named {name!r}; declared: {[w.name for w in self.workloads]}")
        return found[0]

    def vault_at(self, url: str) -> Vault | None:
        """The declared vault whose URI is `url` (a trailing slash either way)."""
        return next((v for v in self.vaults if v.uri.rstrip("/") == url.rstrip("/")), None)


# --- where the app's destinations are, for judging the declared NetworkPolicies ---------------------------------

#: Stand-in public addresses from the documentation ranges (RFC 5737): public as far as a NetworkPolicy can tell
#: (outside the private and link-local blocks), and no real host's. The twin never connects to them.
ENTRA_ADDRESS = "203.0.113.10"
#: A vault without a private endpoint, and any other public host the twin serves.
PUBLIC_ADDRESS = "203.0.113.20"
#: A public host the app has no need of, to show what the policies let through besides.
OTHER_PUBLIC_ADDRESS = "198.51.100.7"
#: kube-dns: pods in kube-system labelled k8s-app=kube-dns, in AKS's default overlay pod range 10.244.0.0/16.
#: The pod's resolver sends to the kube-dns Service address; NetworkPolicies see the pod behind it.
DNS_POD = Pod(facts.UNMUTATED_NAMESPACE, {"k8s-app": "kube-dns"})
DNS_ADDRESS = "10.244.0.10"
DNS_PORT = 53
HTTPS_PORT = 443
#: IMDS answers plain HTTP on port 80 of the node's link-local address.
IMDS_PORT = 80
#: The sub-resource a private endpoint names to reach a vault's data plane.
VAULT_GROUP = facts.KEY_VAULT_PRIVATE_LINK_GROUP
ENTRA_HOST = urlsplit(facts.DEFAULT_AUTHORITY_HOST).hostname or ""
#: The secret reader's variable for the secret's name (its vault's is `facts.VAULT_URL_ENV`).
SECRET_NAME_ENV = facts.SECRET_NAME_ENV


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def dns(protocol: str) -> Endpoint:
    """kube-dns over UDP (every lookup) or TCP (answers too long for UDP)."""
    return Endpoint(DNS_ADDRESS, protocol, DNS_PORT, DNS_POD)


def vault_private_addresses(declarations: Declarations, vault: Vault) -> tuple[str, ...]:
    """The addresses a declared private endpoint gives the vault's host; empty when it has none."""
    host = urlsplit(vault.uri).hostname or ""
    for endpoint in declarations.private_endpoints:
        if endpoint.target_id.lower() == vault.id.lower() and VAULT_GROUP in endpoint.group_ids:
            return endpoint.addresses.get(host, ())
    return ()


def public_address(host: str) -> str:
    """Where `host` resolves on the internet, outside the cluster's network: an address literal is itself;
    Entra ID and every vault (private endpoint or not) are at their public addresses."""
    if _is_address(host):
        return host
    return ENTRA_ADDRESS if host.lower() == ENTRA_HOST else PUBLIC_ADDRESS


def address_of(declarations: Declarations, host: str) -> str:
    """Where `host` resolves from inside the cluster: a vault with a private endpoint resolves to it (the private
    DNS zone linked to the network); everything else as on the internet."""
    for vault in declarations.vaults:
        if (urlsplit(vault.uri).hostname or "").lower() == host.lower():
            private = vault_private_addresses(declarations, vault)
            if private:
                return private[0]
    return public_address(host)


def pod_egress(declarations: Declarations, pod: Pod, host: str, port: int) -> Verdict:
    """Whether the declared NetworkPolicies let `pod` open a TCP connection to `host`:`port`.

    A name is looked up first, over UDP to kube-dns; an address literal is not.
    """
    address = address_of(declarations, host)
    if not _is_address(host):
        lookup = egress(declarations.network_policies, pod, dns("UDP"))
        if not lookup.allowed:
            return Verdict(False, f"DNS lookup of {host} dropped: {lookup.reason}")
    verdict = egress(declarations.network_policies, pod, Endpoint(address, "TCP", port))
    return verdict if verdict.allowed else Verdict(False, f"{host} ({address}) dropped: {verdict.reason}")
