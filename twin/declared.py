"""Reads the twin's `Declarations` out of what the Pulumi program registered under the recording mocks.

Every value comes from a resource's inputs (what the program asked for) or, for what Azure computes (ids,
client and principal ids, the issuer URL, the vault URI, a private endpoint's addresses), from the mock's
outputs. Exactly one cluster is expected: a `ManagedCluster` the program declares, or one it deploys onto and
reads with the `getManagedCluster` invoke (bring your own cluster), whose answer has the same shape as a
ManagedCluster's outputs. Each Deployment is a workload; identities, credentials, accounts, assignments, vaults,
secrets, NetworkPolicies and private endpoints may be several (or none).
"""

from __future__ import annotations

import hashlib
from typing import Any

from aks_workload_identity import facts
from twin import csi, netpol
from twin.csi import FilesDeclarations
from twin.mocks import Program, Registration
from twin.model import (
    Cluster,
    FederatedCredential,
    Identity,
    PrivateEndpoint,
    RoleAssignment,
    Secret,
    ServiceAccount,
    Vault,
    Workload,
)

CLUSTER = "azure-native:containerservice:ManagedCluster"
#: The invoke that reads a cluster the stack did not create.
GET_CLUSTER = "azure-native:containerservice:getManagedCluster"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
SECRET_PROVIDER_CLASS = f"kubernetes:{facts.SECRET_PROVIDER_CLASS_API_VERSION}:{facts.SECRET_PROVIDER_CLASS_KIND}"
#: Kubernetes' recommended label for the name of an application's instance: the workload's name.
INSTANCE_LABEL = "app.kubernetes.io/instance"


def from_program(program: Program) -> FilesDeclarations:
    where, cluster = _cluster_report(program)
    deployments = program.of_type(DEPLOYMENT)
    workloads = tuple(_workload(r) for r in deployments)
    names = [w.name for w in workloads]
    if len(set(names)) != len(names):
        raise ValueError(f"two Deployments carry the same {INSTANCE_LABEL} label: {sorted(names)}")
    return FilesDeclarations(
        cluster=_cluster(where, cluster),
        identities=(
            *(_identity(r) for r in program.of_type(IDENTITY)),
            *_kubelet_identity(cluster),
        ),
        federated_credentials=tuple(_federated_credential(r) for r in program.of_type(FEDERATED_CREDENTIAL)),
        service_accounts=tuple(_service_account(r) for r in program.of_type(SERVICE_ACCOUNT)),
        role_assignments=tuple(_role_assignment(r) for r in program.of_type(ROLE_ASSIGNMENT)),
        vaults=tuple(_vault(r) for r in program.of_type(VAULT)),
        secrets=tuple(_secret(r) for r in program.of_type(SECRET)),
        workloads=workloads,
        network_policies=tuple(_network_policy(r) for r in program.of_type(NETWORK_POLICY)),
        private_endpoints=tuple(_private_endpoint(r) for r in program.of_type(PRIVATE_ENDPOINT)),
        secret_provider_classes=tuple(
            csi.parse_class(r.inputs, r.name) for r in program.of_type(SECRET_PROVIDER_CLASS)
        ),
        csi_volumes={
            w.name: volumes
            for w, r in zip(workloads, deployments, strict=True)
            if (volumes := csi.parse_volumes(_get(r.inputs, "spec.template.spec", {})))
        },
        addon=csi.parse_addon(cluster),
    )


def _cluster_report(program: Program) -> tuple[str, dict[str, Any]]:
    """The one cluster, as Azure reports it: a declared ManagedCluster's outputs, or the `getManagedCluster`
    answer for an existing one (the same camelCase shape); with where it came from, for messages."""
    found = {r.outputs.get("id", r.urn): (f"cluster {r.name}", r.outputs) for r in program.of_type(CLUSTER)}
    for invoke in program.invokes:
        if invoke.token == GET_CLUSTER:
            where = f"existing cluster {invoke.args.get('resourceGroupName')}/{invoke.args.get('resourceName')}"
            found.setdefault(invoke.result.get("id", where), (where, invoke.result))
    if len(found) != 1:
        raise ValueError(
            f"the twin expects exactly one cluster (a {CLUSTER} or a {GET_CLUSTER} invoke); "
            f"the program has {len(found)}"
        )
    return next(iter(found.values()))


def _get(data: dict[str, Any], path: str, default: Any = None) -> Any:
    """A dotted path into nested dicts, e.g. "spec.template.metadata.labels"."""
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _cluster(where: str, outputs: dict[str, Any]) -> Cluster:
    # Azure's wire name is `issuerURL` (the SDK's `issuer_url`).
    issuer_url = _get(outputs, "oidcIssuerProfile.issuerURL")
    if not issuer_url:
        raise ValueError(f"{where} reports no oidcIssuerProfile.issuerURL: is the OIDC issuer enabled?")
    return Cluster(name=outputs.get("name", where), issuer_url=issuer_url, tenant_id=outputs["identity"]["tenantId"])


def _identity(r: Registration) -> Identity:
    o = r.outputs
    return Identity(
        name=o["name"],
        resource_group=r.inputs["resourceGroupName"],
        client_id=o["clientId"],
        principal_id=o["principalId"],
        tenant_id=o["tenantId"],
        id=o["id"],
    )


def _kubelet_identity(cluster: dict[str, Any]) -> tuple[Identity, ...]:
    """The cluster's kubelet identity: AKS creates it, so it exists in Entra ID like any declared identity."""
    kubelet = _get(cluster, "identityProfile.kubeletidentity")
    if not kubelet:
        return ()
    resource_id = kubelet["resourceId"]
    return (
        Identity(
            name=resource_id.rsplit("/", 1)[-1],
            resource_group=resource_id.split("/")[4],
            client_id=kubelet["clientId"],
            principal_id=kubelet["objectId"],
            tenant_id=cluster["identity"]["tenantId"],
            id=resource_id,
        ),
    )


def _federated_credential(r: Registration) -> FederatedCredential:
    i = r.inputs
    return FederatedCredential(
        name=r.outputs.get("name", r.name),
        identity_name=i["resourceName"],
        resource_group=i["resourceGroupName"],
        issuer=i["issuer"],
        subject=i["subject"],
        audiences=tuple(i.get("audiences", ())),
    )


def _service_account(r: Registration) -> ServiceAccount:
    metadata = r.inputs["metadata"]
    return ServiceAccount(
        namespace=metadata.get("namespace", "default"),
        name=metadata.get("name") or r.outputs["metadata"]["name"],
        annotations=dict(metadata.get("annotations") or {}),
    )


def _role_assignment(r: Registration) -> RoleAssignment:
    i = r.inputs
    return RoleAssignment(
        name=r.outputs.get("name", r.name),
        principal_id=i["principalId"],
        role_definition_id=i["roleDefinitionId"],
        scope=i["scope"],
    )


def _vault(r: Registration) -> Vault:
    properties = r.inputs["properties"]
    return Vault(
        name=r.outputs["name"],
        id=r.outputs["id"],
        uri=r.outputs["properties"]["vaultUri"],
        tenant_id=properties["tenantId"],
        rbac=bool(properties.get("enableRbacAuthorization", False)),
        # Azure's default is "Enabled"; the value compares case-insensitively.
        public_network_access=str(properties.get("publicNetworkAccess") or "Enabled").lower() != "disabled",
    )


def _secret(r: Registration) -> Secret:
    uri_with_version = _get(r.outputs, "properties.secretUriWithVersion", "")
    # ARM reports the version it created; without one, any stable 32-hex id will do.
    version = uri_with_version.rsplit("/", 1)[-1] if uri_with_version else hashlib.md5(r.urn.encode()).hexdigest()
    return Secret(
        vault_name=r.inputs["vaultName"],
        name=r.inputs["secretName"],
        value=r.inputs["properties"]["value"],
        id=r.outputs["id"],
        version=version,
    )


def _workload(r: Registration) -> Workload:
    template = _get(r.inputs, "spec.template", {})
    container = template["spec"]["containers"][0]
    # Only literal values: the program declares no `valueFrom` for this app.
    env = {e["name"]: str(e.get("value", "")) for e in container.get("env", []) if "valueFrom" not in e}
    deployment = _get(r.outputs, "metadata.name") or r.name
    labels = _get(r.inputs, "metadata.labels", {}) or {}
    return Workload(
        name=labels.get(INSTANCE_LABEL) or deployment,
        deployment=deployment,
        namespace=_get(r.inputs, "metadata.namespace", "default"),
        labels=dict(_get(template, "metadata.labels", {}) or {}),
        annotations=dict(_get(template, "metadata.annotations", {}) or {}),
        service_account_name=_get(template, "spec.serviceAccountName", "") or "",
        container_name=container.get("name", ""),
        env=env,
    )


def _network_policy(r: Registration) -> netpol.NetworkPolicy:
    """The policy as the program asked for it; an auto-named one takes the name the mock gave it."""
    return netpol.parse(r.inputs, name=_get(r.outputs, "metadata.name") or r.name)


def _private_endpoint(r: Registration) -> PrivateEndpoint:
    name = r.outputs.get("name", r.name)
    connections = [
        *(r.inputs.get("privateLinkServiceConnections") or ()),
        *(r.inputs.get("manualPrivateLinkServiceConnections") or ()),
    ]
    if len(connections) != 1:
        raise ValueError(f"private endpoint {name} has {len(connections)} connections; Azure takes exactly one")
    # Azure reports which address it gave each name the endpoint serves; nothing in the inputs says so.
    configs = r.outputs.get("customDnsConfigs")
    if not configs:
        raise ValueError(f"private endpoint {name} reports no customDnsConfigs: the twin cannot tell its address")
    return PrivateEndpoint(
        name=name,
        target_id=connections[0]["privateLinkServiceId"],
        group_ids=tuple(connections[0].get("groupIds") or ()),
        subnet_id=_get(r.inputs, "subnet.id", ""),
        addresses={c["fqdn"].lower(): tuple(c.get("ipAddresses") or ()) for c in configs},
    )
