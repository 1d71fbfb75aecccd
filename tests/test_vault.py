"""SecretVault, built alone."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native
import pytest
from conftest import PRIVATE_ENDPOINT, RANDOM_STRING, ROLE_ASSIGNMENT, SECRET, VAULT
from pulumi_azure_native import authorization

from aks_workload_identity import PrivateAccess, SecretVault, SecretVaultArgs, VaultSecret, facts
from twin import mocks
from twin.mocks import TENANT_ID, run


def build(**overrides):
    args = {
        "resource_group_name": "rg",
        "location": "westeurope",
        "secrets": [VaultSecret(name="Secret", value="Hello")],
    }
    return run(lambda: SecretVault("kv", SecretVaultArgs(**{**args, **overrides})))


def test_vault_uses_rbac_with_no_access_policies_in_the_callers_tenant():
    properties = build().one(VAULT).inputs["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["accessPolicies"] == []
    assert properties["tenantId"] == TENANT_ID


SUBNET = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/endpoints"
ZONE = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.vaultcore.azure.net"


def test_vault_name_is_the_prefix_and_the_random_suffix():
    program = build()
    name = program.one(VAULT).inputs["vaultName"]
    suffix = program.one(RANDOM_STRING).outputs["result"]
    assert name == f"kv-{suffix}"
    assert facts.VAULT_NAME_RULE.match(name)
    assert (
        run(lambda: SecretVault("9lives", SecretVaultArgs(resource_group_name="rg", location="x")))
        .one(VAULT)
        .inputs["vaultName"]
        .startswith("kv9lives-")
    )


def test_vault_name_changes_with_everything_that_forces_a_new_vault():
    """A replacement vault must not collide with the live one or a soft-deleted one (facts: Key Vault)."""
    keepers = build(soft_delete_retention_days=30, purge_protection=False).one(RANDOM_STRING).inputs["keepers"]
    assert keepers == {
        "location": "westeurope",
        "resource_group": "rg",
        "soft_delete_retention_days": "30",
        "purge_protection": "False",
    }


def test_public_vault_by_default_and_private_with_an_endpoint_when_asked():
    public = build()
    assert public.one(VAULT).inputs["properties"]["publicNetworkAccess"] == "Enabled"
    assert public.of_type(PRIVATE_ENDPOINT) == []
    private = build(private_access=PrivateAccess(subnet_id=SUBNET, dns_zone_id=ZONE))
    properties = private.one(VAULT).inputs["properties"]
    assert properties["publicNetworkAccess"] == "Disabled"
    assert properties["networkAcls"] == {"defaultAction": "Deny", "bypass": "None"}
    endpoint = private.one(PRIVATE_ENDPOINT).inputs
    assert endpoint["subnet"] == {"id": SUBNET}
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert (connection["privateLinkServiceId"], connection["groupIds"]) == (private.one(VAULT).outputs["id"], ["vault"])
    group = private.one("azure-native:network:PrivateDnsZoneGroup").inputs
    assert group["privateEndpointName"] == private.one(PRIVATE_ENDPOINT).outputs["name"]
    assert group["privateDnsZoneConfigs"] == [{"name": "vault", "privateDnsZoneId": ZONE}]


def test_purge_protection_is_on_by_default_and_absent_when_off():
    assert build().one(VAULT).inputs["properties"]["enablePurgeProtection"] is True
    assert "enablePurgeProtection" not in build(purge_protection=False).one(VAULT).inputs["properties"]


def test_each_secret_is_written_through_arm_as_a_secret():
    program = build(secrets=[{"name": "Secret", "value": "Hello"}, {"name": "other", "value": "World"}])
    secrets = {s.inputs["secretName"]: s for s in program.of_type(SECRET)}
    assert {n: s.inputs["properties"]["value"] for n, s in secrets.items()} == {"Secret": "Hello", "other": "World"}
    for secret in secrets.values():
        assert secret.inputs["vaultName"] == program.one(VAULT).outputs["name"]
        assert secret.inputs["properties"]["contentType"] == "text/plain"
        assert "properties" in secret.secret_inputs
        assert secret.additional_secret_outputs == ["properties"]
        # Deleted with the vault, never one by one through the data plane (facts: Key Vault secret delete).
        assert secret.retain_on_delete is True


def test_missing_value_is_generated_with_random_password():
    program = build(secrets=[{"name": "Secret"}])
    password = program.one("random:index/randomPassword:RandomPassword")
    assert program.one(SECRET).inputs["properties"]["value"] == password.outputs["result"]
    assert "properties" in program.one(SECRET).secret_inputs


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # Secret names: 1-127 letters, digits and hyphens (facts.SECRET_NAME_RULE).
        (
            {"secrets": [{"name": "bad_name", "value": "x"}]},
            "secret name 'bad_name': must be 1-127 letters, digits and hyphens",
        ),
        ({"secrets": [{"name": ""}]}, "secret name '': must be 1-127 letters, digits and hyphens"),
        ({"secrets": [{"name": "a" * 128}]}, f"secret name {'a' * 128!r}: must be 1-127 letters, digits and hyphens"),
        (
            {"secrets": [{"name": "ok"}, {"name": "a"}, {"name": "A"}]},
            "secrets ['ok', 'a', 'A']: each needs a name of its own (Key Vault ignores case)",
        ),
        # Soft-delete retention: 7-90 days (facts.SOFT_DELETE_RETENTION_DAYS).
        ({"soft_delete_retention_days": 6}, "soft_delete_retention_days 6: must be 7-90"),
        ({"soft_delete_retention_days": 91}, "soft_delete_retention_days 91: must be 7-90"),
    ],
)
def test_bad_args_are_refused(overrides, message):
    with pytest.raises(ValueError) as refused:
        build(**overrides)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    "overrides",
    [
        {"secrets": [{"name": "a" * 127}, {"name": "A-9"}]},
        {"soft_delete_retention_days": 7},
        {"soft_delete_retention_days": 90},
    ],
)
def test_args_at_the_limits_are_accepted(overrides):
    assert build(**overrides).one(VAULT).inputs["properties"]["softDeleteRetentionInDays"] == overrides.get(
        "soft_delete_retention_days", 90
    )


def resolved(build_vault):
    """What the vault's outputs, `shared` and its registered outputs resolve to, and what was declared."""
    seen: dict[str, object] = {}

    def program():
        vault = build_vault()
        for key in ("vault_name", "vault_id", "vault_uri", "secret_names", "secret_ids"):
            getattr(vault, key).apply(lambda value, key=key: seen.update({key: value}))
        shared = vault.shared
        pulumi.Output.from_input(shared["vault_uri"]).apply(lambda uri: seen.update(shared_uri=uri))
        names, ids = list(shared["secret_ids"]), list(shared["secret_ids"].values())
        pulumi.Output.all(*ids).apply(lambda ids: seen.update(shared_ids=dict(zip(names, ids, strict=True))))

    return seen, run(program)


def test_outputs_name_the_vault_and_list_the_secrets_names_and_ids(monkeypatch):
    registered: list[dict[str, object]] = []
    original = pulumi.ComponentResource.register_outputs

    def spy(self, outputs):
        if isinstance(self, SecretVault):
            registered.append({k: v is getattr(self, k) for k, v in outputs.items()})
        return original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", spy)

    def vault_and_grant():
        secrets = [VaultSecret(name="b"), VaultSecret(name="a")]
        vault = SecretVault("kv", SecretVaultArgs(resource_group_name="rg", location="x", secrets=secrets))
        authorization.RoleAssignment(
            "grant", scope=vault.shared["secret_ids"]["a"], principal_id="p", role_definition_id="r"
        )
        return vault

    seen, declared = resolved(vault_and_grant)
    vault = declared.one(VAULT).outputs
    ids = {s.inputs["secretName"]: s.outputs["id"] for s in declared.of_type(SECRET)}
    assert seen == {
        "vault_name": vault["name"],
        "vault_id": vault["id"],
        "vault_uri": vault["properties"]["vaultUri"],
        "secret_names": ["b", "a"],
        "secret_ids": ids,
        "shared_uri": vault["properties"]["vaultUri"],
        "shared_ids": ids,
    }
    # Registered under their own names, for programs in other languages to read.
    outputs = ("vault_name", "vault_id", "vault_uri", "secret_names", "secret_ids")
    assert registered == [dict.fromkeys(outputs, True)]
    # A grant on one secret waits for that secret and no other.
    grant = declared.one(ROLE_ASSIGNMENT)
    assert [d for d in grant.dependencies if "keyvault:Secret" in d] == [
        s.urn for s in declared.of_type(SECRET) if s.inputs["secretName"] == "a"
    ]


def test_a_vault_without_secrets_lists_none():
    seen, _ = resolved(lambda: SecretVault("kv", SecretVaultArgs(resource_group_name="rg", location="x")))
    assert (seen["secret_names"], seen["secret_ids"], seen["shared_ids"]) == ([], {}, {})


PRIVATE = PrivateAccess(subnet_id=SUBNET, dns_zone_id=ZONE)


def test_the_component_sits_under_the_callers_parent_and_owns_everything_it_declares():
    def program():
        parent = pulumi.ComponentResource("test:index:Parent", "app")
        secrets = [VaultSecret(name="given", value="x"), VaultSecret(name="made")]
        args = SecretVaultArgs(resource_group_name="rg", location="x", secrets=secrets, private_access=PRIVATE)
        SecretVault("kv", args, pulumi.ResourceOptions(parent=parent))

    declared = run(program)
    component = declared.one("wi:index:SecretVault")
    assert (component.name, component.parent) == ("kv", declared.one("test:index:Parent").urn)
    children = {(r.type, r.name) for r in declared.resources if r.parent == component.urn}
    assert children == {
        (RANDOM_STRING, "kv-suffix"),
        (VAULT, "kv-vault"),
        (PRIVATE_ENDPOINT, "kv-endpoint"),
        ("azure-native:network:PrivateDnsZoneGroup", "kv-endpoint-dns"),
        ("random:index/randomPassword:RandomPassword", "kv-made-value"),
        (SECRET, "kv-given"),
        (SECRET, "kv-made"),
    }
    assert len(declared.resources) == len(children) + 2


def test_a_public_vault_is_declared_in_full():
    vault = build().one(VAULT)
    assert {k: v for k, v in vault.inputs.items() if k != "vaultName"} == {
        "resourceGroupName": "rg",
        "location": "westeurope",
        "properties": {
            "tenantId": TENANT_ID,
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "accessPolicies": [],
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90,
            "enablePurgeProtection": True,
            "publicNetworkAccess": "Enabled",
            "networkAcls": {"defaultAction": "Allow", "bypass": "None"},
        },
    }


@pytest.mark.parametrize(
    ("component", "prefix"),
    [
        # Vault names start with a letter and hold letters, digits and hyphens, 3-24 of them (facts.VAULT_NAME_RULE):
        # a 12-character prefix, a hyphen and the 10-character suffix fit with one to spare.
        ("Key_Vault.For-Payments", "keyvaultforp"),
        ("a1", "a1"),
        ("9lives", "kv9lives"),
        ("123456789012345", "kv1234567890"),
    ],
)
def test_vault_name_prefix_is_the_components_name_cut_to_fit(component, prefix):
    declared = run(lambda: SecretVault(component, SecretVaultArgs(resource_group_name="rg", location="x")))
    suffix = declared.one(RANDOM_STRING).outputs["result"]
    name = declared.one(VAULT).inputs["vaultName"]
    assert name == f"{prefix}-{suffix}"
    assert facts.VAULT_NAME_RULE.match(name)


def test_vault_name_suffix_is_ten_lowercase_letters_and_digits_kept_for_the_default_vault():
    suffix = build().one(RANDOM_STRING).inputs
    assert suffix == {
        "length": 10,
        "special": False,
        "upper": False,
        "keepers": {
            "location": "westeurope",
            "resource_group": "rg",
            "soft_delete_retention_days": "90",
            "purge_protection": "True",
        },
    }


def test_the_tenant_is_read_with_the_callers_azure_provider(monkeypatch):
    """A caller that deploys through an explicit provider (another tenant's credentials) gets that tenant's id."""
    providers: list[str] = []
    original = mocks.RecordingMonitor.Invoke

    def spy(self, request):
        providers.append(request.provider)
        return original(self, request)

    monkeypatch.setattr(mocks.RecordingMonitor, "Invoke", spy)

    def program():
        provider = azure_native.Provider("other-tenant")
        parent = pulumi.ComponentResource("test:index:Parent", "app", opts=pulumi.ResourceOptions(providers=[provider]))
        SecretVault(
            "kv", SecretVaultArgs(resource_group_name="rg", location="x"), pulumi.ResourceOptions(parent=parent)
        )

    declared = run(program)
    (invoke,) = declared.invokes
    assert invoke.token == "azure-native:authorization:getClientConfig"
    assert providers == [declared.one(VAULT).provider]
    assert declared.one(VAULT).provider.startswith(declared.one("pulumi:providers:azure-native").urn)


def test_the_private_endpoint_and_its_dns_zone_group_are_declared_in_full():
    private = build(private_access=PRIVATE)
    vault = private.one(VAULT)
    endpoint = private.one(PRIVATE_ENDPOINT)
    assert endpoint.inputs == {
        "resourceGroupName": "rg",
        "location": "westeurope",
        "subnet": {"id": SUBNET},
        "privateLinkServiceConnections": [
            {"name": "kv-vault", "privateLinkServiceId": vault.outputs["id"], "groupIds": ["vault"]}
        ],
    }
    assert private.one("azure-native:network:PrivateDnsZoneGroup").inputs == {
        "resourceGroupName": "rg",
        "privateEndpointName": endpoint.outputs["name"],
        "privateDnsZoneGroupName": "default",
        "privateDnsZoneConfigs": [{"name": "vault", "privateDnsZoneId": ZONE}],
    }


def test_each_secret_is_declared_in_full_and_a_generated_value_is_32_characters():
    program = build(secrets=[{"name": "Secret", "value": "Hello"}, {"name": "made"}])
    password = program.one("random:index/randomPassword:RandomPassword")
    assert password.inputs == {"length": 32}
    secrets = {s.inputs["secretName"]: s.inputs for s in program.of_type(SECRET)}
    vault_name = program.one(VAULT).outputs["name"]
    assert secrets == {
        name: {
            "resourceGroupName": "rg",
            "vaultName": vault_name,
            "secretName": name,
            "properties": {"value": value, "contentType": "text/plain"},
        }
        for name, value in [("Secret", "Hello"), ("made", password.outputs["result"])]
    }
