"""SecretVault, built alone."""

from __future__ import annotations

import pytest
from conftest import PRIVATE_ENDPOINT, RANDOM_STRING, SECRET, VAULT

from aks_workload_identity import PrivateAccess, SecretVault, SecretVaultArgs, VaultSecret, facts
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
        ({"secrets": [{"name": "bad_name", "value": "x"}]}, "secret name 'bad_name'"),
        ({"secrets": [{"name": "a"}, {"name": "A"}]}, "each needs a name of its own"),
        ({"soft_delete_retention_days": 91}, "7-90"),
    ],
)
def test_bad_args_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        build(**overrides)


def test_outputs_list_the_secrets_names_and_ids():
    seen: dict[str, object] = {}

    def program():
        secrets = [VaultSecret(name="a"), VaultSecret(name="b")]
        vault = SecretVault("kv", SecretVaultArgs(resource_group_name="rg", location="x", secrets=secrets))
        vault.secret_names.apply(lambda names: seen.update(names=names))
        vault.secret_ids.apply(lambda ids: seen.update(ids=ids))

    declared = run(program)
    assert seen == {
        "names": ["a", "b"],
        "ids": {s.inputs["secretName"]: s.outputs["id"] for s in declared.of_type(SECRET)},
    }
