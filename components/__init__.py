"""Pulumi components for Azure Workload Identity on AKS; import them into any Pulumi Python program."""

from components.cluster import AksOidcCluster, AksOidcClusterArgs
from components.identity import FederatedIdentity, FederatedIdentityArgs, RoleGrant
from components.image import AppImage, AppImageArgs
from components.vault import SecretVault, SecretVaultArgs
from components.workload import WorkloadPod, WorkloadPodArgs

__all__ = [
    "AksOidcCluster",
    "AksOidcClusterArgs",
    "AppImage",
    "AppImageArgs",
    "FederatedIdentity",
    "FederatedIdentityArgs",
    "RoleGrant",
    "SecretVault",
    "SecretVaultArgs",
    "WorkloadPod",
    "WorkloadPodArgs",
]
