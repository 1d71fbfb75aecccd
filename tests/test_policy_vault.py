"""The pack's Key Vault and role policies (`policy/wi_policies/vault.py`) on small hand-built stacks: the exact
violation each reports and the resource it reports it on, the exact reason it gives when it cannot decide during a
preview, and what each of its config keys changes.

The base stack is one workload: a cluster whose kubelet pulls from a registry, a vault with a secret, a federated
identity that reads the vault, and the deployer who writes its secrets (a user, not a workload principal)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from aks_workload_identity import facts
from tests.policy_args import (
    UNDECIDED,
    Found,
    Row,
    checked,
    depends,
    named,
    outcome,
    resource_args,
    row,
    stack_args,
    wp,
)

UNKNOWN = UNKNOWN_STRING_VALUE
SUBSCRIPTION = "/subscriptions/00000000-1111-2222-3333-444444444444"
GROUP = f"{SUBSCRIPTION}/resourceGroups/rg-app"
VAULT_ID = f"{GROUP}/providers/Microsoft.KeyVault/vaults/app-kv"
OTHER_VAULT_ID = f"{GROUP}/providers/Microsoft.KeyVault/vaults/other-kv"
REGISTRY_ID = f"{GROUP}/providers/Microsoft.ContainerRegistry/registries/appregistry"
PRINCIPAL = "d818d7ff-5090-59e6-bd38-ea2cb7638ddf"
CLIENT = "e38b6938-80a2-5539-94ab-e2a208d0da80"
KUBELET = "8dded0c7-752a-558b-b1ba-3aa51fe63dfa"
DEPLOYER = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
#: Built-in roles by GUID (Azure built-in roles).
SECRETS_USER = facts.KEY_VAULT_SECRETS_USER
SECRETS_OFFICER = facts.KEY_VAULT_SECRETS_OFFICER
READER = facts.KEY_VAULT_READER
ACR_PULL = facts.ACR_PULL
OWNER = facts.OWNER
CONTRIBUTOR = facts.CONTRIBUTOR
#: A custom role: neither read nor forbidden until the pack's config says so.
CUSTOM = "c0ffee00-0000-4000-8000-0000000000aa"


def _grant(name: str, principal: str, role: str, scope: str, principal_type: str | None = "ServicePrincipal") -> Row:
    props = {
        "principalId": principal,
        "roleDefinitionId": f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        "scope": scope,
    }
    if principal_type is not None:
        props["principalType"] = principal_type
    return row(wp.ROLE_ASSIGNMENT, name, props)


def _identity(workload: str, principal: str, client: str) -> list[Row]:
    """A workload's identity and its federated credential."""
    return [
        row(
            wp.IDENTITY,
            f"{workload}-identity",
            {"name": f"{workload}-id", "principalId": principal, "clientId": client},
        ),
        row(
            wp.FEDERATED_CREDENTIAL,
            f"{workload}-federation",
            {"resourceName": f"{workload}-id", "subject": f"system:serviceaccount:{workload}:{workload}"},
        ),
    ]


def _stack() -> list[Row]:
    return [
        row(
            wp.CLUSTER,
            "aks",
            {
                "name": "aks-x",
                "fqdn": "aks-x.hcp.eastus.azmk8s.io",
                "identityProfile": {"kubeletidentity": {"objectId": KUBELET, "clientId": "9e0f1a2b-0000-4000-8000-0"}},
            },
        ),
        row(
            wp.VAULT,
            "app-vault",
            {
                "vaultName": "app-kv",
                "name": "app-kv",
                "id": VAULT_ID,
                "properties": {"enableRbacAuthorization": True, "vaultUri": "https://app-kv.vault.azure.net/"},
            },
        ),
        row(
            wp.SECRET,
            "app-secret",
            {"vaultName": "app-kv", "secretName": "db-password", "id": f"{VAULT_ID}/secrets/db-password"},
        ),
        *_identity("app", PRINCIPAL, CLIENT),
        _grant("deployer-writes-secrets", DEPLOYER, SECRETS_OFFICER, VAULT_ID, principal_type="User"),
        _grant("app-reads-vault", PRINCIPAL, SECRETS_USER, VAULT_ID),
        _grant("aks-pulls-images", KUBELET, ACR_PULL, REGISTRY_ID),
    ]


def _stack_outcome(policy: str, resources: list[Row], config: dict[str, Any] | None = None) -> tuple[Found, str | None]:
    return outcome(checked(policy), stack_args(resources, config))


# --- key-vault-uses-rbac ----------------------------------------------------------------------------------------------

RBAC = "key-vault-uses-rbac"


def _vault_outcome(properties: dict[str, Any], type_: str = wp.VAULT) -> tuple[Found, str | None]:
    return outcome(checked(RBAC), resource_args(row(type_, "app-vault", {"properties": properties})))


def _not_rbac(name: str) -> str:
    return (
        f"Key Vault '{name}' is not on the RBAC permission model: set properties.enableRbacAuthorization to true "
        "explicitly (azure-native 3.x still defaults new vaults to access policies), and grant roles."
    )


def _access_policies(name: str, count: int) -> str:
    return (
        f"Key Vault '{name}' declares {count} access policies: remove them (an RBAC vault ignores them; they grant "
        "everything the moment the vault leaves RBAC) and use role assignments."
    )


@pytest.mark.parametrize(
    "properties", [{"enableRbacAuthorization": True}, {"enableRbacAuthorization": True, "accessPolicies": []}]
)
def test_a_vault_on_rbac_without_access_policies_passes(properties: dict[str, Any]) -> None:
    assert _vault_outcome(properties) == ([], None)


@pytest.mark.parametrize("rbac", [False, "true", None])
def test_a_vault_not_explicitly_on_rbac_is_reported(rbac: Any) -> None:
    properties = {} if rbac is None else {"enableRbacAuthorization": rbac}
    assert _vault_outcome(properties) == ([(_not_rbac("app-vault"), None)], None)


def test_a_vaults_access_policies_are_reported_with_their_count() -> None:
    policy = {"tenantId": "t", "objectId": PRINCIPAL, "permissions": {"secrets": ["get"]}}
    properties = {"enableRbacAuthorization": True, "accessPolicies": [policy, policy]}
    assert _vault_outcome(properties) == ([(_access_policies("app-vault", 2), None)], None)


def test_a_vault_off_rbac_with_access_policies_gets_both_violations() -> None:
    found, reason = _vault_outcome({"enableRbacAuthorization": False, "accessPolicies": [{"objectId": PRINCIPAL}]})
    assert (found, reason) == ([(_not_rbac("app-vault"), None), (_access_policies("app-vault", 1), None)], None)


def test_a_key_vault_access_policy_resource_is_refused_alone() -> None:
    """The AccessPolicy resource is refused outright, and not also read as a vault."""
    access_policy = row(wp.ACCESS_POLICY, "legacy", {"policy": {"objectId": PRINCIPAL}})
    assert outcome(checked(RBAC), resource_args(access_policy)) == (
        [
            (
                "Key Vault access policy 'legacy': vaults use the RBAC permission model; delete it and grant Key Vault "
                "Secrets User with a role assignment instead.",
                None,
            )
        ],
        None,
    )


def test_resources_other_than_vaults_are_not_checked_for_rbac() -> None:
    assert _vault_outcome({}, type_=wp.SECRET) == ([], None)


def test_a_vaults_permission_model_unknown_during_a_preview_is_not_applicable() -> None:
    assert _vault_outcome({"enableRbacAuthorization": UNKNOWN_BOOLEAN_VALUE}) == (
        [],
        "boolean value at .properties.enableRbacAuthorization can't be known during preview; checked again with the "
        "real value during `pulumi up`",
    )


# --- federated-identity-reads-its-vault -------------------------------------------------------------------------------

READS = "federated-identity-reads-its-vault"


def _cannot_read(identity: str, held: str, hints: str = "") -> str:
    return (
        f"Federated identity '{identity}' cannot read a secret of this stack's vaults (it holds {held}): grant it Key "
        "Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6) scoped to its vault's id or to its secrets' ids "
        "(Key Vault Reader grants no secret reads; pods get 403 ForbiddenByRbac)." + hints
    )


def _client_id_hint(assignment: str) -> str:
    return (
        f" Role assignment '{assignment}' names the identity's clientId as its principalId: a role assignment takes "
        "the principalId (the service principal's object id)."
    )


def _scope_hint(assignment: str, scope: str) -> str:
    return (
        f" Role assignment '{assignment}' has scope '{scope}', which is no vault's or secret's ARM id (pass the "
        "vault's id, or the secret's)."
    )


def _reader(resources: list[Row]) -> Row:
    return named(resources, "app-reads-vault")


def test_an_identity_reading_its_vault_passes() -> None:
    assert _stack_outcome(READS, _stack()) == ([], None)


def test_an_identity_reading_a_secret_of_its_vault_passes() -> None:
    resources = _stack()
    _reader(resources)["props"]["scope"] = f"{VAULT_ID}/secrets/db-password"
    assert _stack_outcome(READS, resources) == ([], None)


def test_a_stack_without_a_vault_is_not_applicable() -> None:
    resources = [r for r in _stack() if r["type"] != wp.VAULT]
    assert _stack_outcome(READS, resources) == ([], "the stack declares no Key Vault")


def test_an_identity_without_a_grant_is_reported_on_the_identity() -> None:
    resources = [r for r in _stack() if r["name"] != "app-reads-vault"]
    identity = named(resources, "app-identity")
    assert _stack_outcome(READS, resources) == ([(_cannot_read("app-identity", "no role"), identity["urn"])], None)


def test_the_message_names_every_role_the_identity_holds_and_where() -> None:
    """Key Vault Reader on the vault reads no secret; AcrPull on a registry is a role at a scope that is no vault's
    and no read role, so it earns no scope hint."""
    resources = _stack()
    _reader(resources)["props"]["roleDefinitionId"] = _reader(resources)["props"]["roleDefinitionId"].replace(
        SECRETS_USER, READER
    )
    resources.append(_grant("app-pulls-images", PRINCIPAL, ACR_PULL, REGISTRY_ID))
    held = f"Key Vault Reader on '{VAULT_ID}', AcrPull on '{REGISTRY_ID}'"
    identity = named(resources, "app-identity")
    assert _stack_outcome(READS, resources) == ([(_cannot_read("app-identity", held), identity["urn"])], None)


def test_a_grant_on_a_vault_the_stack_does_not_declare_is_reported_without_a_hint() -> None:
    resources = _stack()
    _reader(resources)["props"]["scope"] = OTHER_VAULT_ID
    held = f"Key Vault Secrets User on '{OTHER_VAULT_ID}'"
    identity = named(resources, "app-identity")
    assert _stack_outcome(READS, resources) == ([(_cannot_read("app-identity", held), identity["urn"])], None)


def test_a_read_grant_scoped_to_the_vaults_uri_gets_the_scope_hint() -> None:
    resources = _stack()
    uri = "https://app-kv.vault.azure.net/"
    _reader(resources)["props"]["scope"] = uri
    message = _cannot_read("app-identity", f"Key Vault Secrets User on '{uri}'", _scope_hint("app-reads-vault", uri))
    assert _stack_outcome(READS, resources) == ([(message, named(resources, "app-identity")["urn"])], None)


def test_grants_naming_the_identitys_client_id_get_one_hint_each() -> None:
    """Entra ID takes ids in any case, so an upper-cased clientId is the same slip."""
    resources = _stack()
    _reader(resources)["props"]["principalId"] = CLIENT.upper()
    resources.append(_grant("app-reads-vault-metadata", CLIENT, READER, VAULT_ID))
    message = _cannot_read(
        "app-identity",
        "no role",
        _client_id_hint("app-reads-vault") + _client_id_hint("app-reads-vault-metadata"),
    )
    assert _stack_outcome(READS, resources) == ([(message, named(resources, "app-identity")["urn"])], None)


def test_each_identity_is_checked_after_one_that_reads_its_vault() -> None:
    resources = [*_stack(), *_identity("jobs", "5a5b5c5d-0000-4000-8000-000000000001", "6a6b6c6d-0000-4000-8000-0")]
    jobs = named(resources, "jobs-identity")
    assert _stack_outcome(READS, resources) == ([(_cannot_read("jobs-identity", "no role"), jobs["urn"])], None)


def test_read_roles_config_decides_which_roles_read_secrets() -> None:
    resources = _stack()
    _reader(resources)["props"]["roleDefinitionId"] = _reader(resources)["props"]["roleDefinitionId"].replace(
        SECRETS_USER, CUSTOM
    )
    held = f"role {CUSTOM} on '{VAULT_ID}'"
    identity = named(resources, "app-identity")
    assert _stack_outcome(READS, resources) == ([(_cannot_read("app-identity", held), identity["urn"])], None)
    assert _stack_outcome(READS, resources, {"readRoles": [CUSTOM.upper()]}) == ([], None)
    # The config replaces the default: Key Vault Secrets User then reads nothing.
    secrets_user = _stack()
    held = f"Key Vault Secrets User on '{VAULT_ID}'"
    assert _stack_outcome(READS, secrets_user, {"readRoles": [CUSTOM]}) == (
        [(_cannot_read("app-identity", held), identity["urn"])],
        None,
    )


def test_a_first_preview_reads_the_vault_a_grants_unknown_scope_came_from() -> None:
    resources = _stack()
    reader = _reader(resources)
    reader["props"]["scope"] = UNKNOWN
    depends(reader, "scope", named(resources, "app-vault"))
    assert _stack_outcome(READS, resources) == ([], None)


def test_a_grants_unknown_scope_from_nothing_in_the_stack_is_undecided() -> None:
    resources = _stack()
    _reader(resources)["props"]["scope"] = UNKNOWN
    assert _stack_outcome(READS, resources) == (
        [],
        UNDECIDED + "app-identity: string value at .app-reads-vault.scope can't be known during preview",
    )


def test_a_grant_on_a_secret_of_an_undeclared_vault_names_its_unknown_scope() -> None:
    """The grant's scope is computed from a secret in a vault the stack only reads: it is no vault of the stack, and
    the message says the scope is not known yet (rather than naming it 'None' or calling it no ARM id)."""
    resources = _stack()
    elsewhere = row(wp.SECRET, "shared-secret", {"vaultName": "shared-kv", "secretName": "db-password"})
    resources.append(elsewhere)
    reader = _reader(resources)
    reader["props"]["scope"] = UNKNOWN
    depends(reader, "scope", elsewhere)
    message = _cannot_read("app-identity", "Key Vault Secrets User at a scope not known yet")
    assert _stack_outcome(READS, resources) == ([(message, named(resources, "app-identity")["urn"])], None)


# --- workload-identity-roles-are-read-only and workload-role-assignments-name-service-principals ----------------------

READ_ONLY = "workload-identity-roles-are-read-only"
SERVICE_PRINCIPALS = "workload-role-assignments-name-service-principals"


def _gives(assignment: str, role: str, kind: str, principal: str) -> str:
    return (
        f"Role assignment '{assignment}' gives {role} to the {kind} of '{principal}': workload principals get read "
        "roles only (Key Vault Secrets User on their vault or secrets, AcrPull on the registry); a pod that can write "
        "secrets or hand out access is one exploit away from owning them."
    )


def _no_principal_type(assignment: str, kind: str, principal: str) -> str:
    return (
        f"Role assignment '{assignment}' to the {kind} of '{principal}' does not set principalType "
        "'ServicePrincipal': set it, or ARM may answer PrincipalNotFound for a just-created identity (and "
        "azure-native sends 'User' when none is given)."
    )


@pytest.mark.parametrize("policy", [READ_ONLY, SERVICE_PRINCIPALS])
def test_workload_principals_with_read_roles_named_as_service_principals_pass(policy: str) -> None:
    """The deployer's Secrets Officer grant, a user's, is no workload principal's."""
    assert _stack_outcome(policy, _stack()) == ([], None)


def test_a_write_role_for_the_workload_identity_is_reported_on_the_assignment() -> None:
    resources = [*_stack(), _grant("app-owns-vault", PRINCIPAL, OWNER, VAULT_ID)]
    urn = named(resources, "app-owns-vault")["urn"]
    assert _stack_outcome(READ_ONLY, resources) == (
        [(_gives("app-owns-vault", "Owner", "workload identity", "app-identity"), urn)],
        None,
    )


def test_a_write_role_for_the_kubelet_is_reported_on_the_assignment() -> None:
    resources = [*_stack(), _grant("aks-contributes", KUBELET, CONTRIBUTOR, GROUP)]
    urn = named(resources, "aks-contributes")["urn"]
    assert _stack_outcome(READ_ONLY, resources) == (
        [(_gives("aks-contributes", "Contributor", "kubelet identity", "aks"), urn)],
        None,
    )


def test_the_kubelet_is_checked_by_value_while_other_cluster_outputs_are_unknown() -> None:
    """A preview of a cluster update leaves some outputs unknown; a known kubelet object id is still compared."""
    resources = [*_stack(), _grant("aks-contributes", KUBELET, CONTRIBUTOR, GROUP)]
    named(resources, "aks")["props"]["fqdn"] = UNKNOWN
    urn = named(resources, "aks-contributes")["urn"]
    assert _stack_outcome(READ_ONLY, resources) == (
        [(_gives("aks-contributes", "Contributor", "kubelet identity", "aks"), urn)],
        None,
    )


def test_an_assignment_to_a_principal_that_is_both_kubelet_and_workload_identity_is_reported_once() -> None:
    resources = [*_stack(), _grant("app-owns-vault", PRINCIPAL, OWNER, VAULT_ID)]
    named(resources, "aks")["props"]["identityProfile"]["kubeletidentity"]["objectId"] = PRINCIPAL
    urn = named(resources, "app-owns-vault")["urn"]
    assert _stack_outcome(READ_ONLY, resources) == (
        [(_gives("app-owns-vault", "Owner", "workload identity", "app-identity"), urn)],
        None,
    )


def test_forbidden_roles_config_adds_roles_in_any_case() -> None:
    resources = [*_stack(), _grant("app-custom", PRINCIPAL, CUSTOM, VAULT_ID)]
    assert _stack_outcome(READ_ONLY, resources) == ([], None)
    urn = named(resources, "app-custom")["urn"]
    assert _stack_outcome(READ_ONLY, resources, {"forbiddenRoles": [CUSTOM.upper()]}) == (
        [(_gives("app-custom", f"role {CUSTOM}", "workload identity", "app-identity"), urn)],
        None,
    )
    # The built-in forbidden roles stay forbidden alongside the configured ones.
    resources.append(_grant("app-owns-vault", PRINCIPAL, OWNER, VAULT_ID))
    found, reason = _stack_outcome(READ_ONLY, resources, {"forbiddenRoles": [CUSTOM]})
    assert [message for message, _ in found] == [
        _gives("app-custom", f"role {CUSTOM}", "workload identity", "app-identity"),
        _gives("app-owns-vault", "Owner", "workload identity", "app-identity"),
    ]
    assert reason is None


def test_a_first_preview_checks_the_grants_computed_from_the_identity() -> None:
    """The identity's principalId is unknown: its grants are the ones computed from it, and are checked."""
    resources = [*_stack(), _grant("app-owns-vault", UNKNOWN, OWNER, VAULT_ID, principal_type=None)]
    identity = named(resources, "app-identity")
    identity["props"]["principalId"] = UNKNOWN
    for name in ("app-reads-vault", "app-owns-vault"):
        named(resources, name)["props"]["principalId"] = UNKNOWN
        depends(named(resources, name), "principalId", identity)
    urn = named(resources, "app-owns-vault")["urn"]
    assert _stack_outcome(READ_ONLY, resources) == (
        [(_gives("app-owns-vault", "Owner", "workload identity", "app-identity"), urn)],
        None,
    )
    assert _stack_outcome(SERVICE_PRINCIPALS, resources) == (
        [(_no_principal_type("app-owns-vault", "workload identity", "app-identity"), urn)],
        None,
    )


@pytest.mark.parametrize("policy", [READ_ONLY, SERVICE_PRINCIPALS])
def test_grants_computed_from_a_cluster_with_an_unknown_kubelet_are_undecided(policy: str) -> None:
    """They may be the control plane's: each is named in the reason."""
    resources = [*_stack(), _grant("aks-reads-vault", UNKNOWN, SECRETS_USER, VAULT_ID)]
    cluster = named(resources, "aks")
    cluster["props"]["identityProfile"]["kubeletidentity"]["objectId"] = UNKNOWN
    for name in ("aks-pulls-images", "aks-reads-vault"):
        named(resources, name)["props"]["principalId"] = UNKNOWN
        depends(named(resources, name), "principalId", cluster)
    unknown = "the kubelet identity's object id is not known yet"
    assert _stack_outcome(policy, resources) == (
        [],
        UNDECIDED + f"aks-pulls-images: {unknown}; aks-reads-vault: {unknown}",
    )


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (READS, "app-identity: {}"),
        (READ_ONLY, "app-identity: {}; aks: {}"),
        (SERVICE_PRINCIPALS, "app-identity: {}; aks: {}"),
    ],
)
def test_a_grant_whose_principal_is_unknown_and_from_nothing_leaves_every_principal_undecided(
    policy: str, reason: str
) -> None:
    resources = [*_stack(), _grant("stray-grant", UNKNOWN, READER, VAULT_ID)]
    unknown = "string value at .stray-grant.principalId can't be known during preview"
    assert _stack_outcome(policy, resources) == ([], UNDECIDED + reason.format(unknown, unknown))


def test_a_workload_grant_with_an_unknown_role_is_undecided() -> None:
    resources = _stack()
    _reader(resources)["props"]["roleDefinitionId"] = UNKNOWN
    assert _stack_outcome(READ_ONLY, resources) == (
        [],
        UNDECIDED + "app-reads-vault: string value at .roleDefinitionId can't be known during preview",
    )


def test_workload_grants_without_principal_type_service_principal_are_reported_on_each_assignment() -> None:
    resources = _stack()
    _reader(resources)["props"].pop("principalType")
    named(resources, "aks-pulls-images")["props"]["principalType"] = "User"
    assert _stack_outcome(SERVICE_PRINCIPALS, resources) == (
        [
            (_no_principal_type("app-reads-vault", "workload identity", "app-identity"), _reader(resources)["urn"]),
            (
                _no_principal_type("aks-pulls-images", "kubelet identity", "aks"),
                named(resources, "aks-pulls-images")["urn"],
            ),
        ],
        None,
    )


def test_a_workload_grants_unknown_principal_type_is_undecided() -> None:
    resources = _stack()
    _reader(resources)["props"]["principalType"] = UNKNOWN
    assert _stack_outcome(SERVICE_PRINCIPALS, resources) == (
        [],
        UNDECIDED + "app-reads-vault: string value at .principalType can't be known during preview",
    )


# --- key-vault-api-version-is-served ----------------------------------------------------------------------------------

API_VERSION = "key-vault-api-version-is-served"


def _old_api(name: str, version: str, source: str) -> str:
    return (
        f"'{name}' is managed with Key Vault API version {version} ({source}): Azure stops serving management API "
        "versions before 2026-02-01 on 27 February 2027. Manage it with 2026-02-01 or later (`pulumi package add "
        "azure-native keyvault 2026-02-01` generates a local package that does), or a provider release whose default "
        "is that new."
    )


def _managed(type_: str, output: str | None) -> list[Row]:
    """A stack whose first resource is no Key Vault one, then a vault of type `type_` (azureApiVersion `output`)."""
    props = {} if output is None else {"azureApiVersion": output}
    return [row("kubernetes:core/v1:Namespace", "app", {}), row(type_, "app-vault", props)]


@pytest.mark.parametrize(
    ("type_", "output", "version", "source"),
    [
        (
            "azure-native:keyvault:Vault",
            None,
            "2024-11-01",
            "the default API version of azure-native's keyvault module",
        ),
        (
            "azure-native:keyvault/v20250301preview:Vault",
            None,
            "2025-03-01-preview",
            "its type azure-native:keyvault/v20250301preview:Vault",
        ),
        (
            "azure-native_keyvault_v20241101:keyvault:Secret",
            None,
            "2024-11-01",
            "its type azure-native_keyvault_v20241101:keyvault:Secret",
        ),
        ("azure-native:keyvault/v20260201:Vault", "2025-05-01", "2025-05-01", "its azureApiVersion output"),
        # During a preview the output is unknown: the type token says.
        (
            "azure-native:keyvault/v20230701:Vault",
            UNKNOWN,
            "2023-07-01",
            "its type azure-native:keyvault/v20230701:Vault",
        ),
    ],
)
def test_a_vault_managed_with_a_retired_api_version_is_reported_with_where_the_version_was_read(
    type_: str, output: str | None, version: str, source: str
) -> None:
    resources = _managed(type_, output)
    urn = named(resources, "app-vault")["urn"]
    assert _stack_outcome(API_VERSION, resources) == ([(_old_api("app-vault", version, source), urn)], None)


@pytest.mark.parametrize(
    ("type_", "output"),
    [
        ("azure-native:keyvault/v20260201:Vault", None),
        ("azure-native:keyvault/v20260201preview:Secret", None),
        ("azure-native_keyvault_v20260301:keyvault:Vault", None),
        ("azure-native:keyvault:Vault", "2026-02-01"),
        ("azure-native:keyvault/v20241101:Vault", "2026-03-01-preview"),
    ],
)
def test_a_vault_managed_with_a_served_api_version_passes(type_: str, output: str | None) -> None:
    assert _stack_outcome(API_VERSION, _managed(type_, output)) == ([], None)


def test_every_vault_and_secret_on_a_retired_api_version_is_reported() -> None:
    resources = _stack()
    default = "the default API version of azure-native's keyvault module"
    assert _stack_outcome(API_VERSION, resources) == (
        [
            (_old_api("app-vault", "2024-11-01", default), named(resources, "app-vault")["urn"]),
            (_old_api("app-secret", "2024-11-01", default), named(resources, "app-secret")["urn"]),
        ],
        None,
    )


def test_a_stack_managing_no_key_vault_vault_or_secret_is_not_applicable() -> None:
    """A Recovery Services vault, a Key Vault key and a Kubernetes secret are none of the two."""
    resources = [
        row("azure-native:recoveryservices:Vault", "backup-vault", {}),
        row("azure-native:keyvault:Key", "app-key", {}),
        row("kubernetes:core/v1:Secret", "app-secret", {}),
    ]
    assert _stack_outcome(API_VERSION, resources) == ([], "the stack manages no Key Vault vault or secret")
