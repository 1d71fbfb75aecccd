"""The stack: network -> image -> cluster -> vault -> identity -> workload.

The walkthrough's order, except that the image (with its registry) comes before the cluster, which grants its
kubelet AcrPull on that registry, and a private vault's network comes first of all.
"""

import pulumi
from pulumi_azure_native import resources

import settings
from components import (
    AksOidcCluster,
    AksOidcClusterArgs,
    AppImage,
    AppImageArgs,
    ClusterNetwork,
    ClusterNetworkArgs,
    FederatedIdentity,
    FederatedIdentityArgs,
    PrivateAccess,
    RoleGrant,
    SecretVault,
    SecretVaultArgs,
    WorkloadNamespace,
    WorkloadNamespaceArgs,
    WorkloadPod,
    WorkloadPodArgs,
)

config = settings.load()

# One resource group per stack, so `pulumi destroy` removes everything the stack made.
group = resources.ResourceGroup("rg", location=config.location)
common = {"resource_group_name": group.name, "location": group.location}

# A vault without public access needs a network of the stack's own, shared with the nodes.
net = ClusterNetwork("net", ClusterNetworkArgs(**common)) if config.vault_private else None

# The registry, the build, the vault and the identity need nothing from the cluster: they proceed while it is
# created. Only the AcrPull grants, the federated credential and the Kubernetes objects wait for it.
image_ref: pulumi.Input[str]
pull_registries: dict[str, pulumi.Input[str]] = {
    rid.rsplit("/", 1)[-1].lower(): rid for rid in config.pull_registry_ids
}
if config.prebuilt_image:
    image_ref = config.prebuilt_image
else:
    image = AppImage("app", AppImageArgs(**common, repository=config.image_repository, sku=config.registry_sku))
    image_ref = image.image_ref
    pull_registries["app"] = image.registry_id

cluster = AksOidcCluster(
    "wi",
    AksOidcClusterArgs(
        **common,
        profile=config.cluster,
        node_subnet_id=net.node_subnet_id if net else None,
        acr_pull_registries=pull_registries,
    ),
)
on_cluster = pulumi.ResourceOptions(providers={"kubernetes": cluster.provider})

vault = SecretVault(
    "secrets",
    SecretVaultArgs(
        **common,
        secrets={config.secret_name: config.secret_value},
        soft_delete_retention_days=config.vault_soft_delete_retention_days,
        purge_protection=config.vault_purge_protection,
        private_access=PrivateAccess(net.endpoint_subnet_id, net.vault_dns_zone_id) if net else None,
    ),
)

namespace = WorkloadNamespace(
    "workload", WorkloadNamespaceArgs(name=config.namespace, network_policy=config.network_policy), opts=on_cluster
)

grant = (
    RoleGrant(name="reads-vault", scope=vault.vault_id)
    if config.role_scope == "vault"
    else RoleGrant(name=f"reads-secret-{config.secret_name.lower()}", scope=vault.secret_ids[config.secret_name])
)
identity = FederatedIdentity(
    "workload",
    FederatedIdentityArgs(
        **common,
        issuer_url=cluster.oidc_issuer_url,
        namespace=namespace.name,
        service_account_names=[config.service_account_name],
        role_grants=[grant],
    ),
    opts=on_cluster,
)

workload = WorkloadPod(
    "reader",
    WorkloadPodArgs(
        namespace=identity.namespace,
        service_account_name=identity.service_account_name,
        image=image_ref,
        vault_uri=vault.vault_uri,
        secret_name=config.secret_name,
        reveal_secret=config.reveal_secret,
        replicas=config.replicas,
        wait_for=[*identity.trust, *cluster.acr_pull_assignments],
        network_policy=config.network_policy,
        private_endpoint_cidrs=[net.endpoint_cidr] if net else [],
    ),
    opts=on_cluster,
)

pulumi.export("resource_group", group.name)
pulumi.export("cluster_name", cluster.cluster_name)
pulumi.export("oidc_issuer_url", cluster.oidc_issuer_url)
pulumi.export("identity_client_id", identity.client_id)
pulumi.export("vault_uri", vault.vault_uri)
pulumi.export("secret_name", config.secret_name)
pulumi.export("image", image_ref)
pulumi.export("namespace", workload.namespace)
pulumi.export("service_account", identity.service_account_name)
pulumi.export(
    "logs_command",
    pulumi.Output.concat(
        "az aks get-credentials -g ",
        group.name,
        " -n ",
        cluster.cluster_name,
        # An Entra-only cluster's kubeconfig runs kubelogin, switched here to the Azure CLI's login.
        " && kubelogin convert-kubeconfig -l azurecli" if config.cluster.entra_rbac else "",
        " && kubectl logs -f -n ",
        workload.namespace,
        " deploy/",
        workload.deployment_name,
    ),
)
