"""The policy pack on secrets as files: a SecretProviderClass of the Azure Key Vault provider passes when it signs in
as the identity federated with the pods that mount it and names what that identity may read, and each broken class
is reported (facts: Secrets Store CSI driver). The classes are declared here by hand, to the contract the files
delivery writes, next to the project's own stacks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from aks_workload_identity import facts
from tests.policy_args import (
    DEPLOYMENT,
    Row,
    depends,
    of_type,
    only,
    rows,
    run,
    stack_args,
    violations,
    wp,
)
from twin.mocks import Program

validate = wp.secret_provider_classes_use_the_pods_identity


def objects(*names: str) -> str:
    """The `objects` parameter: YAML `array:` of YAML strings, one per secret."""
    items = [yaml.safe_dump({"objectName": n, "objectType": facts.SPC_OBJECT_TYPE_SECRET}) for n in names]
    return yaml.safe_dump({"array": items})


def add_class(
    resources: list[Row], workload: str, secrets: tuple[str, ...], *, mounted: bool = True, vault: Row | None = None
) -> Row:
    """A class for `workload` (its identity's client id, its vault's name, its secrets), mounted by its pods, on a
    cluster running the add-on."""
    identity = only(resources, wp.IDENTITY, f"{workload}-identity")
    vault = vault or of_type(resources, wp.VAULT)[0]
    deployment = only(resources, DEPLOYMENT, f"{workload}-deployment")
    namespace = deployment["props"]["metadata"]["namespace"]
    name = f"{workload}-files"
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
        attributes = {facts.SECRET_PROVIDER_CLASS_ATTRIBUTE: name}
        csi = {"driver": facts.SECRETS_STORE_CSI_DRIVER, "readOnly": True, "volumeAttributes": attributes}
        deployment["props"]["spec"]["template"]["spec"]["volumes"].append({"name": "secrets-store", "csi": csi})
    for cluster in of_type(resources, wp.CLUSTER):
        addons = cluster["props"].setdefault("addonProfiles", {})
        addons[facts.SECRETS_PROVIDER_ADDON] = {"enabled": True, "config": {facts.SECRET_ROTATION_CONFIG: "true"}}
    return spc


def parameters(spc: Row) -> dict[str, Any]:
    return spc["props"]["spec"]["parameters"]


def dev_with_class(dev: Program) -> tuple[list[Row], Row]:
    resources = rows(dev)
    return resources, add_class(resources, "reader", ("Secret",))


def test_a_stack_without_classes_is_not_applicable(dev: Program) -> None:
    found, reason = run(validate, stack_args(rows(dev)))
    assert found == [] and "declares no SecretProviderClass" in (reason or "")


def test_a_class_for_the_pods_identity_and_vault_passes(dev: Program) -> None:
    resources, _ = dev_with_class(dev)
    assert run(validate, stack_args(resources)) == ([], None)


def _set(key: str, value: Callable[[list[Row]], Any]) -> Callable[[list[Row], Row], None]:
    return lambda resources, spc: parameters(spc).update({key: value(resources)})


def _drop(key: str) -> Callable[[list[Row], Row], None]:
    return lambda _, spc: parameters(spc).pop(key)


def _from(type_: str, key: str, value: Callable[[Row], Any]) -> Callable[[list[Row], Row], None]:
    """The parameter set to another property of the right resource, computed from it."""

    def change(resources: list[Row], spc: Row) -> None:
        source = only(resources, type_)
        parameters(spc)[key] = value(source)
        depends(spc, "spec", source)

    return change


def _kubelet_client_id(resources: list[Row]) -> str:
    return only(resources, wp.CLUSTER)["props"]["identityProfile"][facts.KUBELET_IDENTITY_KEY]["clientId"]


def _drop_grant(resources: list[Row], _: Row) -> None:
    resources.remove(only(resources, wp.ROLE_ASSIGNMENT, "reader-reads-vault"))


def _addon_off(resources: list[Row], _: Row) -> None:
    only(resources, wp.CLUSTER)["props"]["addonProfiles"][facts.SECRETS_PROVIDER_ADDON]["enabled"] = False


#: name: (change to the dev stack with a good class, what the message must say)
BROKEN_CLASSES: dict[str, tuple[Callable[[list[Row], Row], None], str]] = {
    "pod identity on": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: "true"), r"usePodIdentity='true': set it"),
    "pod identity on, spelt 1": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: "1"), r"usePodIdentity='1': set it"),
    "pod identity on, spelt TRUE": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: "TRUE"), r"usePodIdentity='TRUE'"),
    "usePodIdentity Go cannot parse": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: "no"), r"usePodIdentity='no'"),
    "usePodIdentity a boolean, not the string": (_set(facts.SPC_USE_POD_IDENTITY, lambda _: False), r"=False"),
    "clientID of the kubelet": (
        _set(facts.SPC_CLIENT_ID, _kubelet_client_id),
        r"mounts it as service account 'wi-demo/wi-demo-sa', whose federated identity is 'reader-identity'",
    ),
    "clientID is the identity's principalId (right resource, wrong property)": (
        _from(wp.IDENTITY, facts.SPC_CLIENT_ID, lambda identity: identity["props"]["principalId"]),
        r"set clientID to that identity's clientId",
    ),
    "keyvaultName of another vault": (
        _set(facts.SPC_KEYVAULT_NAME, lambda _: "someone-elses"),
        r"keyvaultName=someone-elses, a vault its identity holds no read role on",
    ),
    "keyvaultName is the vault's URI (right resource, wrong property)": (
        _from(wp.VAULT, facts.SPC_KEYVAULT_NAME, lambda vault: vault["props"]["properties"]["vaultUri"]),
        r"keyvaultName=https://[^,]+, a vault its identity holds no read role on",
    ),
    "no grant on the vault": (_drop_grant, r"holds no read role on \(it may read: none\)"),
    "objects the provider cannot read": (_set(facts.SPC_OBJECTS, lambda _: "- Secret"), r"objects the provider"),
    "cluster without the add-on": (_addon_off, r"has the azureKeyvaultSecretsProvider add-on off"),
}


@pytest.mark.parametrize(("change", "message"), BROKEN_CLASSES.values(), ids=BROKEN_CLASSES.keys())
def test_each_broken_class_is_reported(dev: Program, change: Callable[[list[Row], Row], None], message: str) -> None:
    resources, spc = dev_with_class(dev)
    change(resources, spc)
    found = violations(validate, stack_args(resources))
    assert any(re.search(message, f) for f in found), found


#: What the provider reads as "pod identity off" (GetUsePodIdentity: trimmed, empty is false, else Go's ParseBool).
POD_IDENTITY_OFF = ("false", "False", "FALSE", "f", "F", "0", "", " false ")


@pytest.mark.parametrize("value", POD_IDENTITY_OFF)
def test_use_pod_identity_spelt_false_the_go_way_passes(dev: Program, value: str) -> None:
    resources, spc = dev_with_class(dev)
    parameters(spc)[facts.SPC_USE_POD_IDENTITY] = value
    assert run(validate, stack_args(resources)) == ([], None)


def test_use_pod_identity_left_out_passes(dev: Program) -> None:
    """The provider takes a missing usePodIdentity as false, as the twin does."""
    resources, spc = dev_with_class(dev)
    _drop(facts.SPC_USE_POD_IDENTITY)(resources, spc)
    assert run(validate, stack_args(resources)) == ([], None)


def test_the_add_on_is_found_under_a_lowercase_key(dev: Program) -> None:
    """AKS may report add-on profile keys lowercased after a real `pulumi up`."""
    resources, _ = dev_with_class(dev)
    addons = only(resources, wp.CLUSTER)["props"]["addonProfiles"]
    addons[facts.SECRETS_PROVIDER_ADDON.lower()] = addons.pop(facts.SECRETS_PROVIDER_ADDON)
    assert run(validate, stack_args(resources)) == ([], None)
    addons[facts.SECRETS_PROVIDER_ADDON.lower()]["enabled"] = False
    assert any("add-on off" in f for f in violations(validate, stack_args(resources)))


def test_a_client_id_in_uppercase_names_the_same_identity(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    client_id = parameters(spc)[facts.SPC_CLIENT_ID]
    assert client_id.upper() != client_id
    parameters(spc)[facts.SPC_CLIENT_ID] = client_id.upper()
    assert run(validate, stack_args(resources)) == ([], None)


def test_a_class_no_pod_mounts_must_still_name_a_declared_identity(dev: Program) -> None:
    resources = rows(dev)
    spc = add_class(resources, "reader", ("Secret",), mounted=False)
    assert run(validate, stack_args(resources)) == ([], None)
    parameters(spc)[facts.SPC_CLIENT_ID] = "00000000-0000-0000-0000-000000000000"
    found = violations(validate, stack_args(resources))
    assert any("the client id of no identity this stack declares" in f for f in found), found


def test_a_class_mounting_another_workloads_secret_in_a_shared_vault_is_reported(byo: Program) -> None:
    resources = rows(byo)
    add_class(resources, "payments", ("payments-token",))
    assert run(validate, stack_args(resources)) == ([], None)
    resources = rows(byo)
    add_class(resources, "payments", ("payments-token", "ledger-db-password"))
    found = violations(validate, stack_args(resources))
    assert [f for f in found if "mounts secret 'ledger-db-password'" in f] and len(found) == 1, found


def test_another_workloads_class_mounted_by_a_pod_is_reported(byo: Program) -> None:
    """Payments' pods mounting ledger's class would sign in as ledger's identity: the exchange fails."""
    resources = rows(byo)
    add_class(resources, "ledger", ("ledger-db-password",), mounted=False)
    payments = only(resources, DEPLOYMENT, "payments-deployment")
    payments["props"]["metadata"]["namespace"] = "ledger"
    attributes = {facts.SECRET_PROVIDER_CLASS_ATTRIBUTE: "ledger-files"}
    csi = {"driver": facts.SECRETS_STORE_CSI_DRIVER, "readOnly": True, "volumeAttributes": attributes}
    payments["props"]["spec"]["template"]["spec"]["volumes"].append({"name": "secrets-store", "csi": csi})
    found = violations(validate, stack_args(resources))
    assert any("whose federated identity is none" in f for f in found), found


def test_first_preview_takes_the_identity_and_vault_the_class_was_computed_from(dev: Program) -> None:
    resources, spc = dev_with_class(dev)
    identity, vault = only(resources, wp.IDENTITY), only(resources, wp.VAULT)
    parameters(spc).update({facts.SPC_CLIENT_ID: UNKNOWN_STRING_VALUE, facts.SPC_KEYVAULT_NAME: UNKNOWN_STRING_VALUE})
    depends(spc, "spec", identity, vault)
    assert run(validate, stack_args(resources)) == ([], None)
    depends(spc, "spec")
    found, reason = run(validate, stack_args(resources))
    assert found == [] and "its clientID is not known yet" in (reason or "")
