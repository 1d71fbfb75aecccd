"""FederatedIdentity, built alone."""

from __future__ import annotations

import re

import pytest
from conftest import CREDENTIAL, IDENTITY, ROLE_ASSIGNMENT, SERVICE_ACCOUNT

from aks_workload_identity import FederatedIdentity, FederatedIdentityArgs, RoleGrant, facts
from twin.mocks import run

ISSUER = "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/"
VAULT_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"


def build(**overrides):
    args = {
        "resource_group_name": "rg",
        "location": "westeurope",
        "issuer_url": ISSUER,
        "namespace": "apps",
        "role_grants": [RoleGrant(name="reads-kv", scope=VAULT_ID)],
        **overrides,
    }
    return run(lambda: FederatedIdentity("id", FederatedIdentityArgs(**args)))


def test_credential_trusts_exactly_the_issuer_and_the_service_account():
    program = build(service_account_names=["reader"])
    credential = program.one(CREDENTIAL).inputs
    assert credential["issuer"] == ISSUER
    assert credential["subject"] == "system:serviceaccount:apps:reader"
    assert credential["audiences"] == ["api://AzureADTokenExchange"]
    assert credential["resourceName"] == program.one(IDENTITY).outputs["name"]


def test_service_account_is_annotated_with_the_identity():
    program = build()
    identity = program.one(IDENTITY).outputs
    account = program.one(SERVICE_ACCOUNT).inputs
    assert account["metadata"]["annotations"] == {
        facts.CLIENT_ID_ANNOTATION: identity["clientId"],
        facts.TENANT_ID_ANNOTATION: identity["tenantId"],
    }
    assert account["automountServiceAccountToken"] is False


def test_default_grant_is_secrets_user_for_the_identity_named_by_the_grant():
    program = build()
    (assignment,) = program.of_type(ROLE_ASSIGNMENT)
    assert assignment.name == "id-reads-kv"
    assert assignment.inputs == {
        "principalId": program.one(IDENTITY).outputs["principalId"],
        "principalType": "ServicePrincipal",
        "roleDefinitionId": facts.role_definition_id("s1", facts.KEY_VAULT_SECRETS_USER),
        "scope": VAULT_ID,
    }


def test_several_credentials_on_one_identity_are_written_one_after_another():
    program = build(service_account_names=["a", "b", "c"])
    credentials = program.of_type(CREDENTIAL)
    assert [c.inputs["subject"].rsplit(":", 1)[1] for c in credentials] == ["a", "b", "c"]
    for previous, current in zip(credentials, credentials[1:], strict=False):
        assert previous.urn in current.dependencies
    assert credentials[1].urn not in credentials[0].dependencies


def test_identity_refuses_more_credentials_than_azure_allows_or_none():
    for count in (0, facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY + 1):
        with pytest.raises(ValueError, match="1 to 20 federated credentials"):
            build(service_account_names=[f"sa{i}" for i in range(count)])


def test_identity_takes_as_many_credentials_as_azure_allows():
    limit = facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY
    program = build(service_account_names=[f"sa{i}" for i in range(limit)])
    assert len(program.of_type(CREDENTIAL)) == len(program.of_type(SERVICE_ACCOUNT)) == limit


def test_dotted_service_account_names_give_valid_credential_names_of_their_own():
    program = build(service_account_names=["wi.demo.sa", "wi-demo-sa", "wi.demo-sa"])
    credentials = program.of_type(CREDENTIAL)
    assert [c.inputs["subject"].rsplit(":", 1)[1] for c in credentials] == ["wi.demo.sa", "wi-demo-sa", "wi.demo-sa"]
    names = [c.outputs["name"] for c in credentials]
    assert all(re.fullmatch(facts.FEDERATED_CREDENTIAL_NAME, name) for name in names), names
    assert len(set(names)) == 3
    # Each dot becomes one underscore in the logical name: the credential's URN, which must not change on upgrade.
    assert [c.name for c in credentials] == [
        "id-wi_demo_sa-federation",
        "id-wi-demo-sa-federation",
        "id-wi_demo-sa-federation",
    ]


def test_a_grant_that_names_its_role_gets_that_role_and_no_other():
    registry = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr"
    program = build(role_grants=[RoleGrant(name="pulls", scope=registry, role=facts.ACR_PULL)])
    (assignment,) = program.of_type(ROLE_ASSIGNMENT)
    assert assignment.inputs["roleDefinitionId"] == facts.role_definition_id("s1", facts.ACR_PULL)


def test_an_identity_without_grants_has_no_role_and_lives_in_the_given_region():
    args = FederatedIdentityArgs(
        resource_group_name="rg", location="swedencentral", issuer_url=ISSUER, namespace="apps"
    )
    program = run(lambda: FederatedIdentity("id", args))
    assert program.of_type(ROLE_ASSIGNMENT) == []
    assert program.one(IDENTITY).inputs["location"] == "swedencentral"
    assert len(program.of_type(CREDENTIAL)) == 1


def test_grants_need_names_of_their_own():
    twice = [RoleGrant(name="reads", scope=VAULT_ID), RoleGrant(name="reads", scope=VAULT_ID + "/secrets/s")]
    with pytest.raises(ValueError, match="each grant needs a name of its own"):
        build(role_grants=twice)


def test_removing_a_grant_leaves_the_others_names_and_scopes_alone():
    other = VAULT_ID + "2"
    both = build(role_grants=[RoleGrant(name="a", scope=VAULT_ID), RoleGrant(name="b", scope=other)])
    second_only = build(role_grants=[RoleGrant(name="b", scope=other)])
    assert {r.name: r.inputs["scope"] for r in both.of_type(ROLE_ASSIGNMENT)} == {"id-a": VAULT_ID, "id-b": other}
    assert {r.name: r.inputs["scope"] for r in second_only.of_type(ROLE_ASSIGNMENT)} == {"id-b": other}
