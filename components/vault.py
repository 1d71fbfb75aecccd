"""SecretVault: a Key Vault on the RBAC permission model, and the secrets it holds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, keyvault, network

from aks_workload_identity import facts

#: Length of a generated secret value.
GENERATED_SECRET_LENGTH = 32
#: What every secret written here holds.
SECRET_CONTENT_TYPE = "text/plain"


@dataclass(frozen=True)
class PrivateAccess:
    """Where the vault's private endpoint goes, and the private DNS zone that resolves its name there."""

    subnet_id: pulumi.Input[str]
    dns_zone_id: pulumi.Input[str]


@dataclass(frozen=True)
class SecretVaultArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: Secret name -> value. A None value is generated (RandomPassword). Values are kept secret end to end.
    secrets: Mapping[str, pulumi.Input[str] | None] = field(default_factory=dict)
    #: Days a deleted vault stays recoverable (7-90).
    soft_delete_retention_days: int = 90
    #: Forbid purging a deleted vault during retention (irreversible once on).
    purge_protection: bool = True
    #: Reach the vault only through a private endpoint; its public network access is then off.
    private_access: PrivateAccess | None = None


class SecretVault(pulumi.ComponentResource):
    """A vault with no access policies: every data-plane permission is an Azure role assignment.

    The deployer needs no data-plane role: secrets are written through ARM, which never returns their values
    (facts: Key Vault), and they are left to go with the vault rather than deleted one by one, because azure-native
    deletes a secret through the data plane, which the deployer may neither be allowed to nor be able to reach
    (facts: Key Vault secret delete). A secret renamed or removed from `secrets` therefore stays in the vault until
    the vault goes. The vault's name changes whenever Azure would refuse a change in place (location, resource
    group, retention, purge protection turned off), so the replacement never collides with the live vault or a
    soft-deleted one.
    """

    vault_name: pulumi.Output[str]
    vault_id: pulumi.Output[str]
    #: The data-plane URI as Azure reports it (it carries the cloud's own suffix), e.g. https://x.vault.azure.net/
    vault_uri: pulumi.Output[str]
    secret_names: list[str]
    #: Secret name -> ARM id, the scope for a secret-level role assignment.
    secret_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: SecretVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:SecretVault", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for secret_name in args.secrets:
            if not facts.SECRET_NAME_RULE.match(secret_name):
                raise ValueError(f"secret name {secret_name!r}: must be 1-127 letters, digits and hyphens")
        low, high = facts.SOFT_DELETE_RETENTION_DAYS
        if not low <= args.soft_delete_retention_days <= high:
            raise ValueError(f"soft_delete_retention_days {args.soft_delete_retention_days}: must be {low}-{high}")

        # Vault names: 3-24 characters, start with a letter, globally unique (facts: Key Vault).
        prefix = re.sub(r"[^a-z0-9]", "", name.lower())[:12]
        prefix = prefix if prefix[:1].isalpha() else f"kv{prefix}"[:12]
        suffix = random.RandomString(
            f"{name}-suffix",
            length=10,
            special=False,
            upper=False,
            keepers={
                "location": args.location,
                "resource_group": args.resource_group_name,
                "soft_delete_retention_days": str(args.soft_delete_retention_days),
                "purge_protection": str(args.purge_protection),
            },
            opts=child,
        )
        tenant_id = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self)).tenant_id
        vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=pulumi.Output.concat(prefix, "-", suffix.result),
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties={
                "tenant_id": tenant_id,
                "sku": {"family": keyvault.SkuFamily.A, "name": keyvault.SkuName.STANDARD},
                "enable_rbac_authorization": True,
                "access_policies": [],
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": args.soft_delete_retention_days,
                # Azure accepts only true or absent here: once on, purge protection cannot be turned off.
                "enable_purge_protection": True if args.purge_protection else None,
                "public_network_access": "Disabled" if args.private_access else "Enabled",
                "network_acls": {
                    "default_action": keyvault.NetworkRuleAction.DENY
                    if args.private_access
                    else keyvault.NetworkRuleAction.ALLOW,
                    "bypass": keyvault.NetworkRuleBypassOptions.NONE,
                },
            },
            opts=child,
        )
        if args.private_access:
            endpoint = network.PrivateEndpoint(
                f"{name}-endpoint",
                resource_group_name=args.resource_group_name,
                location=args.location,
                subnet={"id": args.private_access.subnet_id},
                private_link_service_connections=[
                    {
                        "name": f"{name}-vault",
                        "private_link_service_id": vault.id,
                        "group_ids": [facts.KEY_VAULT_PRIVATE_LINK_GROUP],
                    }
                ],
                opts=child,
            )
            network.PrivateDnsZoneGroup(
                f"{name}-endpoint-dns",
                resource_group_name=args.resource_group_name,
                private_endpoint_name=endpoint.name,
                private_dns_zone_group_name="default",
                private_dns_zone_configs=[{"name": "vault", "private_dns_zone_id": args.private_access.dns_zone_id}],
                opts=child,
            )

        self.secret_ids = {}
        for secret_name, value in args.secrets.items():
            if value is None:
                value = random.RandomPassword(
                    f"{name}-{secret_name}-value", length=GENERATED_SECRET_LENGTH, opts=child
                ).result
            secret = keyvault.Secret(
                f"{name}-{secret_name}",
                resource_group_name=args.resource_group_name,
                vault_name=vault.name,
                secret_name=secret_name,
                properties={"value": pulumi.Output.secret(value), "content_type": SECRET_CONTENT_TYPE},
                opts=pulumi.ResourceOptions(
                    parent=self, additional_secret_outputs=["properties"], retain_on_delete=True
                ),
            )
            self.secret_ids[secret_name] = secret.id

        self.vault_name = vault.name
        self.vault_id = vault.id
        self.vault_uri = vault.properties.apply(lambda p: p.vault_uri)
        self.secret_names = list(args.secrets)
        self.register_outputs(
            {
                "vault_name": self.vault_name,
                "vault_id": self.vault_id,
                "vault_uri": self.vault_uri,
                "secret_names": self.secret_names,
                "secret_ids": self.secret_ids,
            }
        )
