"""tests/checkov_stack.py: the ARM template it hands Checkov, and how it reads the waivers and Checkov's report."""

from __future__ import annotations

import checkov_stack

from twin.mocks import Registration


def _registration(type_: str, name: str, inputs: dict) -> Registration:
    return Registration(type=type_, name=name, urn=f"urn:{name}", parent="", id=name, inputs=inputs, outputs={})


def test_a_flattened_resource_is_put_back_under_properties_with_its_top_level_fields_beside_them():
    cluster = _registration(
        "azure-native:containerservice:ManagedCluster",
        "wi-aks",
        {
            "resourceGroupName": "rg",
            "resourceName": "aks",
            "location": "westeurope",
            "sku": {"name": "Base", "tier": "Standard"},
            "identity": {"type": "SystemAssigned"},
            "enableRBAC": True,
            "addonProfiles": {"azurepolicy": {"enabled": True}},
        },
    )

    assert checkov_stack.arm_resource(cluster) == {
        "type": "Microsoft.ContainerService/managedClusters",
        "apiVersion": "2024-01-01",
        "name": "wi-aks",
        "location": "westeurope",
        "sku": {"name": "Base", "tier": "Standard"},
        "identity": {"type": "SystemAssigned"},
        "properties": {"enableRBAC": True, "addonProfiles": {"azurepolicy": {"enabled": True}}},
    }


def test_a_resource_whose_inputs_keep_a_properties_object_is_taken_as_it_is():
    vault = _registration(
        "azure-native:keyvault:Vault",
        "reader-vault",
        {"vaultName": "kv", "location": "westeurope", "properties": {"enableRbacAuthorization": True}},
    )

    body = checkov_stack.arm_resource(vault)

    assert body["type"] == "Microsoft.KeyVault/vaults"
    assert body["properties"] == {"enableRbacAuthorization": True}
    assert "vaultName" not in body and "vaultName" not in body["properties"]


def test_the_prod_template_holds_every_checked_resource_the_stack_declares_and_nothing_else():
    resources = checkov_stack.template("prod")["resources"]

    types = {r["type"] for r in resources}
    assert types <= set(checkov_stack.ARM_TYPES.values())
    assert {
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.KeyVault/vaults",
        "Microsoft.KeyVault/vaults/secrets",
        "Microsoft.ContainerRegistry/registries",
    } <= types
    cluster = next(r for r in resources if r["type"] == "Microsoft.ContainerService/managedClusters")
    assert cluster["properties"]["oidcIssuerProfile"] == {"enabled": True}


def test_waivers_and_false_positives_are_the_check_ids_of_the_checkov_section_alone():
    text = (
        "## Other\n| CKV_AZURE_1 | elsewhere |\n"
        "## Checkov\n| check | what | why |\n| --- | --- | --- |\n| `CKV_AZURE_41` | secret expiry | x |\n"
        "| CKV_AZURE_227 | encryption at host | y |\n"
        "### False positives\n| CKV_AZURE_172 | rotation | Checkov wants a boolean |\n"
        "## After\n| CKV_AZURE_2 | later |\n"
    )

    assert checkov_stack.waivers(text) == ({"CKV_AZURE_41", "CKV_AZURE_227"}, {"CKV_AZURE_172"})
    assert checkov_stack.waivers("no section here") == (set(), set())


def test_failed_checks_are_grouped_by_id_from_one_report_or_several():
    report = {
        "results": {
            "failed_checks": [
                {"check_id": "CKV_AZURE_41", "resource": "secrets.a"},
                {"check_id": "CKV_AZURE_41", "resource": "secrets.b"},
                {"check_id": "CKV_AZURE_5", "resource": "managedClusters.wi"},
            ]
        }
    }

    assert checkov_stack.failed_checks(report) == {
        "CKV_AZURE_41": {"secrets.a", "secrets.b"},
        "CKV_AZURE_5": {"managedClusters.wi"},
    }
    assert checkov_stack.failed_checks([report, {"results": {}}]) == checkov_stack.failed_checks(report)
