"""The registry and image policies, as a user of the pack meets them: the exact message of each violation and the
resource it is reported on, the exact reason a check is not applicable during a preview, and what the
`externalRegistries` setting allows. Each stack here is a few rows written by hand, so every name in a message is
one the test chose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from aks_workload_identity import facts
from tests.policy_args import (
    DEPLOYMENT,
    UNDECIDED,
    Found,
    Row,
    checked,
    depends,
    named,
    only,
    outcome,
    resource_args,
    row,
    stack_args,
    wp,
)

_SUBSCRIPTION = "/subscriptions/00000000-1111-2222-3333-444444444444"
_GROUP = f"{_SUBSCRIPTION}/resourceGroups/rg-app"
_VAULT_ID = f"{_GROUP}/providers/Microsoft.KeyVault/vaults/reader-vault"
_DIGEST = "@sha256:" + "0123456789abcdef" * 4

#: The cluster's identities: its control plane's, and its kubelet's client and object ids.
_CONTROL_PLANE = "86677100-1b65-5eac-afac-159aa4c06731"
_KUBELET_CLIENT = "868d4a63-1f55-5037-9de7-bbfae28a7453"
_KUBELET = "8dded0c7-752a-558b-b1ba-3aa51fe63dfa"
#: The workload identity's object id.
_WORKLOAD = "d818d7ff-5090-59e6-bd38-ea2cb7638ddf"


def _registry_id(acr: str) -> str:
    return f"{_GROUP}/providers/Microsoft.ContainerRegistry/registries/{acr}"


def _registry(name: str, acr: str) -> Row:
    props = {"name": acr, "registryName": acr, "loginServer": f"{acr}.azurecr.io", "id": _registry_id(acr)}
    return row(wp.REGISTRY, name, props)


def _grant(name: str, role: str, principal: str, scope: str) -> Row:
    role_id = f"{_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    props = {"roleDefinitionId": role_id, "principalId": principal, "scope": scope, "principalType": "ServicePrincipal"}
    return row(wp.ROLE_ASSIGNMENT, name, props)


def _pull(name: str, principal: str, acr: str) -> Row:
    return _grant(name, facts.ACR_PULL, principal, _registry_id(acr))


def _cluster() -> Row:
    kubelet = {"clientId": _KUBELET_CLIENT, "objectId": _KUBELET}
    props = {
        "name": "wi-aks",
        "identity": {"type": "SystemAssigned", "principalId": _CONTROL_PLANE},
        "identityProfile": {facts.KUBELET_IDENTITY_KEY: kubelet},
    }
    return row(wp.CLUSTER, "wi-aks", props)


def _deployment(name: str, *containers: tuple[str, Any], init: tuple[tuple[str, Any], ...] = ()) -> Row:
    """A Deployment whose containers are (name, image) pairs; an image of None is left out."""

    def spec(pairs: tuple[tuple[str, Any], ...]) -> list[dict[str, Any]]:
        return [{"name": n} | ({} if image is None else {"image": image}) for n, image in pairs]

    pod = {"containers": spec(containers)} | ({"initContainers": spec(init)} if init else {})
    props = {"metadata": {"name": name, "namespace": "wi-demo"}, "spec": {"template": {"spec": pod}}}
    return row(DEPLOYMENT, name, props)


def _reader_image(acr: str = "appregistry01") -> str:
    return f"{acr}.azurecr.io/secret-reader{_DIGEST}"


def _stack() -> list[Row]:
    """The registry and image chain as the program declares it: the cluster's kubelet holds AcrPull on the registry
    its workload's image comes from. The workload identity's vault grant comes first, so a check that stops at the
    first role assignment that is not AcrPull misses the kubelet's."""
    return [
        _grant("reader-reads-vault", facts.KEY_VAULT_SECRETS_USER, _WORKLOAD, _VAULT_ID),
        _cluster(),
        _registry("app-registry", "appregistry01"),
        _pull("kubelet-pulls", _KUBELET, "appregistry01"),
        _deployment("reader-deployment", ("reader", _reader_image())),
    ]


def _without(resources: list[Row], *names: str) -> list[Row]:
    return [r for r in resources if r["name"] not in names]


def _stack_outcome(validate: Callable, resources: list[Row], config: dict[str, Any] | None = None):
    return outcome(validate, stack_args(resources, config))


# --- Registry settings (resource policies, on the registry's inputs) -------------------------------------------------

_REGISTRY_SETTINGS = {
    "registry-admin-user-disabled": (
        "adminUserEnabled",
        "Registry 'app-registry' has its admin user enabled: set adminUserEnabled to false; the kubelet pulls with "
        "AcrPull through its identity, and an admin password is a shared static credential.",
    ),
    "registry-anonymous-pull-disabled": (
        "anonymousPullEnabled",
        "Registry 'app-registry' allows anonymous pull: set anonymousPullEnabled to false so only identities with "
        "AcrPull pull its images.",
    ),
}


@pytest.mark.parametrize(("policy", "setting", "message"), [(p, *v) for p, v in _REGISTRY_SETTINGS.items()])
def test_a_registry_setting_turned_on_is_reported_with_what_to_set(policy: str, setting: str, message: str) -> None:
    registry = _registry("app-registry", "appregistry01")
    registry["props"][setting] = True
    assert outcome(checked(policy), resource_args(registry)) == ([(message, None)], None)


@pytest.mark.parametrize("value", [False, None])
@pytest.mark.parametrize(("policy", "setting"), [(p, v[0]) for p, v in _REGISTRY_SETTINGS.items()])
def test_a_registry_setting_off_or_left_to_its_default_passes(policy: str, setting: str, value: bool | None) -> None:
    registry = _registry("app-registry", "appregistry01")
    if value is not None:
        registry["props"][setting] = value
    assert outcome(checked(policy), resource_args(registry)) == ([], None)


@pytest.mark.parametrize(("policy", "setting"), [(p, v[0]) for p, v in _REGISTRY_SETTINGS.items()])
def test_a_registry_setting_is_checked_on_registries_only(policy: str, setting: str) -> None:
    other = row("azure-native:storage:StorageAccount", "app-storage", {setting: True})
    assert outcome(checked(policy), resource_args(other)) == ([], None)


@pytest.mark.parametrize(("policy", "setting"), [(p, v[0]) for p, v in _REGISTRY_SETTINGS.items()])
def test_a_registry_setting_unknown_during_a_preview_is_not_applicable(policy: str, setting: str) -> None:
    registry = _registry("app-registry", "appregistry01")
    registry["props"][setting] = UNKNOWN_BOOLEAN_VALUE
    reason = f"boolean value at .{setting} can't be known during preview; checked again with the real value during "
    assert outcome(checked(policy), resource_args(registry)) == ([], reason + "`pulumi up`")


# --- Images pinned (a resource policy, on the workload's inputs) -----------------------------------------------------

_PINNED = checked("images-are-pinned")


def _unpinned(container: str, image: str, what: str) -> str:
    return (
        f"Container '{container}' of 'reader-deployment' runs image '{image}' {what}: pin it by digest "
        "(image@sha256:...) or by a tag other than latest, so what runs is what was reviewed."
    )


@pytest.mark.parametrize(
    "image",
    [
        _reader_image(),
        f"appregistry01.azurecr.io/secret-reader:latest{_DIGEST}",
        "appregistry01.azurecr.io/secret-reader:1.4.2",
        "localhost:5000/team/secret-reader:1.4.2",
        "nginx:1.27",
    ],
    ids=["digest", "digest after latest", "tag", "tag after a registry port", "tag without a registry"],
)
def test_an_image_pinned_by_digest_or_by_a_tag_other_than_latest_passes(image: str) -> None:
    deployment = _deployment("reader-deployment", ("reader", image))
    assert outcome(_PINNED, resource_args(deployment)) == ([], None)


@pytest.mark.parametrize(
    ("image", "what"),
    [
        ("appregistry01.azurecr.io/secret-reader:latest", "tagged latest"),
        ("nginx:LATEST", "tagged latest"),
        ("appregistry01.azurecr.io/secret-reader", "without a tag or digest"),
        ("localhost:5000/secret-reader", "without a tag or digest"),
        ("secret-reader", "without a tag or digest"),
        (None, "without a tag or digest"),
    ],
    ids=["latest", "latest in capitals, no registry", "no tag", "a registry port is no tag", "bare name", "no image"],
)
def test_an_image_tagged_latest_or_not_at_all_is_reported_with_its_container(image: str | None, what: str) -> None:
    deployment = _deployment("reader-deployment", ("reader", image))
    expected = _unpinned("reader", image or "", what)
    assert outcome(_PINNED, resource_args(deployment)) == ([(expected, None)], None)


def test_every_container_is_checked_after_a_pinned_one() -> None:
    deployment = _deployment(
        "reader-deployment",
        ("reader", "appregistry01.azurecr.io/secret-reader:latest"),
        ("sidecar", "busybox"),
        init=(("migrate", _reader_image()),),
    )
    assert outcome(_PINNED, resource_args(deployment)) == (
        [
            (_unpinned("reader", "appregistry01.azurecr.io/secret-reader:latest", "tagged latest"), None),
            (_unpinned("sidecar", "busybox", "without a tag or digest"), None),
        ],
        None,
    )


def test_resources_without_a_pod_template_are_not_checked_for_images() -> None:
    registry = _registry("app-registry", "appregistry01")
    registry["props"]["image"] = "secret-reader:latest"
    assert outcome(_PINNED, resource_args(registry)) == ([], None)


def test_an_image_unknown_during_a_preview_is_not_applicable() -> None:
    deployment = _deployment("reader-deployment", ("reader", UNKNOWN_STRING_VALUE))
    reason = "string value at .spec.template.spec.containers.0.image can't be known during preview"
    assert outcome(_PINNED, resource_args(deployment)) == (
        [],
        f"{reason}; checked again with the real value during `pulumi up`",
    )


# --- AcrPull goes to the kubelet (a stack policy) --------------------------------------------------------------------

_PULL = wp.registry_pull_is_granted_to_the_kubelet


def _no_kubelet_pull(registry: str, wrong: str = "") -> str:
    return (
        f"Registry '{registry}' grants AcrPull to no cluster's kubelet identity{wrong}: assign AcrPull to "
        "identityProfile.kubeletidentity.objectId, or image pulls fail with 401."
    )


def _pull_violation(resources: list[Row], registry: str, wrong: str = "") -> tuple[Found, None]:
    return [(_no_kubelet_pull(registry, wrong), named(resources, registry)["urn"])], None


def test_acr_pull_to_the_kubelets_object_id_passes() -> None:
    assert _stack_outcome(_PULL, _stack()) == ([], None)


@pytest.mark.parametrize(
    ("principal", "wrong"),
    [
        (_CONTROL_PLANE, " (it goes to the cluster's control-plane identity)"),
        (_KUBELET_CLIENT, " (it names the kubelet's clientId; AcrPull takes its objectId)"),
        (_WORKLOAD, ""),
    ],
    ids=["control plane", "kubelet client id", "another identity"],
)
def test_acr_pull_to_another_principal_is_reported_on_the_registry_with_whose_it_is(principal: str, wrong: str) -> None:
    resources = _stack()
    named(resources, "kubelet-pulls")["props"]["principalId"] = principal
    assert _stack_outcome(_PULL, resources) == _pull_violation(resources, "app-registry", wrong)


def test_a_registry_without_acr_pull_is_reported_when_the_stack_declares_the_cluster() -> None:
    resources = _without(_stack(), "kubelet-pulls")
    assert _stack_outcome(_PULL, resources) == _pull_violation(resources, "app-registry")


def test_acr_pull_scoped_to_the_login_server_grants_nothing_though_computed_from_the_registry() -> None:
    resources = _stack()
    grant = named(resources, "kubelet-pulls")
    grant["props"]["scope"] = "appregistry01.azurecr.io"
    depends(grant, "scope", named(resources, "app-registry"))
    assert _stack_outcome(_PULL, resources) == _pull_violation(resources, "app-registry")


def test_each_registry_is_checked_and_reported_on_its_own() -> None:
    resources = [*_stack(), _registry("cache-registry", "cacheregistry02")]
    assert _stack_outcome(_PULL, resources) == _pull_violation(resources, "cache-registry")


def test_registry_names_match_their_scope_in_any_case() -> None:
    resources = _stack()
    named(resources, "app-registry")["props"].update(name="AppRegistry01", registryName="AppRegistry01")
    named(resources, "kubelet-pulls")["props"]["scope"] = _registry_id("APPREGISTRY01")
    assert _stack_outcome(_PULL, resources) == ([], None)


@pytest.mark.parametrize(
    ("name", "registry_name"),
    [("appregistry01", None), (UNKNOWN_STRING_VALUE, "appregistry01")],
    ids=["by its name output alone", "by its registryName input while its name is unknown"],
)
def test_a_registry_is_known_by_its_name_or_else_its_registry_name(name: str, registry_name: str | None) -> None:
    resources = _stack()
    registry = named(resources, "app-registry")
    registry["props"].pop("registryName")
    registry["props"]["name"] = name
    if registry_name is not None:
        registry["props"]["registryName"] = registry_name
    assert _stack_outcome(_PULL, resources) == ([], None)


def test_a_registry_whose_name_is_unknown_is_linked_by_where_the_scope_came_from() -> None:
    resources = _stack()
    registry = named(resources, "app-registry")
    registry["props"].update(name=UNKNOWN_STRING_VALUE, registryName=UNKNOWN_STRING_VALUE)
    assert _stack_outcome(_PULL, resources) == _pull_violation(resources, "app-registry")
    depends(named(resources, "kubelet-pulls"), "scope", registry)
    assert _stack_outcome(_PULL, resources) == ([], None)


def test_a_scope_unknown_during_a_preview_is_linked_by_where_it_came_from() -> None:
    resources = _stack()
    grant = named(resources, "kubelet-pulls")
    grant["props"]["scope"] = UNKNOWN_STRING_VALUE
    assert _stack_outcome(_PULL, resources) == _pull_violation(resources, "app-registry")
    depends(grant, "scope", named(resources, "app-registry"))
    assert _stack_outcome(_PULL, resources) == ([], None)


def test_a_grant_whose_principal_is_unknown_during_a_preview_leaves_its_registry_undecided() -> None:
    resources = _stack()
    named(resources, "kubelet-pulls")["props"]["principalId"] = UNKNOWN_STRING_VALUE
    reason = "app-registry: string value at .principalId can't be known during preview"
    assert _stack_outcome(_PULL, resources) == ([], UNDECIDED + reason)


def test_without_a_declared_cluster_any_acr_pull_on_the_registry_passes() -> None:
    """An existing cluster, read by invoke: the stack cannot tell its kubelet's object id."""
    resources = _without(_stack(), "wi-aks")
    named(resources, "kubelet-pulls")["props"]["principalId"] = _WORKLOAD
    assert _stack_outcome(_PULL, resources) == ([], None)


def test_without_a_declared_cluster_a_registry_granting_acr_pull_to_nobody_is_reported() -> None:
    resources = _without(_stack(), "wi-aks", "kubelet-pulls")
    message = (
        "Registry 'app-registry' grants AcrPull to nobody: assign it to the kubelet identity of the cluster that "
        "runs its images."
    )
    assert _stack_outcome(_PULL, resources) == ([(message, named(resources, "app-registry")["urn"])], None)


def test_a_stack_without_a_registry_is_not_applicable() -> None:
    resources = _without(_stack(), "app-registry", "kubelet-pulls")
    assert _stack_outcome(_PULL, resources) == ([], "the stack declares no container registry")


# --- Images come from registries the kubelet may pull from (a stack policy) -----------------------------------------

_IMAGES = wp.images_come_from_pullable_registries


def _unpullable(container: str, image: str, registry: str, workload: str = "reader-deployment") -> str:
    return (
        f"Container '{container}' of '{workload}' runs image '{image}' from registry '{registry}', on which the "
        "cluster's kubelet identity holds no AcrPull: grant AcrPull on that registry to "
        "identityProfile.kubeletidentity.objectId (or list its login server in this policy's externalRegistries), "
        "or the pull fails with 401."
    )


def _image_violation(resources: list[Row], image: str, registry: str) -> tuple[Found, None]:
    return [(_unpullable("reader", image, registry), named(resources, "reader-deployment")["urn"])], None


def _run_image(resources: list[Row], image: Any) -> None:
    only(resources, DEPLOYMENT)["props"]["spec"]["template"]["spec"]["containers"][0]["image"] = image


def test_an_image_from_the_registry_the_kubelet_pulls_from_passes() -> None:
    assert _stack_outcome(_IMAGES, _stack()) == ([], None)


def test_an_image_from_another_registry_is_reported_on_its_workload() -> None:
    resources = _stack()
    image = _reader_image("elsewhere")
    _run_image(resources, image)
    assert _stack_outcome(_IMAGES, resources) == _image_violation(resources, image, "elsewhere")


@pytest.mark.parametrize("server", ["elsewhere.azurecr.io", "Elsewhere.AzureCR.io"])
def test_external_registries_lists_login_servers_the_kubelet_may_pull_from(server: str) -> None:
    resources = _stack()
    _run_image(resources, _reader_image("elsewhere"))
    config = {"externalRegistries": ["other.azurecr.io", server]}
    assert _stack_outcome(_IMAGES, resources, config) == ([], None)


def test_external_registries_allows_only_the_registries_it_lists() -> None:
    resources = _stack()
    image = _reader_image("elsewhere")
    _run_image(resources, image)
    config = {"externalRegistries": ["other.azurecr.io", "elsewhere-mirror.azurecr.io"]}
    assert _stack_outcome(_IMAGES, resources, config) == _image_violation(resources, image, "elsewhere")


@pytest.mark.parametrize("principal", [_CONTROL_PLANE, _KUBELET_CLIENT, _WORKLOAD])
def test_acr_pull_to_another_principal_than_the_kubelet_does_not_let_its_images_be_pulled(principal: str) -> None:
    resources = _stack()
    named(resources, "kubelet-pulls")["props"]["principalId"] = principal
    assert _stack_outcome(_IMAGES, resources) == _image_violation(resources, _reader_image(), "appregistry01")


def test_an_acr_pull_to_another_principal_does_not_hide_the_kubelets() -> None:
    resources = _stack()
    resources.insert(0, _pull("control-plane-pulls", _CONTROL_PLANE, "appregistry01"))
    assert _stack_outcome(_IMAGES, resources) == ([], None)


def test_without_a_declared_cluster_any_acr_pull_is_taken_for_the_kubelets() -> None:
    resources = _without(_stack(), "wi-aks")
    named(resources, "kubelet-pulls")["props"]["principalId"] = _WORKLOAD
    assert _stack_outcome(_IMAGES, resources) == ([], None)
    resources = _without(resources, "kubelet-pulls")
    assert _stack_outcome(_IMAGES, resources) == _image_violation(resources, _reader_image(), "appregistry01")


def test_a_principal_unknown_during_a_preview_counts_when_it_came_from_the_cluster() -> None:
    resources = [*_stack(), row(wp.IDENTITY, "reader-identity", {"principalId": _WORKLOAD})]
    grant = named(resources, "kubelet-pulls")
    grant["props"]["principalId"] = UNKNOWN_STRING_VALUE
    depends(grant, "principalId", named(resources, "reader-identity"))
    assert _stack_outcome(_IMAGES, resources) == _image_violation(resources, _reader_image(), "appregistry01")
    depends(grant, "principalId", named(resources, "wi-aks"))
    assert _stack_outcome(_IMAGES, resources) == ([], None)


def _two_registries() -> list[Row]:
    resources = _stack()
    resources[-1:] = [
        _registry("cache-registry", "cacheregistry02"),
        _pull("kubelet-pulls-cache", _KUBELET, "cacheregistry02"),
        _deployment("reader-deployment", ("reader", _reader_image()), ("cache", _reader_image("cacheregistry02"))),
    ]
    return resources


def test_images_from_every_registry_the_kubelet_pulls_from_pass() -> None:
    assert _stack_outcome(_IMAGES, _two_registries()) == ([], None)


def test_a_scope_unknown_during_a_preview_names_the_registry_it_came_from() -> None:
    resources = _two_registries()
    grant = named(resources, "kubelet-pulls-cache")
    grant["props"]["scope"] = UNKNOWN_STRING_VALUE
    depends(grant, "scope", named(resources, "cache-registry"))
    assert _stack_outcome(_IMAGES, resources) == ([], None)
    depends(grant, "scope", named(resources, "app-registry"))
    image = _reader_image("cacheregistry02")
    workload = named(resources, "reader-deployment")["urn"]
    assert _stack_outcome(_IMAGES, resources) == ([(_unpullable("cache", image, "cacheregistry02"), workload)], None)


def test_an_image_unknown_during_a_preview_passes_when_computed_from_a_registry_the_kubelet_pulls_from() -> None:
    resources = _stack()
    _run_image(resources, UNKNOWN_STRING_VALUE)
    depends(only(resources, DEPLOYMENT), "spec", named(resources, "app-registry"))
    assert _stack_outcome(_IMAGES, resources) == ([], None)


def test_a_first_preview_links_image_grant_and_registry_by_where_each_came_from() -> None:
    resources = _stack()
    registry, grant = named(resources, "app-registry"), named(resources, "kubelet-pulls")
    registry["props"].update(name=UNKNOWN_STRING_VALUE, registryName=UNKNOWN_STRING_VALUE, id=UNKNOWN_STRING_VALUE)
    grant["props"].update(scope=UNKNOWN_STRING_VALUE)
    depends(grant, "scope", registry)
    _run_image(resources, UNKNOWN_STRING_VALUE)
    depends(only(resources, DEPLOYMENT), "spec", registry)
    assert _stack_outcome(_IMAGES, resources) == ([], None)


@pytest.mark.parametrize("computed_from", [(), ("cache-registry",)], ids=["from nothing", "from an ungranted registry"])
def test_an_image_unknown_during_a_preview_is_undecided_otherwise(computed_from: tuple[str, ...]) -> None:
    resources = [*_stack(), _registry("cache-registry", "cacheregistry02")]
    _run_image(resources, UNKNOWN_STRING_VALUE)
    depends(only(resources, DEPLOYMENT), "spec", *(named(resources, n) for n in computed_from))
    reason = "reader-deployment: the image of container 'reader' is not known yet"
    assert _stack_outcome(_IMAGES, resources) == ([], UNDECIDED + reason)


def test_containers_unknown_during_a_preview_leave_their_workload_undecided() -> None:
    resources = _stack()
    only(resources, DEPLOYMENT)["props"]["spec"]["template"]["spec"]["containers"] = UNKNOWN_ARRAY_VALUE
    reason = "reader-deployment: Array value at .spec.template.spec.containers can't be known during preview"
    assert _stack_outcome(_IMAGES, resources) == ([], UNDECIDED + reason)


def test_an_image_computed_from_a_registry_but_naming_no_login_server_is_reported() -> None:
    resources = _stack()
    image = f"appregistry01/secret-reader{_DIGEST}"
    _run_image(resources, image)
    message = (
        f"Container 'reader' of 'reader-deployment' runs image '{image}', computed from registry 'app-registry' but "
        "naming no registry login server: build the reference from the registry's loginServer "
        "(<name>.azurecr.io/<repository>@sha256:...)."
    )
    assert _stack_outcome(_IMAGES, resources) == ([], None)
    depends(only(resources, DEPLOYMENT), "spec", named(resources, "app-registry"))
    assert _stack_outcome(_IMAGES, resources) == ([(message, named(resources, "reader-deployment")["urn"])], None)


@pytest.mark.parametrize("app_image", [_reader_image("appregistry01"), UNKNOWN_STRING_VALUE])
def test_a_sidecar_from_elsewhere_beside_the_registrys_image_passes(app_image: str) -> None:
    """The pod template's dependency on the registry is explained by the app's image (or may be, while it is not
    known): a public sidecar next to it is no reference built wrongly."""
    resources = _stack()
    resources[-1] = _deployment("reader-deployment", ("proxy", "docker.io/library/nginx:1.27"), ("reader", app_image))
    depends(resources[-1], "spec", named(resources, "app-registry"))
    assert _stack_outcome(_IMAGES, resources) == ([], None)


def test_every_container_is_checked_whatever_the_ones_before_it() -> None:
    """An image not known yet, then one from outside Azure, then one from a registry the kubelet holds no AcrPull on:
    the last is reported, and a violation found stands though another container is undecided."""
    resources = _stack()
    image = _reader_image("elsewhere")
    resources[-1] = _deployment(
        "reader-deployment",
        ("warmup", UNKNOWN_STRING_VALUE),
        ("proxy", "docker.io/library/nginx:1.27"),
        ("reader", image),
    )
    assert _stack_outcome(_IMAGES, resources) == _image_violation(resources, image, "elsewhere")
