"""Pulumi components for Azure Workload Identity on AKS; import them into any Pulumi Python program."""

from aks_workload_identity.cluster import (
    AksOidcCluster,
    AksOidcClusterArgs,
    ClusterNotReady,
    ClusterProfile,
    ExistingCluster,
    MaintenanceWindow,
    NodePool,
    read_existing_cluster,
)
from aks_workload_identity.deployment import Probes, WorkloadDeployment, WorkloadDeploymentArgs
from aks_workload_identity.identity import FederatedIdentity, FederatedIdentityArgs, RoleGrant
from aks_workload_identity.image import AppImage, AppImageArgs
from aks_workload_identity.namespace import WorkloadNamespace, WorkloadNamespaceArgs
from aks_workload_identity.network import ClusterNetwork, ClusterNetworkArgs
from aks_workload_identity.registry import ImageRegistry, ImageRegistryArgs
from aks_workload_identity.vault import PrivateAccess, SecretVault, SecretVaultArgs
from aks_workload_identity.workload import Workload, WorkloadArgs

__all__ = [
    "AksOidcCluster",
    "AksOidcClusterArgs",
    "AppImage",
    "AppImageArgs",
    "ClusterNetwork",
    "ClusterNetworkArgs",
    "ClusterNotReady",
    "ClusterProfile",
    "ExistingCluster",
    "FederatedIdentity",
    "FederatedIdentityArgs",
    "ImageRegistry",
    "ImageRegistryArgs",
    "MaintenanceWindow",
    "NodePool",
    "PrivateAccess",
    "Probes",
    "RoleGrant",
    "SecretVault",
    "SecretVaultArgs",
    "WorkloadNamespace",
    "WorkloadNamespaceArgs",
    "Workload",
    "WorkloadArgs",
    "WorkloadDeployment",
    "WorkloadDeploymentArgs",
    "read_existing_cluster",
]
