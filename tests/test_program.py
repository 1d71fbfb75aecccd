"""The whole program: what the dev stack declares and how the pieces are wired together."""

from __future__ import annotations

import pytest
from conftest import (
    BUILD,
    CLUSTER,
    CREDENTIAL,
    DEPLOYMENT,
    IDENTITY,
    NAMESPACE,
    REGISTRY,
    ROLE_ASSIGNMENT,
    SECRET,
    SERVICE_ACCOUNT,
    VAULT,
    container_env,
    depends_on,
    pod_template,
)

from components import facts
from twin.mocks import SUBSCRIPTION_ID, run_program

#: The Kubernetes version whose API schema the declared objects are checked against.
KUBERNETES_SCHEMA_VERSION = "1.33"

DEV_STACK_TYPES = {
    "azure-native:resources:ResourceGroup": 1,
    "wi:index:AppImage": 1,
    "random:index/randomString:RandomString": 2,
    REGISTRY: 1,
    BUILD: 1,
    "wi:index:AksOidcCluster": 1,
    CLUSTER: 1,
    ROLE_ASSIGNMENT: 2,
    "pulumi:providers:kubernetes": 1,
    "wi:index:SecretVault": 1,
    VAULT: 1,
    SECRET: 1,
    "random:index/randomPassword:RandomPassword": 1,
    NAMESPACE: 1,
    "wi:index:FederatedIdentity": 1,
    IDENTITY: 1,
    SERVICE_ACCOUNT: 1,
    CREDENTIAL: 1,
    "wi:index:WorkloadPod": 1,
    DEPLOYMENT: 1,
}


def test_dev_stack_declares_each_resource_once(program):
    declared: dict[str, int] = {}
    for resource in program.resources:
        declared[resource.type] = declared.get(resource.type, 0) + 1
    assert declared == DEV_STACK_TYPES


def test_federated_issuer_is_the_cluster_issuer_byte_for_byte(program):
    issuer = program.one(CLUSTER).outputs["oidcIssuerProfile"]["issuerURL"]
    assert issuer.endswith("/")
    assert program.one(CREDENTIAL).inputs["issuer"] == issuer
    assert program.exports["oidc_issuer_url"] == issuer


def test_federated_subject_is_the_declared_service_account(program):
    account = program.one(SERVICE_ACCOUNT).outputs["metadata"]
    credential = program.one(CREDENTIAL).inputs
    assert credential["subject"] == f"system:serviceaccount:{account['namespace']}:{account['name']}"
    assert credential["subject"] == "system:serviceaccount:wi-demo:wi-demo-sa"
    assert credential["audiences"] == [facts.TOKEN_AUDIENCE]


def test_federated_credential_is_on_the_workload_identity(program):
    identity = program.one(IDENTITY)
    credential = program.one(CREDENTIAL).inputs
    assert credential["resourceName"] == identity.outputs["name"]
    assert credential["resourceGroupName"] == identity.inputs["resourceGroupName"]


def test_service_account_names_the_identity_client_and_tenant(program):
    identity = program.one(IDENTITY).outputs
    annotations = program.one(SERVICE_ACCOUNT).inputs["metadata"]["annotations"]
    assert annotations[facts.CLIENT_ID_ANNOTATION] == identity["clientId"]
    assert annotations[facts.TENANT_ID_ANNOTATION] == identity["tenantId"]
    assert program.exports["identity_client_id"] == identity["clientId"]


def test_pod_template_is_labelled_and_runs_as_the_federated_account(program):
    template = pod_template(program)
    assert template["metadata"]["labels"][facts.WORKLOAD_IDENTITY_USE_LABEL] == "true"
    account = program.one(SERVICE_ACCOUNT).outputs["metadata"]
    assert template["spec"]["serviceAccountName"] == account["name"]
    assert program.one(DEPLOYMENT).inputs["metadata"]["namespace"] == account["namespace"]


def test_workload_reads_the_vault_the_program_declares(program):
    env = container_env(program)
    assert env["KEY_VAULT_URL"] == program.one(VAULT).outputs["properties"]["vaultUri"]
    assert env["SECRET_NAME"] == program.one(SECRET).inputs["secretName"] == "Secret"
    assert env["REVEAL_SECRET"] == "false"
    assert "VERSION_ID" not in env


def test_identity_gets_secrets_user_on_the_vault_only(program):
    principal = program.one(IDENTITY).outputs["principalId"]
    grants = [r.inputs for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == principal]
    assert grants == [
        {
            "principalId": principal,
            "principalType": "ServicePrincipal",
            "roleDefinitionId": facts.role_definition_id(SUBSCRIPTION_ID, facts.KEY_VAULT_SECRETS_USER),
            "scope": program.one(VAULT).outputs["id"],
        }
    ]


def test_role_scope_secret_assigns_on_the_secret_itself():
    program = run_program({"roleScope": "secret"})
    principal = program.one(IDENTITY).outputs["principalId"]
    (grant,) = [r.inputs for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == principal]
    assert grant["scope"] == program.one(SECRET).outputs["id"]
    assert grant["scope"].startswith(program.one(VAULT).outputs["id"] + "/secrets/")


def test_acr_pull_goes_to_the_kubelet_identity_on_the_registry(program):
    kubelet = program.one(CLUSTER).outputs["identityProfile"]["kubeletidentity"]["objectId"]
    (grant,) = [r.inputs for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == kubelet]
    assert grant["roleDefinitionId"].endswith("/" + facts.ACR_PULL)
    assert grant["scope"] == program.one(REGISTRY).outputs["id"]
    assert grant["principalType"] == "ServicePrincipal"
    assert kubelet != program.one(CLUSTER).outputs["identity"]["principalId"]


def test_workload_image_is_built_in_the_registry_and_pinned(program):
    image = pod_template(program)["spec"]["containers"][0]["image"]
    registry, _, tag = image.rpartition(":")
    assert registry == program.one(REGISTRY).outputs["loginServer"] + "/secret-reader"
    assert tag != "latest" and len(tag) == 16
    assert program.one(BUILD).inputs["environment"]["IMAGE"] == f"secret-reader:{tag}"
    assert program.exports["image"] == image


def test_prebuilt_image_builds_nothing_and_is_run_as_given():
    image = "contoso.azurecr.io/secret-reader:1.2.3"
    program = run_program({"prebuiltImage": image})
    assert program.of_type(REGISTRY) == [] and program.of_type(BUILD) == []
    assert pod_template(program)["spec"]["containers"][0]["image"] == image
    assert all(not r.inputs["roleDefinitionId"].endswith(facts.ACR_PULL) for r in program.of_type(ROLE_ASSIGNMENT))


def test_vault_uses_rbac_and_registry_admin_is_off(program):
    vault = program.one(VAULT).inputs["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["accessPolicies"] == []
    assert program.one(REGISTRY).inputs["adminUserEnabled"] is False


def test_dev_vault_can_be_purged_after_destroy(program):
    vault = program.one(VAULT).inputs["properties"]
    assert "enablePurgeProtection" not in vault
    assert vault["softDeleteRetentionInDays"] == 7


def test_secret_value_is_registered_secret_and_appears_in_no_output():
    value = "correct-horse-battery-staple"
    program = run_program({"secretValue": value})
    secret = program.one(SECRET)
    assert secret.inputs["properties"]["value"] == value
    assert "properties" in secret.secret_inputs
    assert value not in repr(program.exports)
    others = [r for r in program.resources if r is not secret]
    assert all(value not in repr(r.inputs) and value not in repr(r.outputs) for r in others)


def test_generated_secret_value_is_registered_secret(program):
    secret = program.one(SECRET)
    assert secret.inputs["properties"]["value"]
    assert "properties" in secret.secret_inputs
    assert secret.inputs["properties"]["value"] not in repr(program.exports)


def test_exports_give_what_a_user_needs_and_keep_the_kubeconfig_secret(program):
    assert set(program.exports) == {
        "resource_group",
        "cluster_name",
        "oidc_issuer_url",
        "identity_client_id",
        "vault_uri",
        "secret_name",
        "image",
        "namespace",
        "service_account",
        "logs_command",
        "kubeconfig",
    }
    assert program.secret_exports == ["kubeconfig"]
    deployment = program.one(DEPLOYMENT).outputs["metadata"]["name"]
    assert program.exports["logs_command"].endswith(f"kubectl logs -f -n wi-demo deploy/{deployment}")


def test_every_child_has_its_component_as_parent(program):
    components = {r.urn: r for r in program.resources if r.type.startswith("wi:index:")}
    stack_children = {r.type for r in program.resources if r.parent not in components}
    assert stack_children == {"azure-native:resources:ResourceGroup", NAMESPACE, *(r.type for r in components.values())}
    for resource in program.resources:
        if resource.parent in components:
            component = components[resource.parent]
            assert resource.name.startswith(component.name + "-"), (resource.name, component.name)


@pytest.mark.parametrize("type_", [NAMESPACE, SERVICE_ACCOUNT, DEPLOYMENT])
def test_kubernetes_objects_are_valid_manifests_for_the_api_server(program, type_):
    import kubernetes_validate

    kubernetes_validate.validate(program.one(type_).outputs, KUBERNETES_SCHEMA_VERSION, strict=True)


def test_kubernetes_objects_use_the_cluster_provider(program):
    provider = program.one("pulumi:providers:kubernetes")
    for type_ in (NAMESPACE, SERVICE_ACCOUNT, DEPLOYMENT):
        assert program.one(type_).provider.startswith(provider.urn + "::"), type_


def test_workload_waits_for_its_trust_chain(program):
    deployment = program.one(DEPLOYMENT)
    for resource in (*program.of_type(CREDENTIAL), *program.of_type(ROLE_ASSIGNMENT), program.one(BUILD)):
        assert resource.urn in deployment.dependencies, resource.name


def test_independent_work_does_not_wait_for_the_cluster(program):
    cluster = program.one(CLUSTER)
    for type_ in (REGISTRY, BUILD, VAULT, SECRET, IDENTITY):
        assert not depends_on(program, program.one(type_), cluster), type_
    for type_ in (CREDENTIAL, SERVICE_ACCOUNT, DEPLOYMENT):
        assert depends_on(program, program.one(type_), cluster), type_


BAD_SETTINGS = [
    ("namespace", "Wi_Demo", "aks-workload-identity:namespace = 'Wi_Demo': must be a DNS-1123 label"),
    ("serviceAccountName", "-sa", "aks-workload-identity:serviceAccountName = '-sa': must be a DNS-1123 subdomain"),
    ("secretName", "my_secret", "aks-workload-identity:secretName = 'my_secret': must be a Key Vault secret name"),
    ("nodeCount", "0", "aks-workload-identity:nodeCount = '0': must be an integer >= 1"),
    ("nodeCount", "two", "aks-workload-identity:nodeCount = 'two': must be an integer >= 1"),
    ("replicas", "0", "aks-workload-identity:replicas = '0': must be an integer >= 1"),
    ("nodeVmSize", " ", "aks-workload-identity:nodeVmSize = ' ': must be a non-empty string"),
    ("azure-native:location", "", "azure-native:location = '': must be a non-empty string"),
    ("prebuiltImage", "contoso.azurecr.io/app:latest", "prebuiltImage = 'contoso.azurecr.io/app:latest': must be an"),
    ("prebuiltImage", "localhost:5000/app", "prebuiltImage = 'localhost:5000/app': must be an image reference"),
    ("roleScope", "subscription", "roleScope = 'subscription': must be one of vault, secret"),
    ("revealSecret", "yes", "revealSecret = 'yes': must be true or false"),
    ("vaultSoftDeleteRetentionDays", "3", "vaultSoftDeleteRetentionDays = '3': must be an integer from 7 to 90"),
    ("kubernetesVersion", "latest", "kubernetesVersion = 'latest': must be empty or a version"),
    ("imageRepository", "Secret Reader", "imageRepository = 'Secret Reader': must be a lowercase repository path"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_SETTINGS, ids=[f"{k}={v!r}" for k, v, _ in BAD_SETTINGS])
def test_bad_setting_names_key_value_and_rule_and_declares_nothing(key, value, message):
    import settings

    with pytest.raises(settings.SettingsError, match="invalid stack settings") as failure:
        run_program({key: value})
    assert message in str(failure.value)
    assert str(failure.value).count("\n  - ") == 1


def test_bad_settings_are_all_reported_at_once():
    import settings

    with pytest.raises(settings.SettingsError) as failure:
        run_program({"namespace": "A", "nodeCount": "-1", "secretName": ""})
    assert str(failure.value).count("\n  - ") == 3


def test_a_bad_setting_declares_nothing():
    from twin.mocks import RecordingMonitor

    created: list[str] = []
    original = RecordingMonitor.RegisterResource

    def spy(self, request):
        created.append(request.type)
        return original(self, request)

    RecordingMonitor.RegisterResource = spy
    try:
        with pytest.raises(Exception, match="nodeCount"):
            run_program({"nodeCount": "0"})
    finally:
        RecordingMonitor.RegisterResource = original
    assert [t for t in created if t != "pulumi:pulumi:Stack"] == []


def test_pinned_images_by_tag_or_digest_are_accepted():
    digest = "contoso.azurecr.io/team/app@sha256:" + "a" * 64
    for image in ("contoso.azurecr.io/app:1.0", "localhost:5000/app:v2", digest):
        assert pod_template(run_program({"prebuiltImage": image}))["spec"]["containers"][0]["image"] == image


def test_readme_documents_every_setting_and_the_test_command_ci_runs():
    from pathlib import Path

    import settings

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    for key in [*settings.project_config_schema(), "secretValue", "azure-native:location"]:
        assert f"| `{key}` |" in readme, key
    assert "```bash\nmake test\n```" in readme
    assert "make test" in (root / ".ci" / "run").read_text()
