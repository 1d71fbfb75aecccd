"""The bootstrap's CI identities, and the workflows that sign in as them.

The identities are declared under the mocks; the workflows are read as the YAML GitHub reads, so that each job's
OIDC subject can be checked against the federated credentials of the identity whose client id it uses.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
import yaml
from conftest import CREDENTIAL, IDENTITY, K8S_PROVIDER, ROLE_ASSIGNMENT, named
from pulumi.runtime import rpc

from bootstrap import ci
from twin import mocks
from twin.mocks import PROJECT_DIR, Program, run, run_program

REPOSITORY = "contoso/aks-wi"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
SCOPE = f"/subscriptions/{SUBSCRIPTION}"
CONFIG = {"githubRepository": REPOSITORY, "subscriptionId": SUBSCRIPTION, "azure-native:location": "westeurope"}
WORKFLOWS = PROJECT_DIR / ".github" / "workflows"

#: Built-in role GUIDs, typed here from Microsoft Learn's list so that a typo in the bootstrap fails.
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
AKS_RBAC_READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
#: Two clusters previews may read, as the bootstrap's `previewClusterIds` lists them.
PROD_CLUSTER = f"{SCOPE}/resourceGroups/wi-prod/providers/Microsoft.ContainerService/managedClusters/wi-prod-aks"
BYO_CLUSTER = f"{SCOPE}/resourceGroups/platform-rg/providers/Microsoft.ContainerService/managedClusters/platform-aks"
#: A cluster id as the Azure CLI may spell it: mixed-case names, a lower-case provider namespace.
TEAM_CLUSTER = f"{SCOPE}/resourcegroups/Team-RG/providers/microsoft.containerservice/managedClusters/Team-AKS"
#: Roles that can change resources or access: never the preview identity's.
WRITE_ROLES = {
    CONTRIBUTOR,
    RBAC_ADMINISTRATOR,
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
}


def bootstrap(**overrides: str) -> Program:
    return run(ci.main, {**CONFIG, **overrides})


@pytest.fixture(scope="module")
def declared() -> Program:
    return bootstrap()


def identity_parts(program: Program, name: str):
    identity = named(program, IDENTITY, f"{name}-identity")
    credentials = [r for r in program.of_type(CREDENTIAL) if r.parent == identity.parent]
    grants = [r for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == identity.outputs["principalId"]]
    return identity, credentials, grants


def subjects(program: Program, name: str) -> set[str]:
    return {c.inputs["subject"] for c in identity_parts(program, name)[1]}


def role_id(guid: str) -> str:
    return f"{SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def tree(program: Program) -> set[tuple[str, str, str]]:
    """(parent's logical name, type, logical name) of every resource; the stack's own children have parent ""."""
    names = {r.urn: r.name for r in program.resources}
    return {(names.get(r.parent, ""), r.type, r.name) for r in program.resources}


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """What the mocks' monitor is sent that a Program does not keep: the type of every registration, in order,
    and the outputs each component registers (by URN), which `pulumi stack export` shows."""
    sent = SimpleNamespace(types=[], outputs={})
    register, register_outputs = mocks.RecordingMonitor.RegisterResource, mocks.RecordingMonitor.RegisterResourceOutputs

    def record(self, request):
        sent.types.append(request.type)
        return register(self, request)

    def record_outputs(self, request):
        sent.outputs[request.urn] = dict(rpc.deserialize_properties(request.outputs))
        return register_outputs(self, request)

    monkeypatch.setattr(mocks.RecordingMonitor, "RegisterResource", record)
    monkeypatch.setattr(mocks.RecordingMonitor, "RegisterResourceOutputs", record_outputs)
    return sent


# --- The identities --------------------------------------------------------------------------------------------


def test_deploy_identity_trusts_exactly_the_main_branch_and_the_production_environment(declared):
    assert subjects(declared, "deploy") == {
        "repo:contoso/aks-wi:ref:refs/heads/main",
        "repo:contoso/aks-wi:environment:production",
    }


def test_preview_identity_trusts_exactly_pull_requests(declared):
    assert subjects(declared, "preview") == {"repo:contoso/aks-wi:pull_request"}


def test_bootstrap_declares_each_identity_with_its_credentials_and_grants_under_stable_names(declared):
    """The logical names and parents make the URNs: a changed one replaces the resource, and a replaced identity
    gets a new client id, which breaks every workflow until the repository variables are set again."""
    identity = "azure-native:managedidentity:UserAssignedIdentity"
    assert tree(declared) == {
        ("", "pulumi:providers:azure-native", "subscription"),
        ("", "azure-native:resources:ResourceGroup", "ci-identities"),
        ("", "wi:index:CiIdentity", "deploy"),
        ("deploy", identity, "deploy-identity"),
        ("deploy", CREDENTIAL, "deploy-ref-refs-heads-main"),
        ("deploy", CREDENTIAL, "deploy-environment-production"),
        ("deploy", ROLE_ASSIGNMENT, "deploy-creates-resources"),
        ("deploy", ROLE_ASSIGNMENT, "deploy-assigns-roles"),
        ("", "wi:index:CiIdentity", "preview"),
        ("preview", identity, "preview-identity"),
        ("preview", CREDENTIAL, "preview-pull-request"),
        ("preview", ROLE_ASSIGNMENT, "preview-reads-resources"),
    }
    assert len(declared.resources) == 12


def test_each_identity_component_records_its_client_principal_and_tenant_ids(monitor):
    program = bootstrap()
    for name in ("deploy", "preview"):
        component = named(program, "wi:index:CiIdentity", name)
        identity, _, _ = identity_parts(program, name)
        assert monitor.outputs[component.urn] == {
            "client_id": identity.outputs["clientId"],
            "principal_id": identity.outputs["principalId"],
            "tenant_id": identity.outputs["tenantId"],
        }


def test_every_credential_trusts_githubs_issuer_and_the_token_exchange_audience(declared):
    credentials = declared.of_type(CREDENTIAL)
    assert len(credentials) == 3
    for credential in credentials:
        # No trailing slash: Entra compares the issuer with the token's `iss` byte for byte.
        assert credential.inputs["issuer"] == "https://token.actions.githubusercontent.com"
        assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
    for name in ("deploy", "preview"):
        identity, owned, _ = identity_parts(declared, name)
        assert {c.inputs["resourceName"] for c in owned} == {identity.outputs["name"]}
        assert {c.inputs["resourceGroupName"] for c in owned} == {identity.inputs["resourceGroupName"]}


def test_credentials_on_one_identity_are_written_one_after_another(declared):
    _, (first, second), _ = identity_parts(declared, "deploy")
    assert first.urn in second.dependencies
    assert second.urn not in first.dependencies


def ci_identity(subjects: list[str]) -> Program:
    """One CiIdentity, as a caller other than the bootstrap might declare it."""

    def build() -> None:
        ci.CiIdentity("ci", ci.CiIdentityArgs(resource_group_name="ci-rg", location="westeurope", subjects=subjects))

    return run(build, CONFIG)


def test_a_credential_is_named_by_its_subjects_context_in_letters_digits_and_dashes_up_to_60():
    long_branch = "feature/" + "a" * 70
    program = ci_identity(
        [
            "repo:contoso/aks-wi:environment:Prod EU",
            f"repo:contoso@1/aks-wi@2:ref:refs/heads/{long_branch}",
            "repo:contoso/aks-wi:ref:refs/tags/v1.2:rc",
        ]
    )
    assert [(c.name, c.inputs["subject"]) for c in program.of_type(CREDENTIAL)] == [
        ("ci-environment-Prod-EU", "repo:contoso/aks-wi:environment:Prod EU"),
        ("ci-" + f"ref-refs-heads-feature-{'a' * 70}"[:60], f"repo:contoso@1/aks-wi@2:ref:refs/heads/{long_branch}"),
        ("ci-ref-refs-tags-v1-2-rc", "repo:contoso/aks-wi:ref:refs/tags/v1.2:rc"),
    ]


def test_an_identity_takes_up_to_20_subjects_each_written_after_the_one_before():
    subjects = [f"repo:contoso/aks-wi:environment:e{i}" for i in range(20)]
    credentials = ci_identity(subjects).of_type(CREDENTIAL)
    assert [c.inputs["subject"] for c in credentials] == subjects
    for before, after in zip(credentials, credentials[1:], strict=False):
        assert before.urn in after.dependencies


@pytest.mark.parametrize("count", [0, 21])
def test_an_identity_without_subjects_or_with_more_than_20_is_refused(count):
    """Entra takes at most 20 federated credentials per identity; none would leave the identity unusable."""
    subjects = [f"repo:contoso/aks-wi:environment:e{i}" for i in range(count)]
    with pytest.raises(ValueError) as refused:
        ci_identity(subjects)
    assert str(refused.value) == f"ci: {count} subjects; an identity takes 1 to 20 federated credentials"


def test_deploy_identity_may_create_resources_and_assign_roles_on_the_subscription(declared):
    _, _, grants = identity_parts(declared, "deploy")
    assert {(g.inputs["roleDefinitionId"], g.inputs["scope"]) for g in grants} == {
        (role_id(CONTRIBUTOR), SCOPE),
        (role_id(RBAC_ADMINISTRATOR), SCOPE),
    }
    assert {g.inputs["principalType"] for g in grants} == {"ServicePrincipal"}


#: Microsoft's "Constrain roles" condition (Microsoft Learn, "Examples to delegate Azure role assignment management
#: with conditions"), typed here with the roles the stacks assign and the previews' Kubernetes reader.
ALLOWED = f"{KEY_VAULT_SECRETS_USER}, {ACR_PULL}, {NETWORK_CONTRIBUTOR}, {AKS_RBAC_CLUSTER_ADMIN}, {AKS_RBAC_READER}"
CONSTRAIN_ROLES = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ALLOWED}}})) "
    "AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
    f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ALLOWED}}}))"
)


def test_deploy_identity_may_assign_only_the_roles_the_stacks_assign(declared):
    """Without the condition, Role Based Access Control Administrator could make the deploy identity Owner."""
    _, _, grants = identity_parts(declared, "deploy")
    conditions = {
        g.inputs["roleDefinitionId"]: (g.inputs.get("condition"), g.inputs.get("conditionVersion")) for g in grants
    }
    assert conditions == {
        role_id(CONTRIBUTOR): (None, None),
        role_id(RBAC_ADMINISTRATOR): (CONSTRAIN_ROLES, "2.0"),
    }


def test_every_role_the_stacks_assign_is_one_the_deploy_identity_may_assign(dev, prod, byo):
    assigned = {
        grant.inputs["roleDefinitionId"].rsplit("/", 1)[1]
        for program in (dev, prod, byo)
        for grant in program.of_type(ROLE_ASSIGNMENT)
    }
    assert assigned <= set(ci.ASSIGNABLE_ROLES)
    assert {KEY_VAULT_SECRETS_USER, ACR_PULL, AKS_RBAC_CLUSTER_ADMIN} <= assigned


def test_preview_identity_may_only_read_and_has_no_kubernetes_access_unless_a_cluster_is_listed(declared):
    """Cluster User on the subscription would include dev's cluster, whose user credential (local accounts on) is
    its admin account."""
    _, _, grants = identity_parts(declared, "preview")
    assert {(g.inputs["roleDefinitionId"], g.inputs["scope"]) for g in grants} == {(role_id(READER), SCOPE)}


def test_preview_identity_reads_kubernetes_objects_on_the_listed_clusters_only():
    program = bootstrap(previewClusterIds=json.dumps([PROD_CLUSTER, BYO_CLUSTER, TEAM_CLUSTER]))
    _, _, grants = identity_parts(program, "preview")
    assert {(g.inputs["roleDefinitionId"], g.inputs["scope"]) for g in grants} == {
        (role_id(READER), SCOPE),
        (role_id(AKS_CLUSTER_USER), PROD_CLUSTER),
        (role_id(AKS_RBAC_READER), PROD_CLUSTER),
        (role_id(AKS_CLUSTER_USER), BYO_CLUSTER),
        (role_id(AKS_RBAC_READER), BYO_CLUSTER),
        (role_id(AKS_CLUSTER_USER), TEAM_CLUSTER),
        (role_id(AKS_RBAC_READER), TEAM_CLUSTER),
    }
    assert not {g.inputs["roleDefinitionId"].rsplit("/", 1)[1] for g in grants} & WRITE_ROLES
    # Each grant is named by its cluster (group and name, lower case), so removing one cluster never renames
    # another's grants.
    assert {(g.name, g.inputs["scope"]) for g in grants} == {
        ("preview-reads-resources", SCOPE),
        ("preview-lists-credentials-wi-prod-wi-prod-aks", PROD_CLUSTER),
        ("preview-reads-kubernetes-wi-prod-wi-prod-aks", PROD_CLUSTER),
        ("preview-lists-credentials-platform-rg-platform-aks", BYO_CLUSTER),
        ("preview-reads-kubernetes-platform-rg-platform-aks", BYO_CLUSTER),
        ("preview-lists-credentials-team-rg-team-aks", TEAM_CLUSTER),
        ("preview-reads-kubernetes-team-rg-team-aks", TEAM_CLUSTER),
    }
    assert {named(program, "wi:index:CiIdentity", "preview").urn} == {g.parent for g in grants}


def test_identities_live_in_the_configured_subscription_and_location(declared):
    (provider,) = declared.of_type("pulumi:providers:azure-native")
    assert (provider.inputs["subscriptionId"], provider.inputs["location"]) == (SUBSCRIPTION, "westeurope")
    assert {r.inputs["location"] for r in declared.of_type(IDENTITY)} == {"westeurope"}
    assert declared.one("azure-native:resources:ResourceGroup").inputs["location"] == "westeurope"
    provider_ref = f"{provider.urn}::{provider.id}"
    for resource in declared.resources:
        if resource.type.startswith("azure-native:"):
            assert resource.provider == provider_ref, resource.name
    group = declared.one("azure-native:resources:ResourceGroup")
    assert {i.inputs["resourceGroupName"] for i in declared.of_type(IDENTITY)} == {group.outputs["name"]}


def test_repository_variables_name_each_identity_by_its_client_id(declared):
    deploy, _, _ = identity_parts(declared, "deploy")
    preview, _, _ = identity_parts(declared, "preview")
    assert declared.exports["repository_variables"] == {
        "AZURE_TENANT_ID": deploy.outputs["tenantId"],
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "AZURE_DEPLOY_CLIENT_ID": deploy.outputs["clientId"],
        "AZURE_DEPLOY_OBJECT_ID": deploy.outputs["principalId"],
        "AZURE_PREVIEW_CLIENT_ID": preview.outputs["clientId"],
    }
    assert declared.exports["deploy_principal_id"] == deploy.outputs["principalId"]


def test_immutable_subjects_carry_the_owner_and_repository_ids():
    program = bootstrap(githubOwnerId="123456", githubRepositoryId="456789")
    assert subjects(program, "deploy") == {
        "repo:contoso@123456/aks-wi@456789:ref:refs/heads/main",
        "repo:contoso@123456/aks-wi@456789:environment:production",
    }
    assert subjects(program, "preview") == {"repo:contoso@123456/aks-wi@456789:pull_request"}


@pytest.mark.parametrize(("owner", "repository"), [(1, 7), (7, 1)])
def test_an_id_of_1_is_a_github_id_like_any_other(owner, repository):
    program = bootstrap(githubOwnerId=str(owner), githubRepositoryId=str(repository))
    assert subjects(program, "preview") == {f"repo:contoso@{owner}/aks-wi@{repository}:pull_request"}


def test_ids_set_to_0_mean_name_only_subjects():
    program = bootstrap(githubOwnerId="0", githubRepositoryId="0")
    assert subjects(program, "preview") == {"repo:contoso/aks-wi:pull_request"}


MUST_BE_CLUSTER_ID = (
    "must be an AKS cluster's ARM id, "
    "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>"
)
SET_BOTH = "set both (positive numeric ids, for immutable subject claims) or neither"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"githubRepository": "https://github.com/contoso/aks-wi"},
            "githubRepository = 'https://github.com/contoso/aks-wi': must be owner/name, as in the repository's URL",
        ),
        ({"githubRepository": "aks-wi"}, "githubRepository = 'aks-wi': must be owner/name, as in the repository's URL"),
        (
            {"subscriptionId": "my-subscription"},
            "subscriptionId = 'my-subscription': must be a subscription id (a GUID)",
        ),
        ({"githubOwnerId": "123456"}, f"githubOwnerId = 123456, githubRepositoryId = 0: {SET_BOTH}"),
        ({"githubRepositoryId": "456789"}, f"githubOwnerId = 0, githubRepositoryId = 456789: {SET_BOTH}"),
        ({"githubOwnerId": "-5"}, f"githubOwnerId = -5, githubRepositoryId = 0: {SET_BOTH}"),
        ({"githubRepositoryId": "-5"}, f"githubOwnerId = 0, githubRepositoryId = -5: {SET_BOTH}"),
        (
            {"githubOwnerId": "-5", "githubRepositoryId": "-7"},
            f"githubOwnerId = -5, githubRepositoryId = -7: {SET_BOTH}",
        ),
        (
            {"previewClusterIds": json.dumps([PROD_CLUSTER, f"{SCOPE}/resourceGroups/wi-prod"])},
            f"previewClusterIds[1] = '{SCOPE}/resourceGroups/wi-prod': {MUST_BE_CLUSTER_ID}",
        ),
        ({"previewClusterIds": json.dumps([5])}, f"previewClusterIds[0] = 5: {MUST_BE_CLUSTER_ID}"),
        (
            {"previewClusterIds": json.dumps(PROD_CLUSTER)},
            f"previewClusterIds = '{PROD_CLUSTER}': must be a list of AKS cluster ids",
        ),
        (
            {"previewClusterIds": json.dumps({"prod": PROD_CLUSTER})},
            f"previewClusterIds = {{'prod': '{PROD_CLUSTER}'}}: must be a list of AKS cluster ids",
        ),
    ],
)
def test_bad_settings_stop_the_run_before_anything_is_declared(monitor, overrides, message):
    with pytest.raises(ci.BootstrapSettingsError) as refused:
        bootstrap(**overrides)
    assert str(refused.value) == message
    assert [t for t in monitor.types if t != "pulumi:pulumi:Stack"] == []


def test_every_broken_setting_is_named_at_once_in_the_order_of_the_keys():
    with pytest.raises(ci.BootstrapSettingsError) as refused:
        bootstrap(
            githubRepository="aks-wi",
            subscriptionId="my-subscription",
            githubOwnerId="123456",
            previewClusterIds=json.dumps([PROD_CLUSTER, "wi-prod-aks", BYO_CLUSTER, None]),
        )
    assert str(refused.value) == (
        "githubRepository = 'aks-wi': must be owner/name, as in the repository's URL; "
        "subscriptionId = 'my-subscription': must be a subscription id (a GUID); "
        f"githubOwnerId = 123456, githubRepositoryId = 0: {SET_BOTH}; "
        f"previewClusterIds[1] = 'wi-prod-aks': {MUST_BE_CLUSTER_ID}; "
        f"previewClusterIds[3] = None: {MUST_BE_CLUSTER_ID}"
    )


# --- The workflows that sign in as them ------------------------------------------------------------------------


def workflows() -> dict[str, dict]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(WORKFLOWS.glob("*.yml"))}


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as true.
    return workflow.get("on") or workflow[True]


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if s.get("uses", "").lower().startswith(action.lower() + "@")]


def azure_jobs() -> list[tuple[str, str, dict, dict]]:
    """(workflow, job name, job, its azure/login step) for every job that signs in to Azure."""
    found = []
    for file, workflow in workflows().items():
        for name, job in workflow["jobs"].items():
            for login in steps_using(job, "azure/login"):
                found.append((file, name, job, login))
    return found


def token_subjects(workflow: dict, job: dict) -> set[str]:
    """The `sub` contexts GitHub gives this job's OIDC token (GitHub Docs, "OpenID Connect reference")."""
    if "environment" in job:
        environment = job["environment"]
        return {ci.environment_context(environment if isinstance(environment, str) else environment["name"])}
    on = triggers(workflow)
    if set(on) == {"pull_request"}:
        return {ci.PULL_REQUEST_CONTEXT}
    assert set(on) == {"push"} and "tags" not in on["push"], "a trigger whose subject the test does not model"
    return {ci.ref_context(branch) for branch in on["push"]["branches"]}


VARIABLE = re.compile(r"^\$\{\{ vars\.([A-Z_]+) \}\}$")


def test_each_job_signs_in_as_the_identity_that_trusts_its_subject(declared):
    by_variable = {ci.DEPLOY_CLIENT_ID_VARIABLE: "deploy", ci.PREVIEW_CLIENT_ID_VARIABLE: "preview"}
    jobs = azure_jobs()
    assert {(file, name) for file, name, _, _ in jobs} == {
        ("pull-request.yml", "preview"),
        ("deploy.yml", "dev"),
        ("deploy.yml", "prod"),
    }
    for file, name, job, login in jobs:
        variable = VARIABLE.match(login["with"]["client-id"])
        assert variable, (file, name)
        identity = by_variable[variable[1]]
        expected = {s.split(":", 2)[2] for s in subjects(declared, identity)}
        assert token_subjects(workflows()[file], job) <= expected, (file, name, identity)
        # The program's Azure provider and kubelogin sign in as the same identity as the Azure CLI.
        assert job["env"]["ARM_CLIENT_ID"] == job["env"]["AZURE_CLIENT_ID"] == login["with"]["client-id"]
        assert job["env"]["ARM_USE_OIDC"] == "true"
        for key in ("tenant-id", "subscription-id"):
            assert VARIABLE.match(login["with"][key]), (file, name, key)


def test_no_workflow_reads_a_secret():
    for path in WORKFLOWS.glob("*.yml"):
        assert "secrets." not in path.read_text(), path.name


def test_prod_deploys_from_main_behind_the_production_environment():
    deploy = workflows()["deploy.yml"]
    assert triggers(deploy) == {"push": {"branches": [ci.MAIN_BRANCH]}}
    assert deploy["jobs"]["prod"]["environment"] == ci.PRODUCTION_ENVIRONMENT
    assert deploy["jobs"]["prod"]["needs"] == "dev"
    assert "environment" not in deploy["jobs"]["dev"]


def test_id_token_is_writable_only_where_azure_sign_in_happens():
    signing_in = {(file, name) for file, name, _, _ in azure_jobs()}
    for file, workflow in workflows().items():
        assert workflow["permissions"] == {}, file
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, (file, name)
            assert (job["permissions"].get("id-token") == "write") == ((file, name) in signing_in), (file, name)
            assert set(job["permissions"].values()) <= {"read", "write"}
            writes = {scope for scope, level in job["permissions"].items() if level == "write"}
            # Only the release job writes the repository's contents: it creates the tag's release.
            may_write = {"contents"} if (file, name) == ("release.yml", "release") else {"id-token", "pull-requests"}
            assert writes <= may_write, (file, name, writes)


def test_a_pushed_version_tag_is_tested_then_released_with_its_wheel_and_sdist():
    release = workflows()["release.yml"]
    assert triggers(release) == {"push": {"tags": ["v*"]}}
    assert release["jobs"]["release"]["needs"] == "test"
    assert release["jobs"]["test"]["steps"][-1] == {"run": "make test"}
    script = "\n".join(step.get("run", "") for step in release["jobs"]["release"]["steps"])
    assert '"$TAG" != "v$version"' in script and "uv build" in script
    assert 'gh release create "$TAG" dist/*.whl dist/*.tar.gz' in script


def test_workflows_install_the_uv_make_test_pins():
    (pinned,) = re.findall(r"^UV_VERSION := (\S+)$", (PROJECT_DIR / "Makefile").read_text(), re.M)
    installs = re.findall(r"pip install uv==(\S+)", "".join(p.read_text() for p in WORKFLOWS.glob("*.yml")))
    assert len(installs) >= 4 and set(installs) == {pinned}


USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?:\s+#\s*(?P<version>\S+))?\s*$")


def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version():
    lines = [line for path in WORKFLOWS.glob("*.yml") for line in path.read_text().splitlines() if "uses:" in line]
    assert lines
    for line in lines:
        pin = USES.match(line)
        assert pin, line
        assert re.fullmatch(r"[0-9a-f]{40}", pin["ref"]), line
        assert pin["version"] and re.fullmatch(r"v\d+(\.\d+)*", pin["version"]), line


def test_checkouts_never_keep_the_token():
    for file, workflow in workflows().items():
        for name, job in workflow["jobs"].items():
            for checkout in steps_using(job, "actions/checkout"):
                assert checkout["with"]["persist-credentials"] is False, (file, name)


def test_deploys_run_one_at_a_time_per_stack_and_are_never_cancelled():
    jobs = workflows()["deploy.yml"]["jobs"]
    for stack in ("dev", "prod"):
        assert jobs[stack]["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
    preview = workflows()["pull-request.yml"]["jobs"]["preview"]
    assert "matrix.stack" in preview["concurrency"]["group"]
    # Not dev: its cluster keeps local accounts, whose only credential is the admin's, which no preview gets.
    assert preview["strategy"]["matrix"]["stack"] == ["prod", "byo"]


def test_deploys_refresh_first_so_the_clusters_stored_pool_list_names_only_pools_that_exist():
    jobs = workflows()["deploy.yml"]["jobs"]
    for stack in ("dev", "prod"):
        (up,) = [s for s in jobs[stack]["steps"] if s.get("with", {}).get("command") == "up"]
        assert up["with"]["refresh"] is True


def pulumi_runs() -> list[tuple[str, dict]]:
    """(workflow, inputs) of every pulumi/actions step that runs a command."""
    return [
        (file, step["with"])
        for file, workflow in workflows().items()
        for job in workflow["jobs"].values()
        for step in steps_using(job, "pulumi/actions")
        if "command" in step.get("with", {})
    ]


def test_previews_run_the_policy_pack_and_comment_on_the_pull_request():
    runs = pulumi_runs()
    assert sorted(inputs["command"] for _, inputs in runs) == ["preview", "up", "up"]
    for file, inputs in runs:
        assert inputs["policyPacks"] == "policy", file
        if inputs["command"] == "preview":
            assert inputs["comment-on-pr"] is True
            # dev exists only once main's first deploy ran: a preview before that must create it.
            assert inputs["upsert"] is True


def test_ci_config_signs_the_deploy_in_with_workload_identity_as_a_service_principal():
    """The config every Pulumi run in CI sets, fed to the prod program: the keys must be the project's own."""
    maps = {yaml.safe_dump(yaml.safe_load(inputs["config-map"])) for _, inputs in pulumi_runs()}
    (config_map,) = maps
    config = {key: entry["value"] for key, entry in yaml.safe_load(config_map).items()}
    assert config == {
        "aks-workload-identity:kubeloginMode": "workloadidentity",
        "aks-workload-identity:deployerPrincipalType": "ServicePrincipal",
        "aks-workload-identity:deployerObjectId": "${{ vars.AZURE_DEPLOY_OBJECT_ID }}",
    }
    # The variable as the bootstrap exports it (a GUID) stands in for the expression GitHub substitutes.
    deploy_object_id = "7d1f0c2e-0000-4000-8000-00000000c1d0"
    config["aks-workload-identity:deployerObjectId"] = deploy_object_id
    prod = run_program(config, stack="prod")
    grant = named(prod, ROLE_ASSIGNMENT, "wi-deployer-cluster-admin").inputs
    assert (grant["principalType"], grant["principalId"]) == ("ServicePrincipal", deploy_object_id)
    (user,) = yaml.safe_load(prod.one(K8S_PROVIDER).inputs["kubeconfig"])["users"]
    assert user["user"]["exec"]["args"][:3] == ["get-token", "--login", "workloadidentity"]


def test_dependabot_updates_every_dependency_list_the_repository_pins():
    updates = yaml.safe_load((PROJECT_DIR / ".github" / "dependabot.yml").read_text())["updates"]
    covered = {
        (u["package-ecosystem"], directory) for u in updates for directory in u.get("directories", [u.get("directory")])
    }
    # Compiled lists (requirements.in) are pip's to update; every other list is uv.lock's export (requirements.txt)
    # or includes it (provider/, bootstrap/), which the uv update, then `make lock`, moves.
    compiled = {"/" + p.parent.relative_to(PROJECT_DIR).as_posix() for p in PROJECT_DIR.glob("*/requirements.in")}
    assert compiled == {"/app", "/policy"} and (PROJECT_DIR / "uv.lock").exists()
    for listed in [*PROJECT_DIR.glob("requirements*.txt"), *PROJECT_DIR.glob("*/requirements*.txt")]:
        if "/" + listed.parent.relative_to(PROJECT_DIR).as_posix() not in compiled:
            text = listed.read_text()
            lines = [line for line in text.splitlines() if line and not line.startswith("#")]
            assert "uv export" in text or lines == ["-r ../requirements.txt"], listed
    expected = {("pip", d) for d in compiled} | {("uv", "/"), ("docker", "/app"), ("github-actions", "/")}
    assert expected <= covered
