"""SecretVault: a Key Vault on the RBAC permission model, and the secrets it holds."""

import re
from typing import NotRequired, TypedDict

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, keyvault, network

from aks_workload_identity import facts

#: Length of a generated secret value.
GENERATED_SECRET_LENGTH = 32
#: What every secret written here holds.
SECRET_CONTENT_TYPE = "text/plain"


class PrivateAccess(TypedDict):
    """Where the vault's private endpoint goes, and the private DNS zone that resolves its name there."""

    subnet_id: pulumi.Input[str]
    """ARM id of the subnet the private endpoint takes its address from (`ClusterNetwork`'s `endpoint_subnet_id`)."""
    dns_zone_id: pulumi.Input[str]
    """ARM id of the `privatelink.vaultcore.azure.net` zone linked to that network (`ClusterNetwork`'s
    `vault_dns_zone_id`)."""


class VaultSecret(TypedDict):
    """A secret the vault holds."""

    name: str
    """The secret's name: 1-127 letters, digits and hyphens, unique in the vault (Key Vault ignores case)."""
    value: NotRequired[pulumi.Input[str]]
    """Its value, kept secret end to end; without one, a 32-character value is generated (`RandomPassword`)."""


class SharedVault(TypedDict):
    """What a `Workload` needs of a vault it shares with other workloads (a `SecretVault`'s `shared`)."""

    vault_uri: pulumi.Input[str]
    """The vault's data-plane URI, as Azure reports it."""
    secret_ids: dict[str, pulumi.Input[str]]
    """Secret name -> ARM id, for each secret the vault holds: the scope of a secret-level role assignment."""


class SecretVaultArgs(TypedDict):
    resource_group_name: pulumi.Input[str]
    """The resource group the vault goes into."""
    location: pulumi.Input[str]
    """Azure region of the vault."""
    secrets: NotRequired[list[VaultSecret]]
    """The secrets the vault holds; none by default."""
    soft_delete_retention_days: NotRequired[int]
    """Days a deleted vault stays recoverable, 7-90; default 90. Azure fixes it when the vault is created."""
    purge_protection: NotRequired[bool]
    """Forbid purging a deleted vault during retention (the default; irreversible once on)."""
    private_access: NotRequired[PrivateAccess]
    """Reach the vault only through a private endpoint; its public network access is then off. Public by default."""


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
    """The vault's name (a random suffix makes it globally unique)."""
    vault_id: pulumi.Output[str]
    """ARM id of the vault: the scope of a vault-level role assignment (a `RoleGrant`'s `scope`)."""
    vault_uri: pulumi.Output[str]
    """The data-plane URI as Azure reports it (it carries the cloud's own suffix), e.g. https://x.vault.azure.net/"""
    secret_names: pulumi.Output[list[str]]
    """The names of the secrets the vault holds, in the order given."""
    secret_ids: pulumi.Output[dict[str, str]]
    """Secret name -> ARM id, the scope of a secret-level role assignment."""

    def __init__(self, name: str, args: SecretVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:SecretVault", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secrets = list(args.get("secrets", []))
        retention = args.get("soft_delete_retention_days", 90)
        purge_protection = args.get("purge_protection", True)
        private_access = args.get("private_access")
        for secret in secrets:
            if not facts.SECRET_NAME_RULE.match(secret["name"]):
                raise ValueError(f"secret name {secret['name']!r}: must be 1-127 letters, digits and hyphens")
        names = [secret["name"].lower() for secret in secrets]
        if len(set(names)) != len(names):
            raise ValueError(
                f"secrets {[s['name'] for s in secrets]}: each needs a name of its own (Key Vault ignores case)"
            )
        low, high = facts.SOFT_DELETE_RETENTION_DAYS
        if not low <= retention <= high:
            raise ValueError(f"soft_delete_retention_days {retention}: must be {low}-{high}")

        # Vault names: 3-24 characters, start with a letter, globally unique (facts: Key Vault).
        prefix = re.sub(r"[^a-z0-9]", "", name.lower())[:12]
        prefix = prefix if prefix[:1].isalpha() else f"kv{prefix}"[:12]
        suffix = random.RandomString(
            f"{name}-suffix",
            length=10,
            special=False,
            upper=False,
            keepers={
                "location": args["location"],
                "resource_group": args["resource_group_name"],
                "soft_delete_retention_days": str(retention),
                "purge_protection": str(purge_protection),
            },
            opts=child,
        )
        tenant_id = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self)).tenant_id
        vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=pulumi.Output.concat(prefix, "-", suffix.result),
            resource_group_name=args["resource_group_name"],
            location=args["location"],
            properties={
                "tenant_id": tenant_id,
                "sku": {"family": keyvault.SkuFamily.A, "name": keyvault.SkuName.STANDARD},
                "enable_rbac_authorization": True,
                "access_policies": [],
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": retention,
                # Azure accepts only true or absent here: once on, purge protection cannot be turned off.
                "enable_purge_protection": True if purge_protection else None,
                "public_network_access": "Disabled" if private_access else "Enabled",
                "network_acls": {
                    "default_action": keyvault.NetworkRuleAction.DENY
                    if private_access
                    else keyvault.NetworkRuleAction.ALLOW,
                    "bypass": keyvault.NetworkRuleBypassOptions.NONE,
                },
            },
            # The new vault, under its new name, before the old one goes (facts: Delete-before-replace).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )
        if private_access:
            endpoint = network.PrivateEndpoint(
                f"{name}-endpoint",
                resource_group_name=args["resource_group_name"],
                location=args["location"],
                subnet={"id": private_access["subnet_id"]},
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
                resource_group_name=args["resource_group_name"],
                private_endpoint_name=endpoint.name,
                private_dns_zone_group_name="default",
                private_dns_zone_configs=[{"name": "vault", "private_dns_zone_id": private_access["dns_zone_id"]}],
                opts=child,
            )

        secret_ids: dict[str, pulumi.Input[str]] = {}
        for secret in secrets:
            secret_name, value = secret["name"], secret.get("value")
            if value is None:
                value = random.RandomPassword(
                    f"{name}-{secret_name}-value", length=GENERATED_SECRET_LENGTH, opts=child
                ).result
            stored = keyvault.Secret(
                f"{name}-{secret_name}",
                resource_group_name=args["resource_group_name"],
                vault_name=vault.name,
                secret_name=secret_name,
                properties={"value": pulumi.Output.secret(value), "content_type": SECRET_CONTENT_TYPE},
                opts=pulumi.ResourceOptions(
                    parent=self, additional_secret_outputs=["properties"], retain_on_delete=True
                ),
            )
            secret_ids[secret_name] = stored.id

        self.vault_name = vault.name
        self.vault_id = vault.id
        self.vault_uri = vault.properties.apply(lambda p: p.vault_uri)
        self.secret_names = pulumi.Output.from_input([secret["name"] for secret in secrets])
        self.secret_ids = pulumi.Output.all(**secret_ids) if secret_ids else pulumi.Output.from_input({})
        self._shared = SharedVault(vault_uri=self.vault_uri, secret_ids=secret_ids)
        self.register_outputs(
            {
                "vault_name": self.vault_name,
                "vault_id": self.vault_id,
                "vault_uri": self.vault_uri,
                "secret_names": self.secret_names,
                "secret_ids": self.secret_ids,
            }
        )

    @property
    def shared(self) -> SharedVault:
        """Python only: this vault as a `Workload`'s `shared_vault`. Each secret's id there carries its own secret
        alone, so a grant on one secret waits for that secret and no other."""
        return self._shared
