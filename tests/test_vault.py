"""SecretVault, built alone."""

from __future__ import annotations

import pytest
from conftest import SECRET, VAULT

from components import SecretVault, SecretVaultArgs, facts
from twin.mocks import TENANT_ID, run


def build(**overrides):
    args = {"resource_group_name": "rg", "location": "westeurope", "secrets": {"Secret": "Hello"}, **overrides}
    return run(lambda: SecretVault("kv", SecretVaultArgs(**args)))


def test_vault_uses_rbac_with_no_access_policies_in_the_callers_tenant():
    properties = build().one(VAULT).inputs["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["accessPolicies"] == []
    assert properties["tenantId"] == TENANT_ID


def test_vault_name_is_unique_and_valid():
    name = build().one(VAULT).inputs["vaultName"]
    assert facts.VAULT_NAME_RULE.match(name) and name.startswith("kv-") and "--" not in name


def test_purge_protection_is_on_by_default_and_absent_when_off():
    assert build().one(VAULT).inputs["properties"]["enablePurgeProtection"] is True
    assert "enablePurgeProtection" not in build(purge_protection=False).one(VAULT).inputs["properties"]


def test_each_secret_is_written_through_arm_as_a_secret():
    program = build(secrets={"Secret": "Hello", "other": "World"})
    secrets = {s.inputs["secretName"]: s for s in program.of_type(SECRET)}
    assert {n: s.inputs["properties"]["value"] for n, s in secrets.items()} == {"Secret": "Hello", "other": "World"}
    for secret in secrets.values():
        assert secret.inputs["vaultName"] == program.one(VAULT).outputs["name"]
        assert "properties" in secret.secret_inputs
        assert secret.additional_secret_outputs == ["properties"]


def test_missing_value_is_generated_with_random_password():
    program = build(secrets={"Secret": None})
    password = program.one("random:index/randomPassword:RandomPassword")
    assert program.one(SECRET).inputs["properties"]["value"] == password.outputs["result"]
    assert "properties" in program.one(SECRET).secret_inputs


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"secrets": {"bad_name": "x"}}, "secret name 'bad_name'"), ({"soft_delete_retention_days": 91}, "7-90")],
)
def test_bad_args_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        build(**overrides)
