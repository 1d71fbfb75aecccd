"""The policy pack on secrets as files: a SecretProviderClass of the Azure Key Vault provider passes when it signs in
as the identity federated with the pods that mount it and names what that identity may read, and each broken class
is reported, on the class (or the cluster without the add-on), with what to change (facts: Secrets Store CSI driver).
The classes are declared here by hand, to the contract the files delivery writes, next to the project's own stacks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE

from aks_workload_identity import facts
from tests.policy_args import DEPLOYMENT, UNDECIDED, Found, Row, checked, depends, of_type, only, rows, stack_args, wp
from tests.policy_args import outcome as engine_outcome
from twin.mocks import Program

validate = checked("secret-provider-classes-use-the-pods-identity")


def outcome(resources: list[Row], config: dict[str, Any] | None = None) -> tuple[Found, str | None]:
    """The policy's violations on `resources`, each with the URN it is on, and its not-applicable reason."""
    return engine_outcome(validate, stack_args(resources, config))


def objects(*names: str, type_: str = facts.SPC_OBJECT_TYPE_SECRET) -> str:
    """The `objects` parameter: YAML `array:` of YAML strings, one per object."""
    items = [yaml.safe_dump({"objectName": n, "objectType": type_}) for n in names]
    return yaml.safe_dump({"array": items})


def add_class(
    resources: list[Row],
    workload: str,
    secrets: tuple[str, ...],
    *,
    mounted: bool = True,
    vault: Row | None = None,
    name: str | None = None,
) -> Row:
    """A class for `workload` (its identity's client id, its vault's name, its secrets), mounted by its pods, on a
    cluster running the add-on."""
    identity = only(resources, wp.IDENTITY, f"{workload}-identity")
    vault = vault or of_type(resources, wp.VAULT)[0]
    deployment = only(resources, DEPLOYMENT, f"{workload}-deployment")
    namespace = deployment["props"]["metadata"]["namespace"]
    name = name or f"{workload}-files"
    spc = {
        "type": wp.SECRET_PROVIDER_CLASS,
        "name": name,
        "urn": f"urn:pulumi:test::project::{wp.SECRET_PROVIDER_CLASS}::{name}",
        "props": {
            "apiVersion": facts.SECRET_PROVIDER_CLASS_API_VERSION,
            "kind": facts.SECRET_PROVIDER_CLASS_KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "provider": facts.AZURE_PROVIDER,
                "parameters": {
                    facts.SPC_USE_POD_IDENTITY: "false",
                    facts.SPC_CLIENT_ID: identity["props"]["clientId"],
                    facts.SPC_KEYVAULT_NAME: vault["props"]["name"],
                    facts.SPC_TENANT_ID: identity["props"]["tenantId"],
                    facts.SPC_OBJECTS: objects(*secrets),
                },
            },
        },
        "dependencies": [],
        "property_dependencies": {},
    }
    resources.append(spc)
    if mounted:
        mount(deployment, name)
    for cluster in of_type(resources, wp.CLUSTER):
        addons = cluster["props"].setdefault("addonProfiles", {})
        addons[facts.SECRETS_PROVIDER_ADDON] = {"enabled": True, "config": {facts.SECRET_ROTATION_CONFIG: "true"}}
    return spc


def mount(deployment: Row, name: str) -> None:
    """The deployment's pods mount the class `name` through the CSI driver."""
    attributes = {facts.SECRET_PROVIDER_CLASS_ATTRIBUTE: name}
    csi = {"driver": facts.SECRETS_STORE_CSI_DRIVER, "readOnly": True, "volumeAttributes": attributes}
    deployment["props"]["spec"]["template"]["spec"]["volumes"].append({"name": f"{name}-store", "csi": csi})


def parameters(spc: Row) -> dict[str, Any]:
    return spc["props"]["spec"]["parameters"]


def dev_with_class(dev: Program) -> tuple[list[Row], Row]:
    resources = rows(dev)
    return resources, add_class(resources, "reader", ("Secret",))


def copy_row(row: Row, logical: str, **props: Any) -> Row:
    """Another resource like `row`, with the logical name `logical` and `props` changed."""
    twin = copy.deepcopy(row)
    twin.update(name=logical, urn=row["urn"].rsplit("::", 1)[0] + f"::{logical}")
    twin["props"].update(props)
    return twin


def grant(resources: list[Row], scope: str) -> None:
    """The reader identity's Key Vault Secrets User grant at a further `scope`."""
    resources.append(
        copy_row(only(resources, wp.ROLE_ASSIGNMENT, "reader-reads-vault"), "reader-reads-more", scope=scope)
    )


def reader_client_id(resources: list[Row]) -> str:
    return only(resources, wp.IDENTITY, "reader-identity")["props"]["clientId"]


def vault_name(resources: list[Row]) -> str:
    return only(resources, wp.VAULT)["props"]["name"]


def vault_id(resources: list[Row]) -> str:
    return only(resources, wp.VAULT)["props"]["id"]


# --- The messages, written out ------------------------------------------------------------------------------------


def label(spc: Row) -> str:
    metadata = spc["props"]["metadata"]
    return f"SecretProviderClass '{metadata['namespace']}/{metadata['name']}'"


def pod_identity_on(spc: Row, value: str) -> str:
    return (
        f'{label(spc)} sets usePodIdentity={value}: set it to the string "false" (or leave it out) so the provider '
        "signs in with the workload identity (pod identity is retired)."
    )


def wrong_client_id(spc: Row, client_id: str, wanted: str, workload: str = "reader-deployment") -> str:
    return (
        f"{label(spc)} sets clientID={client_id}, but '{workload}' mounts it as service account 'wi-demo/wi-demo-sa', "
        f"whose federated identity is {wanted}: set clientID to that identity's clientId, or the provider's token "
        "exchange fails (AADSTS70021) and the pod never starts."
    )


def no_read_role(spc: Row, vault: str, may_read: str) -> str:
    return (
        f"{label(spc)} sets keyvaultName={vault}, a vault its identity holds no read role on (it may read: "
        f"{may_read}): name the workload's vault, or grant Key Vault Secrets User on it; the mount fails with 403 "
        "otherwise."
    )


def unreadable_objects(spc: Row) -> str:
    return (
        f"{label(spc)} has objects the provider cannot read: write `array:` and one YAML string per object, each with "
        "objectName and objectType."
    )


def secret_not_readable(spc: Row, secret: str, vault: str, may_read: str) -> str:
    return (
        f"{label(spc)} mounts secret '{secret}' of vault '{vault}', which its identity cannot read (it may read: "
        f"{may_read}): grant Key Vault Secrets User on it, or drop it."
    )


def add_on_off(cluster: str) -> str:
    return (
        f"Cluster '{cluster}' has the azureKeyvaultSecretsProvider add-on off, but the stack declares "
        "SecretProviderClasses: enable it, or no driver mounts them and the pods never start."
    )


def no_such_identity(spc: Row, client_id: str) -> str:
    return (
        f"{label(spc)} sets clientID={client_id}, the client id of no identity this stack declares: set it to the "
        "clientId of the identity federated with the pods that mount it."
    )


def test_a_stack_without_classes_is_not_applicable(dev: Program) -> None:
    assert outcome(rows(dev)) == ([], "the stack declares no SecretProviderClass of the Azure Key Vault provider")


def test_a_class_of_another_provider_is_not_checked(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    spc["props"]["spec"]["provider"] = "gcp"
    parameters(spc)[facts.SPC_USE_POD_IDENTITY] = "true"
    assert outcome(resources) == ([], "the stack declares no SecretProviderClass of the Azure Key Vault provider")


def test_a_class_for_the_pods_identity_and_vault_passes(dev: Program) -> None:
    resources, _ = dev_with_class(dev)
    assert outcome(resources) == ([], None)


Change = Callable[[list[Row], Row], None]
#: (message, the row it is reported on), from the changed stack and its class.
Expected = Callable[[list[Row], Row], tuple[str, Row]]


def _set(key: str, value: Callable[[list[Row]], Any]) -> Change:
    return lambda resources, spc: parameters(spc).update({key: value(resources)})


def _drop(key: str) -> Change:
    return lambda _, spc: parameters(spc).pop(key)


def _from(type_: str, key: str, value: Callable[[Row], Any]) -> Change:
    """The parameter set to another property of the right resource, computed from it."""

    def change(resources: list[Row], spc: Row) -> None:
        source = only(resources, type_)
        parameters(spc)[key] = value(source)
        depends(spc, "spec", source)

    return change


def _kubelet_client_id(resources: list[Row]) -> str:
    return only(resources, wp.CLUSTER)["props"]["identityProfile"][facts.KUBELET_IDENTITY_KEY]["clientId"]


def _principal_id(resources: list[Row]) -> str:
    return only(resources, wp.IDENTITY)["props"]["principalId"]


def _vault_uri(resources: list[Row]) -> str:
    return only(resources, wp.VAULT)["props"]["properties"]["vaultUri"]


def _drop_grant(resources: list[Row], _: Row) -> None:
    resources.remove(only(resources, wp.ROLE_ASSIGNMENT, "reader-reads-vault"))


def _addon_off(resources: list[Row], _: Row) -> None:
    only(resources, wp.CLUSTER)["props"]["addonProfiles"][facts.SECRETS_PROVIDER_ADDON]["enabled"] = False


def _pod_identity(value: str) -> Expected:
    return lambda _, spc: (pod_identity_on(spc, value), spc)


def _reader_wanted(resources: list[Row]) -> str:
    return f"'reader-identity' ({reader_client_id(resources)})"


#: name: (change to the dev stack with a good class, the one violation it brings and where)
BROKEN_CLASSES: dict[str, tuple[Change, Expected]] = {
    "pod identity on": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: "true"), _pod_identity("'true'")),
    "pod identity on, spelt 1": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: "1"), _pod_identity("'1'")),
    "pod identity on, spelt TRUE": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: "TRUE"), _pod_identity("'TRUE'")),
    "usePodIdentity Go cannot parse": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: "no"), _pod_identity("'no'")),
    "usePodIdentity a boolean, not the string": (
        _set(facts.SPC_USE_POD_IDENTITY, lambda _: False),
        _pod_identity("False"),
    ),
    "clientID of the kubelet": (
        _set(facts.SPC_CLIENT_ID, _kubelet_client_id),
        lambda r, spc: (wrong_client_id(spc, _kubelet_client_id(r), _reader_wanted(r)), spc),
    ),
    "clientID is the identity's principalId (right resource, wrong property)": (
        _from(wp.IDENTITY, facts.SPC_CLIENT_ID, lambda identity: identity["props"]["principalId"]),
        lambda r, spc: (wrong_client_id(spc, _principal_id(r), _reader_wanted(r)), spc),
    ),
    "keyvaultName of another vault": (
        _set(facts.SPC_KEYVAULT_NAME, lambda _: "someone-elses"),
        lambda r, spc: (no_read_role(spc, "someone-elses", vault_name(r)), spc),
    ),
    "keyvaultName is the vault's URI (right resource, wrong property)": (
        _from(wp.VAULT, facts.SPC_KEYVAULT_NAME, lambda vault: vault["props"]["properties"]["vaultUri"]),
        lambda r, spc: (no_read_role(spc, _vault_uri(r), vault_name(r)), spc),
    ),
    "no grant on the vault": (_drop_grant, lambda r, spc: (no_read_role(spc, vault_name(r), "none"), spc)),
    "objects the provider cannot read": (
        _set(facts.SPC_OBJECTS, lambda _: "- Secret"),
        lambda _, spc: (unreadable_objects(spc), spc),
    ),
    "cluster without the add-on": (_addon_off, lambda r, _: (add_on_off("wi-aks"), only(r, wp.CLUSTER))),
}


@pytest.mark.parametrize(("change", "expected"), BROKEN_CLASSES.values(), ids=BROKEN_CLASSES.keys())
def test_each_broken_class_is_reported_on_it_with_what_to_change(
    dev: Program, change: Change, expected: Expected
) -> None:
    resources, spc = dev_with_class(dev)
    change(resources, spc)
    message, row = expected(resources, spc)
    assert outcome(resources) == ([(message, row["urn"])], None)


#: `objects` texts the provider cannot read: a list, not `array:`; items no YAML string of a mapping; an item without
#: objectName; `array:` no list; no YAML at all.
UNREADABLE_OBJECTS = {
    "a list of names": "- Secret",
    "array of bare names": "array: [Secret]",
    "an item without objectName": yaml.safe_dump({"array": ["objectType: secret"]}),
    "an item with an empty objectName": yaml.safe_dump({"array": ["objectName: ''\nobjectType: secret"]}),
    "array a number": "array: 5",
    "not YAML": "array: [",
}


@pytest.mark.parametrize("text", UNREADABLE_OBJECTS.values(), ids=UNREADABLE_OBJECTS.keys())
def test_objects_the_provider_cannot_read_are_reported(dev: Program, text: str) -> None:
    resources, spc = dev_with_class(dev)
    parameters(spc)[facts.SPC_OBJECTS] = text
    assert outcome(resources) == ([(unreadable_objects(spc), spc["urn"])], None)


def test_a_class_that_lists_no_objects_passes(dev: Program) -> None:
    """Nothing mounted, nothing to read: the provider reads a missing `objects` as none."""
    resources, spc = dev_with_class(dev)
    _drop(facts.SPC_OBJECTS)(resources, spc)
    assert outcome(resources) == ([], None)


def test_only_secret_objects_are_held_to_the_secret_grants(dev: Program) -> None:
    """A key or certificate object is not a secret the identity needs Secrets User on."""
    resources, spc = dev_with_class(dev)
    items = yaml.safe_load(objects("Other", type_="key"))["array"] + yaml.safe_load(objects("Secret"))["array"]
    parameters(spc)[facts.SPC_OBJECTS] = yaml.safe_dump({"array": items})
    assert outcome(resources) == ([], None)


#: What the provider reads as "pod identity off" (GetUsePodIdentity: trimmed, empty is false, else Go's ParseBool).
POD_IDENTITY_OFF = ("false", "False", "FALSE", "f", "F", "0", "", " false ")


@pytest.mark.parametrize("value", POD_IDENTITY_OFF)
def test_use_pod_identity_spelt_false_the_go_way_passes(dev: Program, value: str) -> None:
    resources, spc = dev_with_class(dev)
    parameters(spc)[facts.SPC_USE_POD_IDENTITY] = value
    assert outcome(resources) == ([], None)


def test_use_pod_identity_left_out_passes(dev: Program) -> None:
    """The provider takes a missing usePodIdentity as false, as the twin does."""
    resources, spc = dev_with_class(dev)
    _drop(facts.SPC_USE_POD_IDENTITY)(resources, spc)
    assert outcome(resources) == ([], None)


def test_the_add_on_is_found_under_a_lowercase_key(dev: Program) -> None:
    """AKS may report add-on profile keys lowercased after a real `pulumi up`."""
    resources, _ = dev_with_class(dev)
    cluster = only(resources, wp.CLUSTER)
    addons = cluster["props"]["addonProfiles"]
    addons[facts.SECRETS_PROVIDER_ADDON.lower()] = addons.pop(facts.SECRETS_PROVIDER_ADDON)
    assert outcome(resources) == ([], None)
    addons[facts.SECRETS_PROVIDER_ADDON.lower()]["enabled"] = False
    assert outcome(resources) == ([(add_on_off("wi-aks"), cluster["urn"])], None)


def test_a_cluster_without_add_on_profiles_is_reported(dev: Program) -> None:
    resources, _ = dev_with_class(dev)
    cluster = only(resources, wp.CLUSTER)
    del cluster["props"]["addonProfiles"]
    assert outcome(resources) == ([(add_on_off("wi-aks"), cluster["urn"])], None)


def test_a_client_id_in_uppercase_names_the_same_identity(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    client_id = parameters(spc)[facts.SPC_CLIENT_ID]
    assert client_id.upper() != client_id
    parameters(spc)[facts.SPC_CLIENT_ID] = client_id.upper()
    assert outcome(resources) == ([], None)


def test_a_class_no_pod_mounts_must_still_name_a_declared_identity(dev: Program) -> None:
    resources = rows(dev)
    spc = add_class(resources, "reader", ("Secret",), mounted=False)
    assert outcome(resources) == ([], None)
    stranger = "00000000-0000-0000-0000-000000000000"
    parameters(spc)[facts.SPC_CLIENT_ID] = stranger
    assert outcome(resources) == (
        [
            (no_such_identity(spc, stranger), spc["urn"]),
            (no_read_role(spc, vault_name(resources), "none"), spc["urn"]),
        ],
        None,
    )


def test_every_identity_federated_with_the_service_account_is_named(dev: Program) -> None:
    """Two identities trust the pods' service account: the message offers both client ids."""
    resources, spc = dev_with_class(dev)
    identity = only(resources, wp.IDENTITY)
    spare_client_id = "11111111-2222-3333-4444-555555555555"
    spare = copy_row(identity, "spare-identity", name="spare-identity-physical", clientId=spare_client_id)
    credential = only(resources, wp.FEDERATED_CREDENTIAL)
    resources += [spare, copy_row(credential, "spare-federation", resourceName="spare-identity-physical", id=None)]
    assert outcome(resources) == ([], None)
    parameters(spc)[facts.SPC_CLIENT_ID] = kubelet = _kubelet_client_id(resources)
    wanted = f"{_reader_wanted(resources)}, 'spare-identity' ({spare_client_id})"
    assert outcome(resources) == ([(wrong_client_id(spc, kubelet, wanted), spc["urn"])], None)


def test_a_class_mounted_by_several_workloads_is_held_to_each_ones_identity(dev: Program) -> None:
    """A second deployment mounts the class as a service account no identity trusts: reported for it, while the
    vault and secrets are still checked against what the first deployment's identity may read."""
    resources, spc = dev_with_class(dev)
    second = copy_row(only(resources, DEPLOYMENT), "second-deployment")
    second["props"]["spec"]["template"]["spec"]["serviceAccountName"] = "second-sa"
    resources.append(second)
    parameters(spc)[facts.SPC_CLIENT_ID] = kubelet = _kubelet_client_id(resources)
    assert outcome(resources) == (
        [
            (wrong_client_id(spc, kubelet, _reader_wanted(resources)), spc["urn"]),
            (
                wrong_client_id(spc, kubelet, "none", workload="second-deployment").replace(
                    "'wi-demo/wi-demo-sa'", "'wi-demo/second-sa'"
                ),
                spc["urn"],
            ),
        ],
        None,
    )


def test_the_vaults_the_identity_may_read_are_all_named(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    grant(resources, vault_id(resources).rsplit("/", 1)[0] + "/second-vault")
    parameters(spc)[facts.SPC_KEYVAULT_NAME] = "someone-elses"
    may_read = f"{vault_name(resources)}, second-vault"
    assert outcome(resources) == ([(no_read_role(spc, "someone-elses", may_read), spc["urn"])], None)


def test_a_vault_name_in_another_case_names_the_same_vault(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    parameters(spc)[facts.SPC_KEYVAULT_NAME] = vault_name(resources).upper()
    assert outcome(resources) == ([], None)


def test_read_roles_config_decides_which_grants_let_the_class_read(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    officer_only = {"readRoles": [facts.KEY_VAULT_SECRETS_OFFICER]}
    assert outcome(resources, officer_only) == ([(no_read_role(spc, vault_name(resources), "none"), spc["urn"])], None)
    assert outcome(resources, {"readRoles": [facts.KEY_VAULT_SECRETS_USER.upper()]}) == ([], None)


def test_a_vault_grant_allows_the_secrets_the_stack_declares_in_that_vault_and_no_other(dev: Program) -> None:
    resources = rows(dev)
    declared = only(resources, wp.SECRET)
    resources.append(copy_row(declared, "reader-Fourth", name="Fourth", secretName="Fourth", id=None))
    spc = add_class(resources, "reader", ("Secret", "Fourth", "Other"))
    vault = vault_name(resources)
    assert outcome(resources) == ([(secret_not_readable(spc, "other", vault, "fourth, secret"), spc["urn"])], None)


def test_a_vault_grant_allows_any_secret_when_the_stack_declares_none_in_that_vault(dev: Program) -> None:
    resources = rows(dev)
    resources.remove(only(resources, wp.SECRET))
    add_class(resources, "reader", ("Secret", "Anything"))
    assert outcome(resources) == ([], None)


def test_a_secret_grant_in_another_vault_allows_that_secret_only_there(dev: Program) -> None:
    resources = rows(dev)
    grant(resources, vault_id(resources).rsplit("/", 1)[0] + "/second-vault/secrets/Other")
    spc = add_class(resources, "reader", ("Secret", "Other"))
    vault = vault_name(resources)
    assert outcome(resources) == ([(secret_not_readable(spc, "other", vault, "secret"), spc["urn"])], None)


def test_a_class_mounting_another_workloads_secret_in_a_shared_vault_is_reported(byo: Program) -> None:
    resources = rows(byo)
    add_class(resources, "payments", ("payments-token",))
    assert outcome(resources) == ([], None)
    resources = rows(byo)
    spc = add_class(resources, "payments", ("payments-token", "ledger-db-password"))
    vault = parameters(spc)[facts.SPC_KEYVAULT_NAME]
    message = secret_not_readable(spc, "ledger-db-password", vault, "payments-token")
    assert outcome(resources) == ([(message, spc["urn"])], None)


def test_another_workloads_class_mounted_by_a_pod_is_reported(byo: Program) -> None:
    """Payments' pods mounting ledger's class would sign in as ledger's identity: the exchange fails."""
    resources = rows(byo)
    spc = add_class(resources, "ledger", ("ledger-db-password",), mounted=False)
    payments = only(resources, DEPLOYMENT, "payments-deployment")
    payments["props"]["metadata"]["namespace"] = "ledger"
    mount(payments, "ledger-files")
    account = payments["props"]["spec"]["template"]["spec"]["serviceAccountName"]
    client_id = parameters(spc)[facts.SPC_CLIENT_ID]
    message = (
        f"{label(spc)} sets clientID={client_id}, but 'payments-deployment' mounts it as service account "
        f"'ledger/{account}', whose federated identity is none: set clientID to that identity's clientId, or the "
        "provider's token exchange fails (AADSTS70021) and the pod never starts."
    )
    assert outcome(resources) == ([(message, spc["urn"])], None)


def test_each_class_is_checked_after_another_is_reported_or_undecided(dev: Program) -> None:
    """One class's finding never hides the next class's: an undecided vault, a vault the identity may not read and
    unreadable objects each end their class's check, not the policy's."""
    resources = rows(dev)
    undecided = add_class(resources, "reader", ("Secret",), name="undecided")
    wrong_vault = add_class(resources, "reader", ("Secret",), name="wrong-vault")
    unreadable = add_class(resources, "reader", ("Secret",), name="unreadable")
    missing = add_class(resources, "reader", ("Other",), name="missing")
    parameters(undecided)[facts.SPC_KEYVAULT_NAME] = UNKNOWN_STRING_VALUE
    parameters(wrong_vault)[facts.SPC_KEYVAULT_NAME] = "someone-elses"
    parameters(unreadable)[facts.SPC_OBJECTS] = "- Secret"
    vault = vault_name(resources)
    assert outcome(resources) == (
        [
            (no_read_role(wrong_vault, "someone-elses", vault), wrong_vault["urn"]),
            (unreadable_objects(unreadable), unreadable["urn"]),
            (secret_not_readable(missing, "other", vault, "secret"), missing["urn"]),
        ],
        None,
    )


def test_first_preview_takes_the_identity_and_vault_the_class_was_computed_from(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    identity, vault = only(resources, wp.IDENTITY), only(resources, wp.VAULT)
    parameters(spc).update({facts.SPC_CLIENT_ID: UNKNOWN_STRING_VALUE, facts.SPC_KEYVAULT_NAME: UNKNOWN_STRING_VALUE})
    depends(spc, "spec", identity, vault)
    assert outcome(resources) == ([], None)
    depends(spc, "spec")
    reason = f"{UNDECIDED}reader-files: its clientID is not known yet; reader-files: its keyvaultName is not known yet"
    assert outcome(resources) == ([], reason)


def test_an_unknown_vault_name_from_another_vault_is_undecided(dev: Program) -> None:
    """During a preview the class's vault came from a vault the identity holds no grant on: not decided yet."""
    resources, spc = dev_with_class(dev)
    other = copy_row(only(resources, wp.VAULT), "other-vault", name="other-vault-physical")
    resources.append(other)
    parameters(spc)[facts.SPC_KEYVAULT_NAME] = UNKNOWN_STRING_VALUE
    depends(spc, "spec", other)
    assert outcome(resources) == ([], f"{UNDECIDED}reader-files: its keyvaultName is not known yet")


def test_unknown_add_on_profiles_leave_the_cluster_undecided(dev: Program) -> None:
    resources, _ = dev_with_class(dev)
    only(resources, wp.CLUSTER)["props"]["addonProfiles"] = UNKNOWN_OBJECT_VALUE
    reason = f"{UNDECIDED}wi-aks: Object value at .addonProfiles can't be known during preview"
    assert outcome(resources) == ([], reason)


def test_an_unknown_class_name_leaves_the_class_undecided(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    spc["props"]["metadata"]["name"] = UNKNOWN_STRING_VALUE
    reason = f"{UNDECIDED}reader-files: string value at .metadata.name can't be known during preview"
    assert outcome(resources) == ([], reason)


def test_an_undecided_class_does_not_hide_a_broken_one(dev: Program) -> None:
    """Preview: a violation is reported even while another class waits for its values."""
    resources, spc = dev_with_class(dev)
    spc["props"]["metadata"]["name"] = UNKNOWN_STRING_VALUE
    cluster = only(resources, wp.CLUSTER)
    cluster["props"]["addonProfiles"][facts.SECRETS_PROVIDER_ADDON]["enabled"] = False
    assert outcome(resources) == ([(add_on_off("wi-aks"), cluster["urn"])], None)
