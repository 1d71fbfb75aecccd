"""The cluster: an OIDC issuer and the workload identity webhook on, and in production no local accounts, Entra ID
with Azure RBAC, and the Secrets Store CSI driver rotating what it mounts."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs

from .common import CLUSTER, Report, addon_profile, config_of, facts, get, is_production


def cluster_oidc_issuer_enabled(args: ResourceValidationArgs, report: Report) -> None:
    """oidcIssuerProfile.enabled (facts: Workload identity, cluster)."""
    if args.resource_type == CLUSTER and get(args.props, "oidcIssuerProfile", "enabled") is not True:
        report(
            f"Cluster '{args.name}' has no OIDC issuer: set oidcIssuerProfile.enabled to true; federated credentials "
            "trust the issuer URL it publishes.",
        )


def cluster_workload_identity_enabled(args: ResourceValidationArgs, report: Report) -> None:
    """securityProfile.workloadIdentity.enabled (facts: Workload identity, cluster)."""
    if args.resource_type == CLUSTER and get(args.props, "securityProfile", "workloadIdentity", "enabled") is not True:
        report(
            f"Cluster '{args.name}' has workload identity off: set securityProfile.workloadIdentity.enabled to true, "
            "or no webhook injects the token and AZURE_* variables into labelled pods.",
        )


def production_cluster_disables_local_accounts(args: ResourceValidationArgs, report: Report) -> None:
    """No static admin credential in production (facts: AKS and its kubeconfig)."""
    if args.resource_type != CLUSTER:
        return
    if not is_production(config_of(args)):
        args.not_applicable("not a production stack (set this policy's production, or productionStacks)")
    if get(args.props, "disableLocalAccounts") is not True:
        report(
            f"Production cluster '{args.name}' keeps local accounts: set disableLocalAccounts to true, so no static "
            "admin credential exists and every sign-in goes through Entra ID.",
        )


def production_cluster_uses_entra_rbac(args: ResourceValidationArgs, report: Report) -> None:
    """Entra ID sign-in with Azure RBAC in production (facts: AKS and its kubeconfig)."""
    if args.resource_type != CLUSTER:
        return
    if not is_production(config_of(args)):
        args.not_applicable("not a production stack (set this policy's production, or productionStacks)")
    if (
        get(args.props, "aadProfile", "managed") is not True
        or get(args.props, "aadProfile", "enableAzureRBAC") is not True
    ):
        report(
            f"Production cluster '{args.name}' does not authorise with Entra ID: set aadProfile.managed and "
            "aadProfile.enableAzureRBAC to true (with adminGroupObjectIDs), so access is an Azure role you can audit "
            "and revoke.",
        )


def production_csi_driver_rotates_secrets(args: ResourceValidationArgs, report: Report) -> None:
    """In production, the Secrets Store CSI add-on re-fetches what it mounts, so a rotated secret reaches the pods
    (facts: Secrets Store CSI driver)."""
    if args.resource_type != CLUSTER:
        return
    if not is_production(config_of(args)):
        args.not_applicable("not a production stack (set this policy's production, or productionStacks)")
    addon = addon_profile(args.props, facts.SECRETS_PROVIDER_ADDON)
    if get(addon, "enabled") is not True:
        args.not_applicable(f"the cluster's {facts.SECRETS_PROVIDER_ADDON} add-on is off")
    if get(addon, "config", facts.SECRET_ROTATION_CONFIG) != "true":
        report(
            f"Production cluster '{args.name}' runs the {facts.SECRETS_PROVIDER_ADDON} add-on without rotation: set "
            f'addonProfiles.{facts.SECRETS_PROVIDER_ADDON}.config.{facts.SECRET_ROTATION_CONFIG} to "true" (and '
            f"{facts.ROTATION_POLL_INTERVAL_CONFIG} if the default {facts.DEFAULT_ROTATION_POLL_INTERVAL} does not "
            "suit), or mounted files keep a secret's old value after it is rotated in Key Vault.",
        )
