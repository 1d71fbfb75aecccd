"""The stack: image -> cluster -> vault -> identity -> workload.

The walkthrough's order, except that the image (with its registry) comes first: the cluster grants its kubelet
AcrPull on that registry.
"""

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import resources

import settings
from components import (
    AksOidcCluster,
    AksOidcClusterArgs,
    AppImage,
    AppImageArgs,
    FederatedIdentity,
    FederatedIdentityArgs,
    RoleGrant,
    SecretVault,
    SecretVaultArgs,
    WorkloadPod,
    WorkloadPodArgs,
    facts,
)

config = settings.load()

# One resource group per stack, so `pulumi destroy` removes everything the stack made.
group = resources.ResourceGroup("rg", location=config.location)
common = {"resource_group_name": group.name, "location": group.location}

# The registry, the build, the vault and the identity need nothing from the cluster: they proceed while it is
# created. Only the AcrPull grant, the federated credential and the Kubernetes objects wait for it.
image_ref: pulumi.Input[str]
registry_ids: list[pulumi.Output[str]] = []
if config.prebuilt_image:
    image_ref = config.prebuilt_image
else:
    image = AppImage("app", AppImageArgs(**common, repository=config.image_repository))
    image_ref = image.image_ref
    registry_ids.append(image.registry_id)

cluster = AksOidcCluster(
    "wi",
    AksOidcClusterArgs(
        **common,
        node_count=config.node_count,
        node_vm_size=config.node_vm_size,
        kubernetes_version=config.kubernetes_version,
        acr_registry_ids=registry_ids,
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
    ),
)

# The pod-security label makes the cluster itself refuse any pod here that is not "restricted".
namespace = k8s.core.v1.Namespace(
    "namespace",
    metadata={"name": config.namespace, "labels": {facts.POD_SECURITY_ENFORCE_LABEL: "restricted"}},
    opts=on_cluster,
)

role_scope = vault.vault_id if config.role_scope == "vault" else vault.secret_ids[config.secret_name]
identity = FederatedIdentity(
    "workload",
    FederatedIdentityArgs(
        **common,
        issuer_url=cluster.oidc_issuer_url,
        namespace=namespace.metadata.name,
        service_account_names=[config.service_account_name],
        role_grants=[RoleGrant(scope=role_scope)],
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
        " && kubectl logs -f -n ",
        workload.namespace,
        " deploy/",
        workload.deployment_name,
    ),
)
pulumi.export("kubeconfig", cluster.kubeconfig)
