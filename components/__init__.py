"""Pulumi components for Azure Workload Identity on AKS; import them into any Pulumi Python program."""

from components.cluster import AksOidcCluster, AksOidcClusterArgs, ClusterProfile, MaintenanceWindow, NodePool
from components.identity import FederatedIdentity, FederatedIdentityArgs, RoleGrant
from components.image import AppImage, AppImageArgs
from components.namespace import WorkloadNamespace, WorkloadNamespaceArgs
from components.network import ClusterNetwork, ClusterNetworkArgs
from components.vault import PrivateAccess, SecretVault, SecretVaultArgs
from components.workload import WorkloadPod, WorkloadPodArgs

__all__ = [
    "AksOidcCluster",
    "AksOidcClusterArgs",
    "AppImage",
    "AppImageArgs",
    "ClusterNetwork",
    "ClusterNetworkArgs",
    "ClusterProfile",
    "FederatedIdentity",
    "FederatedIdentityArgs",
    "MaintenanceWindow",
    "NodePool",
    "PrivateAccess",
    "RoleGrant",
    "SecretVault",
    "SecretVaultArgs",
    "WorkloadNamespace",
    "WorkloadNamespaceArgs",
    "WorkloadPod",
    "WorkloadPodArgs",
]
