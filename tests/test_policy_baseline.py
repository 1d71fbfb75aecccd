"""The policy pack's baseline: each bad registry, image, pod environment, vault or cluster setting is reported by
the policy that guards it, and so is a vault or secret managed with a Key Vault API version Azure stops serving."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from aks_workload_identity import facts
from tests.policy_args import (
    Row,
    checked,
    only,
    resource_args,
    rows,
    run,
    stack_args,
    violations,
    wp,
)
from twin.mocks import Program


def _inputs(dev: Program, type_: str) -> Row:
    (row,) = [r for r in rows(dev, "inputs") if r["type"] == type_]
    return row


def _deployment(change: Callable[[dict[str, Any]], None]) -> Callable[[Row], None]:
    return lambda row: change(row["props"]["spec"]["template"]["spec"]["containers"][0])


def _env(name: str, value: str) -> Callable[[Row], None]:
    return _deployment(lambda c: c["env"].append({"name": name, "value": value}))


_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl"

#: name: (policy, resource type in the dev stack, mutation of its inputs, what the message must say)
RESOURCE_BREAKS: dict[str, tuple[Callable, str, Callable[[Row], None], str]] = {
    "audience of another cloud": (
        checked("fic-audience-is-token-exchange"),
        wp.FEDERATED_CREDENTIAL,
        lambda r: r["props"].update(audiences=["api://AzureADTokenExchangeChina"]),
        r"set audiences to exactly \['api://AzureADTokenExchange'\]",
    ),
    "a second audience": (
        checked("fic-audience-is-token-exchange"),
        wp.FEDERATED_CREDENTIAL,
        lambda r: r["props"]["audiences"].append("api://other"),
        r"AADSTS70021",
    ),
    "subject not in the service-account form": (
        checked("fic-subject-is-a-service-account"),
        wp.FEDERATED_CREDENTIAL,
        lambda r: r["props"].update(subject="system:serviceaccount:wi-demo/wi-demo-sa"),
        r"system:serviceaccount:<namespace>:<service account>",
    ),
    "vault on the access-policy model": (
        checked("key-vault-uses-rbac"),
        wp.VAULT,
        lambda r: r["props"]["properties"].update(enableRbacAuthorization=False),
        r"enableRbacAuthorization to true",
    ),
    "vault relying on the provider's default model": (
        checked("key-vault-uses-rbac"),
        wp.VAULT,
        lambda r: r["props"]["properties"].pop("enableRbacAuthorization"),
        r"not on the RBAC permission model",
    ),
    "vault with access policies": (
        checked("key-vault-uses-rbac"),
        wp.VAULT,
        lambda r: r["props"]["properties"].update(accessPolicies=[{"objectId": "x", "permissions": {}}]),
        r"declares 1 access policies",
    ),
    "registry admin user on": (
        checked("registry-admin-user-disabled"),
        "azure-native:containerregistry:Registry",
        lambda r: r["props"].update(adminUserEnabled=True),
        r"adminUserEnabled to false",
    ),
    "registry anonymous pull on": (
        checked("registry-anonymous-pull-disabled"),
        "azure-native:containerregistry:Registry",
        lambda r: r["props"].update(anonymousPullEnabled=True),
        r"anonymousPullEnabled to false",
    ),
    "image tagged latest": (
        checked("images-are-pinned"),
        "kubernetes:apps/v1:Deployment",
        _deployment(lambda c: c.update(image="myregistry.azurecr.io/secret-reader:latest")),
        r"tagged latest",
    ),
    "image without tag or digest": (
        checked("images-are-pinned"),
        "kubernetes:apps/v1:Deployment",
        _deployment(lambda c: c.update(image="localhost:5000/secret-reader")),
        r"without a tag or digest",
    ),
    "cluster without OIDC issuer": (
        checked("cluster-oidc-issuer-enabled"),
        wp.CLUSTER,
        lambda r: r["props"].update(oidcIssuerProfile={"enabled": False}),
        r"oidcIssuerProfile.enabled to true",
    ),
    "cluster without workload identity": (
        checked("cluster-workload-identity-enabled"),
        wp.CLUSTER,
        lambda r: r["props"].pop("securityProfile"),
        r"securityProfile.workloadIdentity.enabled to true",
    ),
    "password literal in the pod's env": (
        checked("pod-env-has-no-secret-literals"),
        "kubernetes:apps/v1:Deployment",
        _env("DB_PASSWORD", "hunter2-but-longer"),
        r"sets env DB_PASSWORD to a literal value",
    ),
    "API key literal in camelCase": (
        checked("pod-env-has-no-secret-literals"),
        "kubernetes:apps/v1:Deployment",
        _env("apiKey", "k-123456789"),
        r"sets env apiKey",
    ),
    "token under an innocent name": (
        checked("pod-env-has-no-secret-literals"),
        "kubernetes:apps/v1:Deployment",
        _env("GREETING", _JWT),
        r"looks like a JSON Web Token",
    ),
    "connection string with a key": (
        checked("pod-env-has-no-secret-literals"),
        "kubernetes:apps/v1:Deployment",
        _env("STORAGE", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123=="),
        r"connection string",
    ),
}


@pytest.mark.parametrize(
    ("validate", "type_", "mutate", "message"), RESOURCE_BREAKS.values(), ids=RESOURCE_BREAKS.keys()
)
def test_each_bad_resource_is_reported_by_its_policy(
    dev: Program, validate: Callable, type_: str, mutate: Callable[[Row], None], message: str
) -> None:
    row = _inputs(dev, type_)
    assert violations(validate, resource_args(row)) == []
    mutate(row)
    found = violations(validate, resource_args(row))
    assert any(re.search(message, f) for f in found), found


def test_secret_message_never_repeats_the_value(dev: Program) -> None:
    row = _inputs(dev, "kubernetes:apps/v1:Deployment")
    _env("API_TOKEN", "s3cr3t-value-9f8e7d")(row)
    (message,) = violations(checked("pod-env-has-no-secret-literals"), resource_args(row))
    assert "s3cr3t-value-9f8e7d" not in message


def test_names_that_only_point_at_secrets_are_not_secrets(dev: Program) -> None:
    row = _inputs(dev, "kubernetes:apps/v1:Deployment")
    for name, value in [("SECRET_NAME", "db-password"), ("REVEAL_SECRET", "false"), ("TOKEN_FILE", "/var/run/t")]:
        _env(name, value)(row)
    _env("MONKEY_COUNT", "12")(row)
    assert violations(checked("pod-env-has-no-secret-literals"), resource_args(row)) == []
    _env("LEGACY_KEY", "abcdef")(row)
    assert (
        violations(checked("pod-env-has-no-secret-literals"), resource_args(row, {"allowedNames": ["LEGACY_KEY"]}))
        == []
    )


def test_a_key_vault_access_policy_resource_is_refused() -> None:
    row = {"type": wp.ACCESS_POLICY, "name": "legacy", "urn": "urn:x", "props": {"policy": {"objectId": "x"}}}
    assert any("delete it" in v for v in violations(checked("key-vault-uses-rbac"), resource_args(row)))


def test_production_cluster_with_local_accounts_and_without_entra(prod: Program) -> None:
    cluster = only(rows(prod, "inputs"), wp.CLUSTER)
    cluster["props"]["disableLocalAccounts"] = False
    cluster["props"]["aadProfile"]["enableAzureRBAC"] = False
    production = {"production": True}
    assert violations(checked("production-cluster-disables-local-accounts"), resource_args(cluster, production))
    assert violations(checked("production-cluster-uses-entra-rbac"), resource_args(cluster, production))


# --- Key Vault management API version (advisory) ----------------------------------------------------------------------


def _managed(resources: list[Row], version: str | None = None, type_: str | None = None) -> list[Row]:
    """The stack's vaults and secrets, given an azureApiVersion output or another type token."""
    found = [r for r in resources if r["type"] in (wp.VAULT, wp.SECRET)]
    for row in found:
        if version is not None:
            row["props"]["azureApiVersion"] = version
        if type_ is not None:
            row["type"] = row["type"].replace("azure-native:keyvault:", type_)
    return found


def test_vaults_on_the_providers_default_api_version_are_reported(dev: Program) -> None:
    resources = rows(dev)
    found = violations(wp.key_vault_api_version_is_served, stack_args(resources))
    assert len(found) == len(_managed(resources)) == 2
    assert all(
        f"API version {facts.AZURE_NATIVE_KEYVAULT_API_VERSION} (the default API version" in f
        and facts.KEY_VAULT_OLD_API_RETIREMENT in f
        and f"pulumi package add azure-native keyvault {facts.KEY_VAULT_MIN_API_VERSION}" in f
        for f in found
    )


@pytest.mark.parametrize(
    ("version", "type_", "served"),
    [
        ("2026-02-01", None, True),
        ("2025-05-01", None, False),
        ("2026-03-01-preview", None, True),
        (None, "azure-native:keyvault/v20260201:", True),
        (None, "azure-native:keyvault/v20241101:", False),
        (None, "azure-native_keyvault_v20260201:keyvault:", True),
        (None, "azure-native_keyvault_v20250501:keyvault:", False),
        # The output, once known, says what the provider used, whatever the token.
        ("2024-11-01", "azure-native:keyvault/v20260201:", False),
    ],
)
def test_the_api_version_is_read_from_the_output_else_the_type_token(
    dev: Program, version: str | None, type_: str | None, served: bool
) -> None:
    resources = rows(dev)
    _managed(resources, version, type_)
    found = violations(wp.key_vault_api_version_is_served, stack_args(resources))
    assert (found == []) is served, found


def test_the_api_version_of_a_first_preview_is_the_tokens(dev: Program) -> None:
    resources = rows(dev)
    _managed(resources, UNKNOWN_STRING_VALUE, "azure-native_keyvault_v20260201:keyvault:")
    assert run(wp.key_vault_api_version_is_served, stack_args(resources)) == ([], None)


def test_a_stack_without_key_vault_is_not_applicable(dev: Program) -> None:
    resources = [r for r in rows(dev) if r["type"] not in (wp.VAULT, wp.SECRET)]
    found, reason = run(wp.key_vault_api_version_is_served, stack_args(resources))
    assert found == [] and "manages no Key Vault" in (reason or "")


# --- The Secrets Store CSI add-on rotates in production ---------------------------------------------------------------


def _with_addon(cluster: Row, **config: str) -> Row:
    cluster["props"].setdefault("addonProfiles", {})[facts.SECRETS_PROVIDER_ADDON] = {"enabled": True, "config": config}
    return cluster


def test_production_csi_add_on_without_rotation_is_reported(prod: Program) -> None:
    production = {"production": True}
    validate = checked("production-csi-driver-rotates-secrets")
    cluster = only(rows(prod, "inputs"), wp.CLUSTER)
    cluster["props"].get("addonProfiles", {}).pop(facts.SECRETS_PROVIDER_ADDON, None)
    found, reason = run(validate, resource_args(cluster, production))
    assert found == [] and "add-on is off" in (reason or "")
    rotating = {facts.SECRET_ROTATION_CONFIG: "true", facts.ROTATION_POLL_INTERVAL_CONFIG: "2m"}
    assert run(validate, resource_args(_with_addon(cluster, **rotating), production)) == ([], None)
    for config in ({}, {facts.SECRET_ROTATION_CONFIG: "false"}, {facts.SECRET_ROTATION_CONFIG: "True"}):
        found = violations(validate, resource_args(_with_addon(cluster, **config), production))
        assert any(f'config.{facts.SECRET_ROTATION_CONFIG} to "true"' in f for f in found), config


def test_production_csi_add_on_is_found_under_a_lowercase_key(prod: Program) -> None:
    """AKS may report the add-on profile key lowercased after a real `pulumi up`: the rule still applies."""
    production = {"production": True}
    validate = checked("production-csi-driver-rotates-secrets")
    cluster = only(rows(prod, "inputs"), wp.CLUSTER)
    addons = cluster["props"].setdefault("addonProfiles", {})
    addons.pop(facts.SECRETS_PROVIDER_ADDON, None)
    addons[facts.SECRETS_PROVIDER_ADDON.lower()] = {"enabled": True, "config": {}}
    found = violations(validate, resource_args(cluster, production))
    assert any(f'config.{facts.SECRET_ROTATION_CONFIG} to "true"' in f for f in found), found
    addons[facts.SECRETS_PROVIDER_ADDON.lower()]["config"] = {facts.SECRET_ROTATION_CONFIG: "true"}
    assert run(validate, resource_args(cluster, production)) == ([], None)
