"""AksOidcCluster: an AKS cluster whose service-account tokens Entra ID can trust."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import containerservice

from components import facts
from components.roles import assign_role


@dataclass(frozen=True)
class AksOidcClusterArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: Nodes in the single system node pool.
    node_count: int = 1
    #: VM size of the system node pool.
    node_vm_size: str = "Standard_D2s_v5"
    #: AKS Kubernetes version; None means the region's default.
    kubernetes_version: str | None = None
    #: ARM ids of registries the kubelet identity may pull from (AcrPull).
    acr_registry_ids: Sequence[pulumi.Input[str]] = field(default_factory=tuple)


class AksOidcCluster(pulumi.ComponentResource):
    """A managed cluster with the OIDC issuer and the Workload Identity add-on, and a provider to reach it.

    The control plane has a system-assigned identity; AcrPull goes to the kubelet identity, which is the one that
    pulls images (facts: Container registry and image build).
    """

    cluster_name: pulumi.Output[str]
    #: The issuer exactly as AKS reports it, trailing slash included: federated credentials must match it byte
    #: for byte.
    oidc_issuer_url: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    kubelet_object_id: pulumi.Output[str]
    #: The user kubeconfig (secret).
    kubeconfig: pulumi.Output[str]
    #: The Kubernetes provider for this cluster; pass it to components that declare Kubernetes objects.
    provider: k8s.Provider
    #: The AcrPull assignments: a workload that pulls from those registries should depend on them.
    acr_pull_assignments: list[pulumi.Resource]

    def __init__(self, name: str, args: AksOidcClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:AksOidcCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=args.resource_group_name,
            location=args.location,
            dns_prefix=_dns_prefix(name),
            kubernetes_version=args.kubernetes_version,
            identity={"type": containerservice.ResourceIdentityType.SYSTEM_ASSIGNED},
            agent_pool_profiles=[
                {
                    "name": "system",
                    "mode": containerservice.AgentPoolMode.SYSTEM,
                    "count": args.node_count,
                    "vm_size": args.node_vm_size,
                    "os_type": containerservice.OSType.LINUX,
                    "type": containerservice.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
                }
            ],
            oidc_issuer_profile={"enabled": True},
            security_profile={"workload_identity": {"enabled": True}},
            opts=pulumi.ResourceOptions(
                parent=self,
                custom_timeouts=pulumi.CustomTimeouts(
                    create=facts.CLUSTER_CREATE_TIMEOUT,
                    update=facts.CLUSTER_CREATE_TIMEOUT,
                    delete=facts.CLUSTER_CREATE_TIMEOUT,
                ),
            ),
        )

        self.cluster_name = cluster.name
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url)
        self.tenant_id = cluster.identity.apply(lambda i: i.tenant_id)
        self.kubelet_object_id = cluster.identity_profile.apply(lambda p: p[facts.KUBELET_IDENTITY_KEY].object_id)

        self.acr_pull_assignments = [
            assign_role(
                f"{name}-acr-pull-{i}",
                role=facts.ACR_PULL,
                principal_id=self.kubelet_object_id,
                scope=registry_id,
                parent=self,
            )
            for i, registry_id in enumerate(args.acr_registry_ids)
        ]

        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=args.resource_group_name,
            resource_name=cluster.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs.apply(lambda configs: base64.b64decode(configs[0].value).decode())
        )
        # delete_unreachable lets `pulumi destroy` finish when the cluster is already gone.
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, delete_unreachable=True, opts=child)

        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "oidc_issuer_url": self.oidc_issuer_url,
                "tenant_id": self.tenant_id,
                "kubelet_object_id": self.kubelet_object_id,
                "kubeconfig": self.kubeconfig,
            }
        )


def _dns_prefix(name: str) -> str:
    """AKS DNS prefix: 1-54 letters, digits and '-', starting and ending with a letter or digit."""
    return re.sub(r"[^A-Za-z0-9-]", "-", name)[:54].strip("-") or "aks"
