"""Pulumi components for Azure Workload Identity on AKS; import them into any Pulumi Python program, or use them from
any Pulumi language through the package's provider (provider/)."""

from importlib.metadata import PackageNotFoundError, version

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
from aks_workload_identity.identity import FederatedIdentity, FederatedIdentityArgs, RoleGrant
from aks_workload_identity.image import AppImage, AppImageArgs
from aks_workload_identity.namespace import WorkloadNamespace, WorkloadNamespaceArgs
from aks_workload_identity.network import ClusterNetwork, ClusterNetworkArgs
from aks_workload_identity.pod import Probes, WorkloadPod, WorkloadPodArgs
from aks_workload_identity.registry import ImageRegistry, ImageRegistryArgs
from aks_workload_identity.vault import PrivateAccess, SecretVault, SecretVaultArgs, SharedVault, VaultSecret
from aks_workload_identity.workload import Workload, WorkloadArgs

try:
    __version__ = version("aks-workload-identity")
except PackageNotFoundError:  # the source tree, not installed
    __version__ = "0.0.0"

#: The Pulumi package the components belong to: each registers as `wi:index:<class name>`, the type token a
#: program in any language uses, and the provider serves them under this name.
PULUMI_PACKAGE = "wi"
#: Every component, as the provider serves them.
COMPONENTS = (
    AksOidcCluster,
    AppImage,
    ClusterNetwork,
    FederatedIdentity,
    ImageRegistry,
    SecretVault,
    Workload,
    WorkloadPod,
    WorkloadNamespace,
)

__all__ = [
    "COMPONENTS",
    "PULUMI_PACKAGE",
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
    "SharedVault",
    "VaultSecret",
    "WorkloadNamespace",
    "WorkloadNamespaceArgs",
    "Workload",
    "WorkloadArgs",
    "WorkloadPod",
    "WorkloadPodArgs",
    "read_existing_cluster",
]
