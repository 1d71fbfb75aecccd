"""The policy pack's shared helpers (`policy/wi_policies/common.py`), called with small hand-built values: what each
promises to the policies built on it (reading values that may be unknown during a preview, following links by value
and by dependency, ARM ids and names, pods, the stack, and how a validate function becomes a policy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

from aks_workload_identity import facts as project_facts
from policy.wi_policies import common
from policy.wi_policies.common import Checks, Readable, Stack
from tests.policy_args import UNDECIDED, Row, resource_args, run, stack_args

UNKNOWN = UNKNOWN_STRING_VALUE
USER = project_facts.KEY_VAULT_SECRETS_USER
READER = project_facts.KEY_VAULT_READER
PREVIEW = "; checked again with the real value during `pulumi up`"
VAULT_ID = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/{}"
IDENTITY_ID = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}"


def row(type_: str, name: str, props: dict[str, Any] | None = None, **property_dependencies: list[Row]) -> Row:
    """A resource as the stack adapters take it; `property_dependencies` maps a property to the rows it came from."""
    return {
        "type": type_,
        "name": name,
        "urn": f"urn:pulumi:dev::wi::{type_}::{name}",
        "props": props or {},
        "dependencies": [],
        "property_dependencies": {k: [r["urn"] for r in v] for k, v in property_dependencies.items()},
    }


def resources(*rows: Row) -> list[PolicyResource]:
    """The rows as the engine passes them to a stack check, each property behind the unknown-checking proxy."""
    return list(stack_args(list(rows)).resources)


def one(row_: Row) -> PolicyResource:
    return resources(row_)[0]


def unknown_at(error: pytest.ExceptionInfo[UnknownValueError]) -> tuple[str, list[str]]:
    return error.value.unknown_type_sentinel, error.value.props


# --- The facts ---------------------------------------------------------------------------------------------------


def _facts_file(path: Path, origin: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"ORIGIN = {origin!r}\n")


def test_a_facts_copy_in_the_pack_folder_wins_over_the_projects(tmp_path: Path) -> None:
    pack = tmp_path / "policy"
    _facts_file(pack / "facts.py", "copy")
    _facts_file(tmp_path / "components" / "aks_workload_identity" / "facts.py", "project")
    loaded = common.load_facts(pack)
    assert loaded.ORIGIN == "copy"
    # Loaded under a name of its own, so it never stands in for the program's `aks_workload_identity.facts`.
    assert loaded.__name__ == "wi_policy_facts"


def test_without_a_copy_the_pack_reads_the_projects_facts(tmp_path: Path) -> None:
    pack = tmp_path / "policy"
    pack.mkdir()
    _facts_file(tmp_path / "components" / "aks_workload_identity" / "facts.py", "project")
    assert common.load_facts(pack).ORIGIN == "project"


def test_without_any_facts_the_pack_refuses_to_load_and_says_what_to_copy(tmp_path: Path) -> None:
    pack = tmp_path / "policy"
    pack.mkdir()
    with pytest.raises(ImportError) as error:
        common.load_facts(pack)
    assert str(error.value) == (
        "the policy pack needs the project's facts: copy components/aks_workload_identity/facts.py next to it"
    )


def test_the_pack_in_the_repository_reads_the_projects_facts() -> None:
    project = Path(common.__file__).resolve().parents[2] / "components" / "aks_workload_identity" / "facts.py"
    assert Path(common.facts.__file__).resolve() == project
    assert common.facts.TOKEN_AUDIENCE == project_facts.TOKEN_AUDIENCE
    assert common.SECRET_PROVIDER_CLASS == "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass"


# --- Reading values that may be unknown --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentinel",
    [
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    ],
)
def test_plain_raises_for_every_kind_of_unknown_with_its_path(sentinel: str) -> None:
    with pytest.raises(UnknownValueError) as error:
        common.plain({"a": [{"b": "known"}, {"b": sentinel}]}, ["root"])
    assert unknown_at(error) == (sentinel, ["root", "a", "1", "b"])


def test_plain_turns_proxied_values_into_plain_dicts_and_lists() -> None:
    value = {"a": [1, {"b": "text"}], "c": None, "d": True}
    found = common.plain(unknown_checking_proxy(value), [])
    assert found == value
    assert type(found) is dict
    assert type(found["a"]) is list
    assert type(found["a"][1]) is dict


def test_plain_keeps_strings_whole() -> None:
    assert common.plain("text", []) == "text"
    assert common.plain({"k": "text"}, []) == {"k": "text"}


def test_get_reads_a_nested_value() -> None:
    props = {"a": {"b": "x"}, "list": ["first", "second"]}
    assert common.get(props, "a", "b") == "x"
    assert common.get(props, "list", 1) == "second"
    assert common.get(props, "list", 0) == "first"


def test_get_gives_the_default_for_what_is_absent() -> None:
    props = {"a": {"b": "x"}, "list": ["first"], "none": None, "text": "abc"}
    assert common.get(props, "missing") is None
    assert common.get(props, "missing", default="d") == "d"
    assert common.get(props, "a", "c", default="d") == "d"
    assert common.get(props, "list", 1, default="d") == "d"  # exactly one past the end
    assert common.get(props, "list", 5, default="d") == "d"
    assert common.get(props, "list", "0", default="d") == "d"  # a name is no index
    assert common.get(props, "a", 0, default="d") == "d"  # an index is no name
    assert common.get(props, "text", 0, default="d") == "d"  # a string is no list
    assert common.get(props, "a", "b", "c", default="d") == "d"
    assert common.get(props, "none", default="d") == "d"
    assert common.get(props, "none", "deeper", default="d") == "d"


def test_get_without_a_path_is_the_whole_value_made_plain() -> None:
    assert common.get(unknown_checking_proxy({"a": ["b"]})) == {"a": ["b"]}


def test_get_raises_for_an_unknown_value_with_the_path_walked() -> None:
    with pytest.raises(UnknownValueError) as error:
        common.get({"a": {"b": UNKNOWN}}, "a", "b")
    assert unknown_at(error) == (UNKNOWN, ["a", "b"])
    with pytest.raises(UnknownValueError) as error:
        common.get({"list": ["known", UNKNOWN_NUMBER_VALUE]}, "list", 1)
    assert unknown_at(error) == (UNKNOWN_NUMBER_VALUE, ["list", "1"])
    with pytest.raises(UnknownValueError) as error:
        common.get({"a": {"b": {"c": UNKNOWN}}}, "a")
    assert unknown_at(error) == (UNKNOWN, ["a", "b", "c"])


def test_known_is_none_for_an_unknown_or_absent_value() -> None:
    props = {"a": {"b": "x"}, "u": UNKNOWN}
    assert common.known(props, "a", "b") == "x"
    assert common.known(props, "u") is None
    assert common.known(props, "missing") is None


def test_addon_profiles_are_found_whatever_the_case_of_their_key() -> None:
    profile = {"enabled": True, "config": {"enableSecretRotation": "true"}}
    props = {"addonProfiles": {"azurepolicy": {"enabled": False}, "azureKeyvaultSecretsProvider": profile}}
    assert common.addon_profile(props, "azurekeyvaultsecretsprovider") == profile
    assert common.addon_profile(props, "AZUREKEYVAULTSECRETSPROVIDER") == profile
    assert common.addon_profile(props, "azureKeyvaultSecretsProvider") == profile
    assert common.addon_profile(props, "azurePolicy") == {"enabled": False}
    assert common.addon_profile(props, "omsagent") is None
    assert common.addon_profile({}, "azurepolicy") is None
    assert common.addon_profile({"addonProfiles": None}, "azurepolicy") is None
    assert common.addon_profile({"addonProfiles": ["azurepolicy"]}, "azurepolicy") is None


def test_an_addon_profile_is_read_as_given_and_its_unknowns_raise_only_when_read() -> None:
    props = unknown_checking_proxy({"addonProfiles": {"AzurePolicy": {"enabled": True, "config": UNKNOWN}}})
    found = common.addon_profile(props, "azurepolicy")
    assert found["enabled"] is True
    with pytest.raises(UnknownValueError):
        found["config"]
    with pytest.raises(UnknownValueError) as error:
        common.addon_profile(unknown_checking_proxy({"addonProfiles": UNKNOWN_OBJECT_VALUE}), "azurepolicy")
    assert unknown_at(error) == (UNKNOWN_OBJECT_VALUE, ["addonProfiles"])


def test_ids_are_compared_case_folded() -> None:
    assert common.same_id("ABCD-ef") == "abcd-ef"
    assert common.same_id(None) is None


def test_a_policy_without_config_reads_an_empty_one() -> None:
    assert common.config_of(resource_args(row("t", "r"))) == {}
    assert common.config_of(resource_args(row("t", "r"), {"production": True})) == {"production": True}


def test_not_applicable_raises_with_the_reason() -> None:
    with pytest.raises(_NotApplicableError) as error:
        common.not_applicable(resource_args(row("t", "r")), "why not")
    assert error.value.reason == "why not"


def test_not_applicable_raises_even_if_the_engine_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    args = resource_args(row("t", "r"))
    monkeypatch.setattr(args, "not_applicable", lambda reason=None: None)
    with pytest.raises(AssertionError) as error:
        common.not_applicable(args, "why not")
    assert str(error.value) == "pulumi-policy's not_applicable returned instead of raising"


# --- Checks --------------------------------------------------------------------------------------------------------


def test_checks_report_each_violation_on_its_resource() -> None:
    vault, other = resources(row(common.VAULT, "kv"), row(common.VAULT, "other"))
    found: list[tuple[str, str | None]] = []
    checks = Checks(stack_args([]), lambda message, urn=None: found.append((message, urn)))
    assert checks.violations == 0
    checks.report("first", vault)
    checks.report("second")
    checks.report("third", other)
    assert found == [("first", vault.urn), ("second", None), ("third", other.urn)]
    assert checks.violations == 3
    checks.done()  # violations and nothing undecided: done


def test_checks_with_undecided_items_and_no_violation_are_not_applicable_with_each_reason() -> None:
    vault, secret = resources(row(common.VAULT, "kv"), row(common.SECRET, "s"))
    checks = Checks(stack_args([]), lambda message, urn=None: None)
    with checks.each(vault):
        common.get({"name": UNKNOWN}, "name")
    checks.undecided(secret, "its vault is unknown")
    with pytest.raises(_NotApplicableError) as error:
        checks.done()
    assert error.value.reason == (
        UNDECIDED + "kv: string value at .name can't be known during preview; s: its vault is unknown"
    )


def test_checks_with_a_violation_apply_though_others_are_undecided() -> None:
    (vault,) = resources(row(common.VAULT, "kv"))
    checks = Checks(stack_args([]), lambda message, urn=None: None)
    checks.undecided(vault, "unknown")
    checks.report("broken", vault)
    checks.done()


def test_checks_with_nothing_undecided_apply() -> None:
    checks = Checks(stack_args([]), lambda message, urn=None: None)
    checks.done()
    assert checks.unchecked == []


# --- Links ---------------------------------------------------------------------------------------------------------


def test_derived_from_is_the_candidates_a_property_was_computed_from() -> None:
    a, b, c = (row(common.IDENTITY, n) for n in "abc")
    assignment = row(common.ROLE_ASSIGNMENT, "ra", principalId=[a, c], scope=[b])
    ra, ia, ib, ic = resources(assignment, a, b, c)
    assert common.derived_from(ra, "principalId", [ia, ib, ic]) == [ia, ic]
    assert common.derived_from(ra, "scope", [ia, ib, ic]) == [ib]
    assert common.derived_from(ra, "roleDefinitionId", [ia, ib, ic]) == []


def test_linked_follows_values_when_both_are_known_whatever_the_dependencies() -> None:
    a, b = row(common.IDENTITY, "a", {"id": "A"}), row(common.IDENTITY, "b", {"id": "B"})
    ra, ia, ib = resources(row(common.ROLE_ASSIGNMENT, "ra", principalId=[a]), a, b)

    def of(r: PolicyResource) -> Any:
        return common.known(r.props, "id")

    assert common.linked(ra, "B", "principalId", [ia, ib], of) == [ib]
    assert common.linked(ra, "C", "principalId", [ia, ib], of) == []


def test_linked_follows_dependencies_while_either_value_is_unknown() -> None:
    a, b = row(common.IDENTITY, "a", {"id": UNKNOWN}), row(common.IDENTITY, "b", {"id": "B"})
    ra, ia, ib = resources(row(common.ROLE_ASSIGNMENT, "ra", principalId=[a, b]), a, b)

    def of(r: PolicyResource) -> Any:
        return common.known(r.props, "id")

    # Their value unknown: by dependency; ours unknown: every candidate it came from.
    assert common.linked(ra, "B", "principalId", [ia], of) == [ia]
    assert common.linked(ra, None, "principalId", [ia, ib], of) == [ia, ib]
    assert common.linked(ra, None, "scope", [ia, ib], of) == []
    (alone,) = resources(row(common.ROLE_ASSIGNMENT, "alone"))
    assert common.linked(alone, "B", "principalId", [ia], of) == []


# --- ARM ids and names ---------------------------------------------------------------------------------------------


def test_vault_scopes_name_the_vault_and_secret_lowercase() -> None:
    assert common.vault_scope(VAULT_ID.format("MyVault")) == ("myvault", None)
    assert common.vault_scope(VAULT_ID.format("MyVault") + "/secrets/Db-Password") == ("myvault", "db-password")
    lower = "/subscriptions/s/resourcegroups/g/providers/microsoft.keyvault/VAULTS/kv"
    assert common.vault_scope(lower) == ("kv", None)
    assert common.vault_scope(VAULT_ID.format("kv") + "/keys/k") is None
    assert common.vault_scope(VAULT_ID.format("kv") + "/secrets/s/versions") is None
    assert common.vault_scope("/subscriptions/s/providers/Microsoft.KeyVaultX/vaults/kv") is None
    assert common.vault_scope("/subscriptions/s/resourceGroups/g") is None


def test_registry_scopes_name_the_registry_lowercase() -> None:
    scope = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/MyRegistry"
    assert common.registry_scope(scope) == "myregistry"
    assert common.registry_scope(scope.replace("Microsoft.ContainerRegistry", "microsoft.containerregistry")) == (
        "myregistry"
    )
    assert common.registry_scope(scope + "/replications/x") is None
    assert common.registry_scope(VAULT_ID.format("kv")) is None


def test_a_vaults_name_is_its_name_output_else_its_vault_name_input_lowercase() -> None:
    both = one(row(common.VAULT, "kv", {"name": "Out-Name", "vaultName": "In-Name"}))
    assert common.vault_name(both) == "out-name"
    assert common.vault_key(both) == "out-name"
    unknown_name = one(row(common.VAULT, "kv", {"name": UNKNOWN, "vaultName": "In-Name"}))
    assert common.vault_name(unknown_name) == "in-name"
    assert common.vault_name(one(row(common.VAULT, "kv", {"vaultName": "In-Name"}))) == "in-name"
    nameless = one(row(common.VAULT, "kv", {"name": UNKNOWN, "vaultName": UNKNOWN}))
    assert common.vault_name(nameless) is None
    assert common.vault_key(nameless) == nameless.urn
    assert common.vault_name(one(row(common.VAULT, "kv"))) is None


def test_a_secrets_address_comes_from_its_id_else_its_vault_and_name() -> None:
    from_id = {"id": VAULT_ID.format("KV") + "/secrets/Pw", "vaultName": "other", "secretName": "other"}
    assert common.secret_address(one(row(common.SECRET, "s", from_id))) == ("kv", "pw")
    vault_only_id = {"id": VAULT_ID.format("kv"), "vaultName": "In-Vault", "secretName": "In-Secret"}
    assert common.secret_address(one(row(common.SECRET, "s", vault_only_id))) == ("in-vault", "in-secret")
    inputs = {"id": UNKNOWN, "vaultName": "KV", "secretName": "Pw", "name": "other"}
    assert common.secret_address(one(row(common.SECRET, "s", inputs))) == ("kv", "pw")
    outputs = {"vaultName": "KV", "secretName": UNKNOWN, "name": "Pw"}
    assert common.secret_address(one(row(common.SECRET, "s", outputs))) == ("kv", "pw")
    assert common.secret_address(one(row(common.SECRET, "s", {"vaultName": UNKNOWN, "secretName": "pw"}))) is None
    assert common.secret_address(one(row(common.SECRET, "s", {"vaultName": "kv"}))) is None
    assert common.secret_address(one(row(common.SECRET, "s", {"secretName": "pw"}))) is None


@pytest.mark.parametrize(
    ("uri", "vault"),
    [
        ("https://MyVault.vault.azure.net/", "myvault"),
        ("https://myvault.vault.azure.net", "myvault"),
        ("https://kv.vault.usgovcloudapi.net/", "kv"),
        ("http://kv.vault.azure.net/", None),
        ("https://kv.vault.azure.net/secrets/pw", None),
        ("https://kv.vault.azure.net/?api-version=7.4", None),
        ("https:///", None),
        ("https://kv.vaults.azure.net/", None),
        ("https://kv.blob.core.windows.net/", None),
        ("https://vault.azure.net/", None),
        (VAULT_ID.format("kv"), None),
    ],
)
def test_a_vault_uri_names_its_vault(uri: str, vault: str | None) -> None:
    assert common.vault_uri_name(uri) == vault


def test_secrets_readable_are_the_granted_secrets_or_the_vaults_declared_ones() -> None:
    (grant,) = resources(row(common.ROLE_ASSIGNMENT, "ra"))
    declared = [("kv", "a"), ("kv", "b"), ("other", "c")]
    whole_kv = Readable(grant, "kv", None)
    one_secret = Readable(grant, "other", "d")
    undeclared_vault = Readable(grant, "empty", None)
    assert common.secrets_readable([whole_kv], "kv", declared) == {"a", "b"}
    assert common.secrets_readable([whole_kv], "other", declared) == set()
    assert common.secrets_readable([one_secret, whole_kv], "kv", declared) == {"a", "b"}
    assert common.secrets_readable([one_secret], "other", declared) == {"d"}
    assert common.secrets_readable([undeclared_vault], "empty", declared) == {"*"}
    # A pod that names no vault may read what any grant allows.
    assert common.secrets_readable([whole_kv, one_secret], None, declared) == {"a", "b", "d"}
    assert common.secrets_readable([whole_kv, one_secret, undeclared_vault], None, declared) == {"a", "b", "d", "*"}
    assert common.secrets_readable([], None, declared) == set()


def test_a_roles_guid_is_the_last_segment_of_its_definition_id_lowercase() -> None:
    guid = "4633458B-17DE-408A-B874-0445C86B69E6"
    props = {"roleDefinitionId": f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{guid}"}
    (assignment,) = resources(row(common.ROLE_ASSIGNMENT, "ra", props))
    assert common.role_guid(assignment) == guid.lower()
    assert common.role_guid(resource_args(row(common.ROLE_ASSIGNMENT, "ra", props))) == guid.lower()
    assert common.role_guid(resource_args(row(common.ROLE_ASSIGNMENT, "ra", {"roleDefinitionId": "ABC"}))) == "abc"
    assert common.role_guid(one(row(common.ROLE_ASSIGNMENT, "ra"))) == ""
    with pytest.raises(UnknownValueError):
        common.role_guid(one(row(common.ROLE_ASSIGNMENT, "ra", {"roleDefinitionId": UNKNOWN})))


def test_roles_are_named_for_messages() -> None:
    assert common.role_name(USER) == "Key Vault Secrets User"
    assert common.role_name(common.OWNER) == "Owner"
    assert common.role_name("0000") == "role 0000"


# --- Pods ------------------------------------------------------------------------------------------------------------

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRON_JOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"


def deployment(pod_spec: dict[str, Any], namespace: str | None = "apps") -> dict[str, Any]:
    metadata = {"name": "web"} if namespace is None else {"name": "web", "namespace": namespace}
    return {"metadata": metadata, "spec": {"template": {"metadata": {"labels": {}}, "spec": pod_spec}}}


def test_pod_templates_are_read_where_each_kind_keeps_them() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx:1"}]}}
    assert common.pod_template(DEPLOYMENT, {"spec": {"template": template}}) == template
    cron = {"spec": {"jobTemplate": {"spec": {"template": template}}}}
    assert common.pod_template(CRON_JOB, cron) == template
    pod = {"metadata": {"name": "p"}, "spec": {"containers": []}}
    found = common.pod_template(POD, unknown_checking_proxy(pod))
    assert found == pod
    assert type(found) is dict
    with pytest.raises(UnknownValueError) as error:
        common.pod_template(POD, {"spec": {"containers": [{"image": UNKNOWN}]}})
    assert unknown_at(error) == (UNKNOWN, ["spec", "containers", "0", "image"])


def test_a_workloads_pods_run_as_its_service_account_in_its_namespace() -> None:
    named = one(row(DEPLOYMENT, "w", deployment({"serviceAccountName": "reader", "serviceAccount": "old"})))
    assert common.pod_account(named) == ("apps", "reader")
    legacy = one(row(DEPLOYMENT, "w", deployment({"serviceAccount": "old"}, namespace=None)))
    assert common.pod_account(legacy) == ("default", "old")
    unnamed = one(row(DEPLOYMENT, "w", deployment({"containers": [{"image": UNKNOWN}]})))
    assert common.pod_account(unnamed) == ("apps", "default")
    cron = {"metadata": {}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"serviceAccountName": "job"}}}}}}
    assert common.pod_account(one(row(CRON_JOB, "c", cron))) == ("default", "job")
    pod = {"metadata": {"namespace": "ns"}, "spec": {"serviceAccountName": "solo"}}
    assert common.pod_account(one(row(POD, "p", pod))) == ("ns", "solo")
    assert common.pod_account(one(row(DEPLOYMENT, "w", {"metadata": {}}))) == ("default", "default")


def test_a_workloads_unknown_service_account_or_namespace_raises() -> None:
    unknown_account = one(row(DEPLOYMENT, "w", deployment({"serviceAccountName": UNKNOWN})))
    with pytest.raises(UnknownValueError) as error:
        common.pod_account(unknown_account)
    assert unknown_at(error) == (UNKNOWN, ["spec", "template", "spec", "serviceAccountName"])
    legacy = one(row(DEPLOYMENT, "w", deployment({"serviceAccount": UNKNOWN})))
    with pytest.raises(UnknownValueError):
        common.pod_account(legacy)
    unknown_namespace = one(row(DEPLOYMENT, "w", deployment({"serviceAccountName": "sa"}, namespace=UNKNOWN)))
    with pytest.raises(UnknownValueError):
        common.pod_account(unknown_namespace)


def test_a_pod_templates_service_account() -> None:
    assert common.pod_service_account({"spec": {"serviceAccountName": "a", "serviceAccount": "b"}}) == "a"
    assert common.pod_service_account({"spec": {"serviceAccountName": None, "serviceAccount": "b"}}) == "b"
    assert common.pod_service_account({"spec": {"serviceAccountName": ""}}) == "default"
    assert common.pod_service_account({"spec": None}) == "default"
    assert common.pod_service_account({}) == "default"


def test_a_pod_template_is_labelled_only_by_the_use_label_set_to_true() -> None:
    label = project_facts.WORKLOAD_IDENTITY_USE_LABEL
    assert common.is_labelled({"metadata": {"labels": {label: "true"}}}) is True
    assert common.is_labelled({"metadata": {"labels": {label: "false"}}}) is False
    assert common.is_labelled({"metadata": {"labels": {label: True}}}) is False
    assert common.is_labelled({"metadata": {"labels": {"app": "true"}}}) is False
    assert common.is_labelled({"metadata": {"labels": None}}) is False
    assert common.is_labelled({"metadata": None}) is False
    assert common.is_labelled({}) is False


def test_a_resources_namespace_defaults_to_default() -> None:
    assert common.namespace_of({"metadata": {"namespace": "apps"}}) == "apps"
    assert common.namespace_of({"metadata": {"namespace": None}}) == "default"
    assert common.namespace_of({"metadata": {}}) == "default"
    assert common.namespace_of({}) == "default"
    with pytest.raises(UnknownValueError):
        common.namespace_of({"metadata": {"namespace": UNKNOWN}})


def test_a_templates_containers_are_its_init_app_and_ephemeral_ones_in_order() -> None:
    spec = {"ephemeralContainers": [{"name": "e"}], "containers": [{"name": "c"}], "initContainers": [{"name": "i"}]}
    assert [c["name"] for c in common.containers({"spec": spec})] == ["i", "c", "e"]
    assert common.containers({"spec": {"containers": [{"name": "c"}], "initContainers": None}}) == [{"name": "c"}]
    assert common.containers({"spec": {"initContainers": [{"name": "i"}]}}) == [{"name": "i"}]
    assert common.containers({"spec": {"ephemeralContainers": [{"name": "e"}], "containers": None}}) == [{"name": "e"}]
    assert common.containers({"spec": None}) == []
    assert common.containers({}) == []


def test_raw_walks_a_path_and_leaves_unknown_parts_unread() -> None:
    props = unknown_checking_proxy({"a": {"b": {"c": UNKNOWN, "d": "x"}}, "list": ["x"], "u": UNKNOWN})
    part = common.raw(props, "a", "b")
    assert part["d"] == "x"
    assert common.raw(props, "a", "missing") is None
    assert common.raw(props, "a", "b", "d", "deeper") is None
    assert common.raw(props, "list", "0") is None
    assert common.raw(props) is props
    with pytest.raises(UnknownValueError) as error:
        common.raw(props, "u")
    assert unknown_at(error) == (UNKNOWN, ["u"])


def test_one_containers_unknown_image_leaves_the_others_readable() -> None:
    spec = {
        "initContainers": [{"name": "i", "image": "init:1"}],
        "containers": [{"name": "c", "image": UNKNOWN}],
        "ephemeralContainers": [{"name": "e", "image": "debug:1"}],
    }
    found = common.pod_containers(one(row(DEPLOYMENT, "w", deployment(spec))))
    assert [c["name"] for c in found] == ["i", "c", "e"]
    assert found[0]["image"] == "init:1"
    assert found[2]["image"] == "debug:1"
    with pytest.raises(UnknownValueError):
        found[1]["image"]
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}}}
    assert [c["name"] for c in common.pod_containers(one(row(CRON_JOB, "c", cron)))] == ["c"]
    assert common.pod_containers(one(row(DEPLOYMENT, "w", deployment({})))) == []


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("MyRegistry.azurecr.io/app:1", "myregistry"),
        ("myregistry.azurecr.cn/team/app@sha256:abc", "myregistry"),
        ("myregistry.azurecr.us/app", "myregistry"),
        ("docker.io/library/nginx:1", None),
        ("myregistry.azurecr.io.example.com/app", None),
        ("nginx:1.27", None),
        ("myregistry.azurecr.io", None),
    ],
)
def test_an_images_azure_container_registry(image: str, registry: str | None) -> None:
    assert common.acr_registry_of(image) == registry


@pytest.mark.parametrize(
    ("subject", "parts"),
    [
        ("system:serviceaccount:apps:reader", ("apps", "reader")),
        ("system:serviceaccount:apps:my.reader", ("apps", "my.reader")),
        ("system:serviceaccount:apps", None),
        ("system:serviceaccount:apps:reader:extra", None),
        ("system:serviceaccounts:apps:reader", None),
        ("sys:serviceaccount:apps:reader", None),
        ("repo:org/app:ref:refs/heads/main", None),
        ("system:serviceaccount:Apps:reader", None),
        ("system:serviceaccount:my.apps:reader", None),
        ("system:serviceaccount:apps:Reader", None),
        ("system:serviceaccount:apps:", None),
    ],
)
def test_a_subjects_namespace_and_service_account(subject: str, parts: tuple[str, str] | None) -> None:
    assert common.subject_parts(subject) == parts


def test_external_service_accounts_are_read_as_subjects() -> None:
    config = {"externalServiceAccounts": ["apps/reader", "system:serviceaccount:ops:runner", "ns/a/b"]}
    assert common.external_subjects(config) == {
        "system:serviceaccount:apps:reader",
        "system:serviceaccount:ops:runner",
        "system:serviceaccount:ns:a/b",
    }
    assert common.external_subjects({}) == set()
    assert common.external_subjects({"externalServiceAccounts": None}) == set()


@pytest.mark.parametrize(
    ("config", "stack", "production"),
    [
        ({"production": True}, "dev", True),
        ({"production": False}, "prod", False),
        ({"production": None}, "prod", True),
        ({}, "prod", True),
        ({}, "production", True),
        ({}, "org/project/prod", True),
        ({}, "org/project/dev", False),
        ({}, "prod-eu", False),
        ({}, None, False),
        ({"productionStacks": ["live"]}, "org/project/live", True),
        ({"productionStacks": ["live"]}, "prod", False),
        ({"productionStacks": None}, "prod", True),
    ],
)
def test_production_is_the_setting_or_else_the_stacks_name(
    config: dict[str, Any], stack: str | None, production: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if stack is None:
        monkeypatch.delenv("PULUMI_STACK", raising=False)
    else:
        monkeypatch.setenv("PULUMI_STACK", stack)
    assert common.is_production(config) is production


# --- The stack -------------------------------------------------------------------------------------------------------


def test_a_stack_lists_its_resources_by_type_and_its_workloads() -> None:
    rows = [
        row(common.VAULT, "kv"),
        row(DEPLOYMENT, "web"),
        row(common.SECRET, "pw"),
        row(CRON_JOB, "job"),
        row(common.IDENTITY, "id"),
    ]
    stack = Stack(stack_args(rows))
    assert [r.name for r in stack.resources] == ["kv", "web", "pw", "job", "id"]
    assert [r.name for r in stack.of(common.VAULT, common.IDENTITY)] == ["kv", "id"]
    assert [r.name for r in stack.of(common.SECRET)] == ["pw"]
    assert [r.name for r in stack.workloads()] == ["web", "job"]


def test_a_stacks_service_accounts_by_namespace_and_name() -> None:
    rows = [
        row(common.SERVICE_ACCOUNT, "a", {"metadata": {"name": "reader", "namespace": "apps"}}),
        row(common.SERVICE_ACCOUNT, "b", {"metadata": {"name": "reader"}}),
        row(common.VAULT, "kv", {"metadata": {"name": "x"}}),
    ]
    accounts = Stack(stack_args(rows)).service_accounts()
    assert {key: account.name for key, account in accounts.items()} == {
        ("apps", "reader"): "a",
        ("default", "reader"): "b",
    }
    unknown = row(common.SERVICE_ACCOUNT, "u", {"metadata": {"name": UNKNOWN}})
    with pytest.raises(UnknownValueError):
        Stack(stack_args([unknown])).service_accounts()


def credential(name: str, props: dict[str, Any], **deps: list[Row]) -> Row:
    return row(common.FEDERATED_CREDENTIAL, name, props, **deps)


def test_a_credentials_identity_is_the_one_its_resource_name_names() -> None:
    a = row(common.IDENTITY, "a", {"name": "id-a"})
    b = row(common.IDENTITY, "b", {"name": UNKNOWN, "resourceName": "id-b"})
    by_name = credential("c1", {"resourceName": "id-b"}, resourceName=[a])
    by_id = credential(
        "c2", {"resourceName": UNKNOWN, "id": IDENTITY_ID.format("id-a") + "/federatedIdentityCredentials/c2"}
    )
    stack = Stack(stack_args([a, b, by_name, by_id]))
    ia, ib, c1, c2 = stack.resources[:4]
    # By value, though the dependency says otherwise.
    assert stack.identity_of(c1) is ib
    assert stack.identity_of(c2) is ia


def test_a_credentials_identity_while_its_name_is_unknown_is_the_one_it_came_from() -> None:
    a = row(common.IDENTITY, "a", {"name": UNKNOWN})
    b = row(common.IDENTITY, "b", {"name": "id-b"})
    from_a = credential("c1", {"resourceName": UNKNOWN, "id": UNKNOWN}, resourceName=[a])
    other_id = credential("c2", {"resourceName": UNKNOWN, "id": IDENTITY_ID.format("id-x")}, resourceName=[b])
    from_both = credential("c3", {"resourceName": UNKNOWN}, resourceName=[a, b])
    missing = credential("c4", {"resourceName": "id-z"}, resourceName=[b])
    stack = Stack(stack_args([a, b, from_a, other_id, from_both, missing]))
    ia, _, c1, c2, c3, c4 = stack.resources
    assert stack.identity_of(c1) is ia
    # An id that names no identity's credential says nothing: the dependency decides.
    assert stack.identity_of(c2) is stack.resources[1]
    assert stack.identity_of(c3) is None
    assert stack.identity_of(c4) is None


def test_federated_identities_group_their_credentials() -> None:
    a = row(common.IDENTITY, "a", {"name": "id-a"})
    b = row(common.IDENTITY, "b", {"name": "id-b"})
    c = row(common.IDENTITY, "c", {"name": "id-c"})
    rows = [
        a,
        b,
        c,
        credential("a1", {"resourceName": "id-a", "subject": "system:serviceaccount:apps:one"}),
        credential("b1", {"resourceName": "id-b", "subject": "system:serviceaccount:apps:two"}),
        credential("a2", {"resourceName": "id-a", "subject": "system:serviceaccount:apps:two"}),
        credential("x", {"resourceName": "id-x", "subject": "system:serviceaccount:apps:one"}),
    ]
    stack = Stack(stack_args(rows))
    found = stack.federated_identities()
    assert {urn: (identity.name, [c.name for c in creds]) for urn, (identity, creds) in found.items()} == {
        a["urn"]: ("a", ["a1", "a2"]),
        b["urn"]: ("b", ["b1"]),
    }
    assert [i.name for i in stack.identities_federated_with("apps", "two")] == ["a", "b"]
    assert [i.name for i in stack.identities_federated_with("apps", "one")] == ["a"]
    assert stack.identities_federated_with("apps", "three") == []


def test_identities_federated_with_an_account_are_undecided_while_a_subject_is_unknown() -> None:
    rows = [row(common.IDENTITY, "a", {"name": "id-a"}), credential("a1", {"resourceName": "id-a", "subject": UNKNOWN})]
    with pytest.raises(UnknownValueError):
        Stack(stack_args(rows)).identities_federated_with("apps", "one")


def assignment(name: str, props: dict[str, Any], **deps: list[Row]) -> Row:
    return row(common.ROLE_ASSIGNMENT, name, {"roleDefinitionId": f"/roleDefinitions/{USER}", **props}, **deps)


def test_assignments_to_a_principal_by_value_else_by_dependency() -> None:
    identity = row(common.IDENTITY, "id", {"principalId": "p-1"})
    other = row(common.IDENTITY, "other", {"principalId": "p-2"})
    rows = [
        identity,
        other,
        assignment("equal", {"principalId": "p-1"}, principalId=[other]),
        assignment("different", {"principalId": "p-2"}, principalId=[identity]),
        assignment("derived", {"principalId": UNKNOWN}, principalId=[identity]),
        assignment("elsewhere", {"principalId": UNKNOWN}, principalId=[other]),
    ]
    stack = Stack(stack_args(rows))
    found = stack.assignments_to(stack.resources[0], ("principalId",))
    assert [a.name for a in found] == ["equal", "derived"]


def test_assignments_to_a_principal_whose_id_is_unknown_are_those_computed_from_it() -> None:
    identity = row(common.IDENTITY, "id", {"principalId": UNKNOWN})
    rows = [
        identity,
        assignment("derived", {"principalId": "p-1"}, principalId=[identity]),
        assignment("unrelated", {"principalId": "p-1"}),
    ]
    stack = Stack(stack_args(rows))
    assert [a.name for a in stack.assignments_to(stack.resources[0], ("principalId",))] == ["derived"]
    kubelet = row(common.CLUSTER, "aks", {"identityProfile": {"kubeletidentity": {"objectId": "k-1"}}})
    stack = Stack(stack_args([kubelet, assignment("kubelet", {"principalId": "k-1"})]))
    path = ("identityProfile", "kubeletidentity", "objectId")
    assert [a.name for a in stack.assignments_to(stack.resources[0], path)] == ["kubelet"]


def test_an_assignment_whose_unknown_principal_comes_from_outside_the_stack_is_undecidable() -> None:
    identity = row(common.IDENTITY, "id", {"principalId": "p-1"})
    stack = Stack(stack_args([identity, assignment("ra", {"principalId": UNKNOWN})]))
    with pytest.raises(UnknownValueError) as error:
        stack.assignments_to(stack.resources[0], ("principalId",))
    assert unknown_at(error) == (UNKNOWN, ["ra", "principalId"])
    assert error.value.message == "string value at .ra.principalId can't be known during preview"


def readable(stack: Stack, read_roles: set[str] | None = None) -> list[tuple[str, str, str | None]]:
    """What the stack's first resource may read, with Key Vault Secrets User (or `read_roles`) as the read roles."""
    roles = {USER} if read_roles is None else read_roles
    return [(r.assignment.name, r.vault, r.secret) for r in stack.readable(stack.resources[0], roles)]


def test_what_an_identity_may_read_by_known_scope() -> None:
    identity = row(common.IDENTITY, "id", {"principalId": "p-1"})
    registry = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/acr"
    rows = [
        identity,
        row(
            common.ROLE_ASSIGNMENT,
            "reader-role",
            {"principalId": "p-1", "scope": VAULT_ID.format("kv"), "roleDefinitionId": f"/x/{READER.upper()}"},
        ),
        assignment("vault", {"principalId": "p-1", "scope": VAULT_ID.format("KV")}),
        assignment("secret", {"principalId": "p-1", "scope": VAULT_ID.format("kv") + "/secrets/Pw"}),
        assignment("registry", {"principalId": "p-1", "scope": registry}),
        assignment("someone-else", {"principalId": "p-2", "scope": VAULT_ID.format("kv")}),
    ]
    stack = Stack(stack_args(rows))
    assert readable(stack) == [("vault", "kv", None), ("secret", "kv", "pw")]
    assert readable(stack, {USER, READER}) == [
        ("reader-role", "kv", None),
        ("vault", "kv", None),
        ("secret", "kv", "pw"),
    ]
    assert readable(stack, set()) == []


def test_what_an_identity_may_read_while_a_scope_is_unknown_is_what_the_scope_came_from() -> None:
    identity = row(common.IDENTITY, "id", {"principalId": "p-1"})
    vault = row(common.VAULT, "kv", {"name": "KV"})
    nameless = row(common.VAULT, "nameless", {"name": UNKNOWN})
    known_secret = row(common.SECRET, "pw", {"vaultName": "kv", "secretName": "Pw"})
    secret_in_kv = row(common.SECRET, "in-kv", {"vaultName": UNKNOWN, "secretName": UNKNOWN}, vaultName=[vault])
    orphan = row(common.SECRET, "orphan", {"vaultName": UNKNOWN, "secretName": "x"})
    twice = row(common.SECRET, "twice", {"vaultName": UNKNOWN}, vaultName=[vault, nameless])
    rows = [
        identity,
        vault,
        nameless,
        known_secret,
        secret_in_kv,
        orphan,
        twice,
        assignment("to-vault", {"principalId": "p-1", "scope": UNKNOWN}, scope=[vault]),
        assignment("to-nameless", {"principalId": "p-1", "scope": UNKNOWN}, scope=[nameless]),
        assignment("to-secrets", {"principalId": "p-1", "scope": UNKNOWN}, scope=[known_secret, secret_in_kv]),
        assignment("to-orphans", {"principalId": "p-1", "scope": UNKNOWN}, scope=[orphan, twice]),
        assignment("vault-and-secret", {"principalId": "p-1", "scope": UNKNOWN}, scope=[identity, vault, known_secret]),
    ]
    stack = Stack(stack_args(rows))
    by_urn = {r["name"]: r["urn"] for r in rows}
    assert readable(stack) == [
        ("to-vault", "kv", None),
        ("to-nameless", by_urn["nameless"], None),
        ("to-secrets", "kv", "pw"),
        ("to-secrets", "kv", by_urn["in-kv"]),
        ("to-orphans", by_urn["orphan"], by_urn["orphan"]),
        ("to-orphans", by_urn["twice"], by_urn["twice"]),
        ("vault-and-secret", "kv", None),
        ("vault-and-secret", "kv", "pw"),
    ]


def test_what_an_identity_may_read_is_undecidable_while_a_scope_comes_from_outside_the_stack() -> None:
    identity = row(common.IDENTITY, "id", {"principalId": "p-1"})
    stack = Stack(stack_args([identity, assignment("ra", {"principalId": "p-1", "scope": UNKNOWN}, scope=[identity])]))
    with pytest.raises(UnknownValueError) as error:
        readable(stack)
    assert unknown_at(error) == (UNKNOWN, ["ra", "scope"])
    # A grant of a role that does not read is no reason to stop.
    assert readable(stack, {READER}) == []


# --- Building the policies -------------------------------------------------------------------------------------------


def test_read_roles_default_to_secrets_user_and_are_compared_lowercase() -> None:
    assert common.read_roles_of({}) == {USER}
    assert common.read_roles_of({"readRoles": None}) == {USER}
    assert common.read_roles_of({"readRoles": ["ABC", READER.upper()]}) == {"abc", READER}


def _resource_check(args: ResourceValidationArgs, report: common.Report) -> None:
    """Reports its resource's `message`; raises UnknownValueError while it is unknown."""
    report(common.get(args.props, "message"))


def test_a_resource_policy_is_what_the_engine_needs_and_reports_what_its_check_reports() -> None:
    policy = common.resource_policy(
        "a-rule", common.ADVISORY, "What the rule holds.", _resource_check, **common.PRODUCTION
    )
    assert isinstance(policy, ResourceValidationPolicy)
    assert (policy.name, policy.description, policy.enforcement_level) == (
        "a-rule",
        "What the rule holds.",
        EnforcementLevel.ADVISORY,
    )
    assert policy.config_schema is not None
    assert policy.config_schema.properties == common.PRODUCTION
    found: list[tuple[str, str | None]] = []
    target = row(common.VAULT, "kv", {"message": "broken"})
    policy.validate(resource_args(target), lambda message, urn=None: found.append((message, urn)))
    # No URN: the engine puts a resource policy's violation on the resource it checked.
    assert found == [("broken", None)]


def test_a_resource_policy_is_not_applicable_while_its_value_is_unknown() -> None:
    policy = common.resource_policy("a-rule", common.MANDATORY, "What the rule holds.", _resource_check)
    assert policy.enforcement_level == EnforcementLevel.MANDATORY
    assert policy.config_schema is None
    assert run(policy.validate, resource_args(row(common.VAULT, "kv", {"message": UNKNOWN}))) == (
        [],
        "string value at .message can't be known during preview" + PREVIEW,
    )


def _stack_check(args: StackValidationArgs, report_violation: Any) -> None:
    for resource in args.resources:
        report_violation(f"{resource.name} is broken", resource.urn)


def test_a_stack_policy_is_what_the_engine_needs_and_reports_what_its_check_reports() -> None:
    policy = common.stack_policy(
        "a-stack-rule", common.MANDATORY, "What the stack holds.", _stack_check, **common.READ_ROLES
    )
    assert isinstance(policy, StackValidationPolicy)
    assert (policy.name, policy.description, policy.enforcement_level) == (
        "a-stack-rule",
        "What the stack holds.",
        EnforcementLevel.MANDATORY,
    )
    assert policy.config_schema is not None
    assert policy.config_schema.properties == common.READ_ROLES
    target = row(common.VAULT, "kv")
    found: list[tuple[str, str | None]] = []
    policy.validate(stack_args([target]), lambda message, urn=None: found.append((message, urn)))
    assert found == [("kv is broken", target["urn"])]
    bare = common.stack_policy("bare", common.ADVISORY, "Nothing to set.", _stack_check)
    assert (bare.enforcement_level, bare.config_schema) == (EnforcementLevel.ADVISORY, None)
