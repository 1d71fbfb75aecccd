"""Workload: one app with an identity of its own, the secrets only it may read, and its pods.

Self-contained on purpose: it depends only on the shared cluster (issuer, provider) and image, and names every
child after itself, so adding, removing or changing one workload never touches another's resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from aks_workload_identity.deployment import Probes, WorkloadDeployment, WorkloadDeploymentArgs
from aks_workload_identity.identity import FederatedIdentity, FederatedIdentityArgs, RoleGrant
from aks_workload_identity.vault import PrivateAccess, SecretVault, SecretVaultArgs

#: The variable through which every workload learns its vault's URI (the one thing its config cannot know).
VAULT_URL_ENV = "KEY_VAULT_URL"


@dataclass(frozen=True)
class WorkloadArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: The cluster's OIDC issuer URL, exactly as the cluster reports it.
    issuer_url: pulumi.Input[str]
    #: Namespace of the service accounts and pods (it must exist; pass the namespace's output to order them).
    namespace: pulumi.Input[str]
    #: Service accounts federated with the workload's identity; the pods run as the first.
    service_account_names: Sequence[str]
    image: pulumi.Input[str]
    #: Secret name -> value (None: generated). In the workload's own vault, unless `shared_vault` is given.
    secrets: Mapping[str, pulumi.Input[str] | None]
    #: A vault several workloads share, already holding these secrets: the workload may read each of its own
    #: secrets there, and nothing else (Microsoft's guidance for secrets shared across applications).
    shared_vault: SecretVault | None = None
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    probes: Probes = field(default_factory=Probes)
    replicas: int = 1
    #: Of the workload's own vault.
    soft_delete_retention_days: int = 90
    purge_protection: bool = True
    private_access: PrivateAccess | None = None
    network_policy: bool = False
    private_endpoint_cidrs: Sequence[str] = ()
    #: What the pods need besides their own trust chain, e.g. the AcrPull on the registry their image is in.
    wait_for: Sequence[pulumi.Resource] = field(default_factory=tuple)


class Workload(pulumi.ComponentResource):
    """A federated identity, its vault (or its secrets' grants in a shared one), and its Deployment, whose pods
    wait only for this workload's own federated credentials and role assignments."""

    client_id: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    namespace: pulumi.Output[str]
    service_account_name: pulumi.Output[str]
    deployment_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:Workload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.shared_vault is None:
            vault = SecretVault(
                name,
                SecretVaultArgs(
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    secrets=args.secrets,
                    soft_delete_retention_days=args.soft_delete_retention_days,
                    purge_protection=args.purge_protection,
                    private_access=args.private_access,
                ),
                opts=child,
            )
            grants = [RoleGrant(name="reads-vault", scope=vault.vault_id)]
        else:
            vault = args.shared_vault
            grants = [
                RoleGrant(name=f"reads-secret-{secret.lower()}", scope=vault.secret_ids[secret])
                for secret in args.secrets
            ]
        identity = FederatedIdentity(
            name,
            FederatedIdentityArgs(
                resource_group_name=args.resource_group_name,
                location=args.location,
                issuer_url=args.issuer_url,
                namespace=args.namespace,
                service_account_names=args.service_account_names,
                role_grants=grants,
            ),
            opts=child,
        )
        deployment = WorkloadDeployment(
            name,
            WorkloadDeploymentArgs(
                namespace=identity.namespace,
                service_account_name=identity.service_account_name,
                image=args.image,
                env={**args.env, VAULT_URL_ENV: vault.vault_uri},
                probes=args.probes,
                replicas=args.replicas,
                wait_for=[*identity.trust, *args.wait_for],
                network_policy=args.network_policy,
                private_endpoint_cidrs=args.private_endpoint_cidrs,
            ),
            opts=child,
        )
        self.client_id = identity.client_id
        self.vault_uri = vault.vault_uri
        self.namespace = deployment.namespace
        self.service_account_name = identity.service_account_name
        self.deployment_name = deployment.deployment_name
        self.register_outputs(
            {
                "client_id": self.client_id,
                "vault_uri": self.vault_uri,
                "namespace": self.namespace,
                "service_account_name": self.service_account_name,
                "deployment_name": self.deployment_name,
            }
        )
