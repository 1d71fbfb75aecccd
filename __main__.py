"""The stack: network -> registry and images -> cluster -> namespaces -> one Workload per configured workload.

The walkthrough's order, except that the registry and the image builds come before the cluster (they need nothing
from it, and the cluster grants its kubelet AcrPull on the registry), and a private vault's network comes first.
Each workload (identity, vault or grants, pods) depends only on the shared cluster and its own image, so adding,
removing or changing one never touches another's resources.
"""

from typing import NotRequired, TypedDict

import pulumi
from pulumi_azure_native import resources

import settings
from aks_workload_identity import (
    AksOidcCluster,
    AksOidcClusterArgs,
    AppImage,
    AppImageArgs,
    ClusterNetwork,
    ClusterNetworkArgs,
    ImageRegistry,
    ImageRegistryArgs,
    PrivateAccess,
    SecretVault,
    SecretVaultArgs,
    Workload,
    WorkloadArgs,
    WorkloadNamespace,
    WorkloadNamespaceArgs,
    read_existing_cluster,
)
from aks_workload_identity.cluster import resolve_profile


class Placement(TypedDict):
    """Where every Azure resource of the stack goes: its own group, in its location."""

    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]


class VaultSettings(TypedDict):
    """What a workload's own vault (or the shared one) takes from the stack's settings."""

    soft_delete_retention_days: int
    purge_protection: bool
    private_access: NotRequired[PrivateAccess]


config = settings.load()
profile = resolve_profile(config.cluster)
# A workload with files needs the Secrets Store CSI driver add-on (settings turned it on in the profile): refused on
# an existing cluster without it.
existing = (
    read_existing_cluster(*config.existing_cluster, need_secrets_provider=profile["secrets_provider"])
    if config.existing_cluster
    else None
)

# One resource group per stack, so `pulumi destroy` removes everything the stack made.
group = resources.ResourceGroup("rg", location=config.location)
common = Placement(resource_group_name=group.name, location=group.location)

# A vault without public access needs a network of the stack's own, shared with the nodes.
net = ClusterNetwork("net", ClusterNetworkArgs(**common)) if config.vault_private else None
private_access = PrivateAccess(subnet_id=net.endpoint_subnet_id, dns_zone_id=net.vault_dns_zone_id) if net else None
vault_settings = VaultSettings(
    soft_delete_retention_days=config.vault_soft_delete_retention_days,
    purge_protection=config.vault_purge_protection,
)
if private_access:
    vault_settings["private_access"] = private_access

# Existing registries the kubelet may pull prebuilt images from, by name; plus the stack's own for its builds.
pull_registries: dict[str, pulumi.Input[str]] = {
    rid.rsplit("/", 1)[-1].lower(): rid for rid in config.pull_registry_ids
}
images: dict[str, pulumi.Input[str]] = {}
# Settings hold one builder per image: `acr` (ACR Tasks) or `local` (Docker here, as the deployer).
builds = {(w.build, w.repository, w.builder) for w in config.workloads if w.build}
if builds:
    local = sorted(repository for _, repository, builder in builds if builder == "local")
    registry_args = ImageRegistryArgs(**common, sku=config.registry_sku)
    if local:
        # The deployer's AcrPush, once for every local build (one assignment per principal, role and scope), which
        # each local AppImage once granted itself: the first one's grant is kept, under its old URN.
        registry_args["deployer_push"] = True
        registry_args["deployer_object_id"] = profile["deployer_object_id"]
        registry_args["deployer_principal_type"] = profile["deployer_principal_type"]
        registry_args["push_access_aliases"] = [
            f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::wi:index:AppImage$"
            f"azure-native:authorization:RoleAssignment::{settings.image_name(local[0])}-deployer-push"
        ]
    registry = ImageRegistry("app", registry_args)
    pull_registries["app"] = registry.registry_id
    for context, repository, builder in sorted(builds):
        image_args = AppImageArgs(
            registry_id=registry.registry_id,
            registry_name=registry.registry_name,
            login_server=registry.login_server,
            context_dir=context,
            repository=repository,
            builder=builder,
        )
        if builder == "local" and registry.push_access_id is not None:
            image_args["push_access_id"] = registry.push_access_id
        # Settings refuse two builds whose images would share a name or a repository.
        images[repository] = AppImage(settings.image_name(repository), image_args).image_ref

cluster_args = AksOidcClusterArgs(**common, profile=config.cluster, acr_pull_registries=pull_registries)
if existing:
    cluster_args["existing"] = existing
if net:
    cluster_args["node_subnet_id"] = net.node_subnet_id
cluster = AksOidcCluster("wi", cluster_args)
on_cluster = pulumi.ResourceOptions(providers={"kubernetes": cluster.provider})


def acr_pull_for(workload: settings.WorkloadSetting) -> list[pulumi.Resource]:
    """The AcrPull grant the workload's image needs: the stack's registry for a build, else its own registry's."""
    label = "app" if workload.build else settings.registry_label(workload.prebuilt or "")
    return [cluster.acr_pulls[label]] if label in cluster.acr_pulls else []


shared_vault = (
    SecretVault(
        "shared", SecretVaultArgs(**common, secrets=[s for w in config.workloads for s in w.secrets], **vault_settings)
    )
    if config.shared_vault
    else None
)

namespaces = {
    name: WorkloadNamespace(name, WorkloadNamespaceArgs(name=name, network_policy=policy), opts=on_cluster).name
    for name, policy in sorted({(w.namespace, w.network_policy) for w in config.workloads})
}

workloads = {}
for w in config.workloads:
    image_ref = w.prebuilt if w.prebuilt is not None else images[w.repository]
    args: WorkloadArgs = WorkloadArgs(
        **common,
        issuer_url=cluster.oidc_issuer_url,
        namespace=namespaces[w.namespace],
        service_account_names=list(w.service_accounts),
        image=image_ref,
        secrets=list(w.secrets),
        env=dict(w.env),
        delivery=w.delivery,
        replicas=w.replicas,
        network_policy=w.network_policy,
        private_endpoint_cidrs=[net.endpoint_cidr] if net else [],
    )
    if w.probes is None:
        args["health_probes"] = False
    else:
        args["probes"] = w.probes
    if w.files is not None:
        args["files"] = w.files
    if w.command is not None:
        args["command"] = list(w.command)
    if w.args is not None:
        args["args"] = list(w.args)
    if shared_vault:
        args["shared_vault"] = shared_vault.shared
    else:
        # Key by key, so the checker holds each to both TypedDicts.
        args["soft_delete_retention_days"] = vault_settings["soft_delete_retention_days"]
        args["purge_protection"] = vault_settings["purge_protection"]
        if "private_access" in vault_settings:
            args["private_access"] = vault_settings["private_access"]
    # The pods (and nothing else of the workload) wait for the AcrPull grant on their image's registry.
    workloads[w.name] = Workload(
        w.name, args, opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=acr_pull_for(w)))
    )

kube_context = pulumi.Output.concat(
    "az aks get-credentials -g ",
    existing["resource_group_name"] if existing else group.name,
    " -n ",
    cluster.cluster_name,
    # An Entra-only cluster's kubeconfig runs kubelogin, switched here to the Azure CLI's login.
    " && kubelogin convert-kubeconfig -l azurecli"
    if (existing["entra"] if existing else profile["entra_rbac"])
    else "",
)
pulumi.export("resource_group", group.name)
pulumi.export("cluster_name", cluster.cluster_name)
pulumi.export("oidc_issuer_url", cluster.oidc_issuer_url)
pulumi.export(
    "workloads",
    {
        name: {
            "client_id": w.client_id,
            "vault_uri": w.vault_uri,
            "namespace": w.namespace,
            "service_account": w.service_account_name,
            "logs_command": pulumi.Output.concat(
                kube_context, " && kubectl logs -f -n ", w.namespace, " deploy/", w.deployment_name
            ),
        }
        for name, w in workloads.items()
    },
)
