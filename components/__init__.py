"""Pulumi components for Azure Workload Identity on AKS; import them into any Pulumi Python program."""

from components.cluster import (
    AksOidcCluster,
    AksOidcClusterArgs,
    ClusterNotReady,
    ClusterProfile,
    ExistingCluster,
    MaintenanceWindow,
    NodePool,
    read_existing_cluster,
)
from components.deployment import Probes, WorkloadDeployment, WorkloadDeploymentArgs
from components.identity import FederatedIdentity, FederatedIdentityArgs, RoleGrant
from components.image import AppImage, AppImageArgs
from components.namespace import WorkloadNamespace, WorkloadNamespaceArgs
from components.network import ClusterNetwork, ClusterNetworkArgs
from components.registry import ImageRegistry, ImageRegistryArgs
from components.vault import PrivateAccess, SecretVault, SecretVaultArgs
from components.workload import Workload, WorkloadArgs

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
