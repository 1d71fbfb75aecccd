"""The cluster policies: a cluster without its OIDC issuer or workload identity is reported with the setting to
change; in production, local accounts, sign-in without Entra ID and Azure RBAC, and a Secrets Store CSI add-on that
does not rotate are reported too; elsewhere those production rules are not applicable, with the reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE

from tests.policy_args import Row, checked, only, resource_args, rows, run, wp
from twin.mocks import Program

OIDC = checked("cluster-oidc-issuer-enabled")
WORKLOAD_IDENTITY = checked("cluster-workload-identity-enabled")
LOCAL_ACCOUNTS = checked("production-cluster-disables-local-accounts")
ENTRA = checked("production-cluster-uses-entra-rbac")
ROTATION = checked("production-csi-driver-rotates-secrets")
PRODUCTION_RULES = (LOCAL_ACCOUNTS, ENTRA, ROTATION)

PRODUCTION = {"production": True}
NOT_PRODUCTION = "not a production stack (set this policy's production, or productionStacks)"

OIDC_MESSAGE = (
    "Cluster 'wi-aks' has no OIDC issuer: set oidcIssuerProfile.enabled to true; federated credentials trust the "
    "issuer URL it publishes."
)
WORKLOAD_IDENTITY_MESSAGE = (
    "Cluster 'wi-aks' has workload identity off: set securityProfile.workloadIdentity.enabled to true, or no webhook "
    "injects the token and AZURE_* variables into labelled pods."
)
LOCAL_ACCOUNTS_MESSAGE = (
    "Production cluster 'wi-aks' keeps local accounts: set disableLocalAccounts to true, so no static admin "
    "credential exists and every sign-in goes through Entra ID."
)
ENTRA_MESSAGE = (
    "Production cluster 'wi-aks' does not authorise with Entra ID: set aadProfile.managed and "
    "aadProfile.enableAzureRBAC to true (with adminGroupObjectIDs), so access is an Azure role you can audit and "
    "revoke."
)
ROTATION_MESSAGE = (
    "Production cluster 'wi-aks' runs the azureKeyvaultSecretsProvider add-on without rotation: set "
    'addonProfiles.azureKeyvaultSecretsProvider.config.enableSecretRotation to "true" (and rotationPollInterval if '
    "the default 2m does not suit), or mounted files keep a secret's old value after it is rotated in Key Vault."
)
ADD_ON_OFF = "the cluster's azureKeyvaultSecretsProvider add-on is off"


def cluster(program: Program) -> Row:
    """The stack's cluster as a resource validation sees it: its inputs."""
    return only(rows(program, "inputs"), wp.CLUSTER)


def changed(program: Program, change: Callable[[dict[str, Any]], None]) -> Row:
    row = cluster(program)
    change(row["props"])
    return row


# --- Every stack: the OIDC issuer and workload identity ---------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stacks_clusters_have_the_issuer_and_workload_identity_on(
    stack: str, request: pytest.FixtureRequest
) -> None:
    row = cluster(request.getfixturevalue(stack))
    assert run(OIDC, resource_args(row)) == ([], None)
    assert run(WORKLOAD_IDENTITY, resource_args(row)) == ([], None)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["oidcIssuerProfile"].update(enabled=False),
        lambda p: p["oidcIssuerProfile"].pop("enabled"),
        lambda p: p.pop("oidcIssuerProfile"),
    ],
    ids=["turned off", "enabled unset", "no profile"],
)
def test_a_cluster_without_its_oidc_issuer_is_reported(dev: Program, change: Callable[[dict[str, Any]], None]) -> None:
    assert run(OIDC, resource_args(changed(dev, change))) == ([OIDC_MESSAGE], None)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["securityProfile"]["workloadIdentity"].update(enabled=False),
        lambda p: p["securityProfile"]["workloadIdentity"].pop("enabled"),
        lambda p: p["securityProfile"].pop("workloadIdentity"),
        lambda p: p.pop("securityProfile"),
    ],
    ids=["turned off", "enabled unset", "no workloadIdentity", "no securityProfile"],
)
def test_a_cluster_without_workload_identity_is_reported(
    dev: Program, change: Callable[[dict[str, Any]], None]
) -> None:
    assert run(WORKLOAD_IDENTITY, resource_args(changed(dev, change))) == ([WORKLOAD_IDENTITY_MESSAGE], None)


def test_resources_other_than_clusters_are_not_held_to_cluster_rules(dev: Program) -> None:
    """A resource of another type has none of these settings, and no rule of this module is about it."""
    vault = only(rows(dev, "inputs"), wp.VAULT)
    for validate in (OIDC, WORKLOAD_IDENTITY, *PRODUCTION_RULES):
        assert run(validate, resource_args(vault, PRODUCTION)) == ([], None)
        assert run(validate, resource_args(vault, {"production": False})) == ([], None)


def test_an_oidc_setting_unknown_during_a_preview_is_checked_during_up(dev: Program) -> None:
    row = changed(dev, lambda p: p["oidcIssuerProfile"].update(enabled=UNKNOWN_BOOLEAN_VALUE))
    assert run(OIDC, resource_args(row)) == (
        [],
        "boolean value at .oidcIssuerProfile.enabled can't be known during preview; checked again with the real value "
        "during `pulumi up`",
    )


# --- Production only ------------------------------------------------------------------------------------------------


def test_the_prod_cluster_passes_the_production_rules(prod: Program) -> None:
    for validate in PRODUCTION_RULES:
        assert run(validate, resource_args(cluster(prod), PRODUCTION)) == ([], None)


@pytest.mark.parametrize("validate", PRODUCTION_RULES)
def test_production_rules_do_not_apply_outside_production(
    dev: Program, monkeypatch: pytest.MonkeyPatch, validate: Callable
) -> None:
    monkeypatch.setenv("PULUMI_STACK", "acme/aks-workload-identity/prod")
    assert run(validate, resource_args(cluster(dev), {"production": False})) == ([], NOT_PRODUCTION)
    monkeypatch.setenv("PULUMI_STACK", "acme/aks-workload-identity/dev")
    assert run(validate, resource_args(cluster(dev))) == ([], NOT_PRODUCTION)


def test_the_stack_name_decides_production_when_the_policy_does_not_say(
    dev: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = cluster(dev)
    monkeypatch.setenv("PULUMI_STACK", "acme/aks-workload-identity/staging")
    assert run(LOCAL_ACCOUNTS, resource_args(row)) == ([], NOT_PRODUCTION)
    assert run(LOCAL_ACCOUNTS, resource_args(row, {"productionStacks": ["staging"]})) == (
        [LOCAL_ACCOUNTS_MESSAGE],
        None,
    )


@pytest.mark.parametrize(
    "change",
    [lambda p: p.update(disableLocalAccounts=False), lambda p: p.pop("disableLocalAccounts")],
    ids=["false", "unset"],
)
def test_a_production_cluster_with_local_accounts_is_reported(
    prod: Program, change: Callable[[dict[str, Any]], None]
) -> None:
    assert run(LOCAL_ACCOUNTS, resource_args(changed(prod, change), PRODUCTION)) == ([LOCAL_ACCOUNTS_MESSAGE], None)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["aadProfile"].update(managed=False),
        lambda p: p["aadProfile"].update(enableAzureRBAC=False),
        lambda p: p["aadProfile"].pop("enableAzureRBAC"),
        lambda p: p.pop("aadProfile"),
    ],
    ids=["not managed", "without Azure RBAC", "Azure RBAC unset", "no aadProfile"],
)
def test_a_production_cluster_without_entra_and_azure_rbac_is_reported(
    prod: Program, change: Callable[[dict[str, Any]], None]
) -> None:
    assert run(ENTRA, resource_args(changed(prod, change), PRODUCTION)) == ([ENTRA_MESSAGE], None)


def _add_on(props: dict[str, Any]) -> dict[str, Any]:
    return props["addonProfiles"]["azureKeyvaultSecretsProvider"]


@pytest.mark.parametrize(
    "change",
    [
        lambda p: _add_on(p)["config"].update(enableSecretRotation="false"),
        lambda p: _add_on(p)["config"].update(enableSecretRotation="True"),
        lambda p: _add_on(p)["config"].pop("enableSecretRotation"),
        lambda p: _add_on(p).pop("config"),
    ],
    ids=["false", "True (the add-on wants the string true)", "unset", "no config"],
)
def test_a_production_csi_add_on_that_does_not_rotate_is_reported(
    prod: Program, change: Callable[[dict[str, Any]], None]
) -> None:
    assert run(ROTATION, resource_args(changed(prod, change), PRODUCTION)) == ([ROTATION_MESSAGE], None)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: _add_on(p).update(enabled=False),
        lambda p: _add_on(p).pop("enabled"),
        lambda p: p["addonProfiles"].pop("azureKeyvaultSecretsProvider"),
        lambda p: p.pop("addonProfiles"),
    ],
    ids=["turned off", "enabled unset", "no add-on", "no add-on profiles"],
)
def test_rotation_does_not_apply_without_the_csi_add_on(
    prod: Program, change: Callable[[dict[str, Any]], None]
) -> None:
    row = changed(prod, change)
    assert run(ROTATION, resource_args(row, PRODUCTION)) == ([], ADD_ON_OFF)


def test_the_csi_add_on_is_found_under_its_lowercase_key(prod: Program) -> None:
    def lowercase(props: dict[str, Any]) -> None:
        props["addonProfiles"]["azurekeyvaultsecretsprovider"] = props["addonProfiles"].pop(
            "azureKeyvaultSecretsProvider"
        )

    row = changed(prod, lowercase)
    assert run(ROTATION, resource_args(row, PRODUCTION)) == ([], None)
    row["props"]["addonProfiles"]["azurekeyvaultsecretsprovider"]["config"]["enableSecretRotation"] = "false"
    assert run(ROTATION, resource_args(row, PRODUCTION)) == ([ROTATION_MESSAGE], None)
