"""Container registry and images: no shared credentials, AcrPull for the kubelet, and images pinned and pulled from
a registry the kubelet may pull from."""

from __future__ import annotations

import re

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs

from .common import (
    CLUSTER,
    POD_TEMPLATE_PATHS,
    POD_TEMPLATE_PROPERTY,
    REGISTRY,
    ROLE_ASSIGNMENT,
    STRINGS,
    Checks,
    Report,
    Stack,
    acr_registry_of,
    config_of,
    containers,
    derived_from,
    facts,
    get,
    known,
    linked,
    pod_containers,
    pod_template,
    registry_scope,
    role_guid,
)

EXTERNAL_REGISTRIES = {
    "externalRegistries": {
        **STRINGS,
        "description": "Login servers the kubelet may pull from without an AcrPull grant in this stack (e.g. one "
        "attached with `az aks update --attach-acr`).",
    }
}


def registry_admin_user_disabled(args: ResourceValidationArgs, report: Report) -> None:
    """Keep adminUserEnabled false (facts: Container registry and image build)."""
    if args.resource_type == REGISTRY and get(args.props, "adminUserEnabled") is True:
        report(
            f"Registry '{args.name}' has its admin user enabled: set adminUserEnabled to false; the kubelet pulls with "
            "AcrPull through its identity, and an admin password is a shared static credential.",
        )


def registry_anonymous_pull_disabled(args: ResourceValidationArgs, report: Report) -> None:
    """Only identities with AcrPull pull (docs/production.md)."""
    if args.resource_type == REGISTRY and get(args.props, "anonymousPullEnabled") is True:
        report(
            f"Registry '{args.name}' allows anonymous pull: set anonymousPullEnabled to false so only identities "
            "with AcrPull pull its images.",
        )


def _registry_name(registry: PolicyResource) -> str | None:
    """A registry's name, lowercase (its login server's first label); None while unknown."""
    name = known(registry.props, "name") or known(registry.props, "registryName")
    return str(name).lower() if name else None


def _registry_key(registry: PolicyResource) -> str:
    """A registry's name, or while that is unknown its URN."""
    return _registry_name(registry) or registry.urn


def _acr_pulls_on(stack: Stack, registry: PolicyResource) -> list[PolicyResource]:
    """AcrPull assignments whose scope is `registry`: by the registry their scope names, or while a scope is
    unknown, by the registry it was computed from. A known scope that names no registry names none."""
    found = []
    for assignment in stack.of(ROLE_ASSIGNMENT):
        if role_guid(assignment) != facts.ACR_PULL:
            continue
        scope = known(assignment.props, "scope")
        named = None if scope is None else registry_scope(str(scope)) or ""
        if linked(assignment, named, "scope", [registry], _registry_name):
            found.append(assignment)
    return found


def _kubelets(stack: Stack, field: str) -> set[str]:
    path = ("identityProfile", facts.KUBELET_IDENTITY_KEY, field)
    return {str(v) for v in (known(c.props, *path) for c in stack.of(CLUSTER)) if v}


def registry_pull_is_granted_to_the_kubelet(args: StackValidationArgs, report: ReportViolation) -> None:
    """AcrPull goes to the kubelet identity's object id, not the control plane's nor the kubelet's client id (facts:
    Container registry and image build)."""
    stack = Stack(args)
    registries = stack.of(REGISTRY)
    if not registries:
        args.not_applicable("the stack declares no container registry")
    checks = Checks(args, report)
    clusters = stack.of(CLUSTER)
    kubelets = _kubelets(stack, "objectId")
    kubelet_clients = _kubelets(stack, "clientId")
    control_planes = {known(c.props, "identity", "principalId") for c in clusters} - {None}
    for registry in registries:
        with checks.each(registry):
            pulls = _acr_pulls_on(stack, registry)
            principals = {get(a.props, "principalId") for a in pulls}
            if clusters and kubelets and not principals & kubelets:
                wrong = (
                    " (it goes to the cluster's control-plane identity)"
                    if principals & control_planes
                    else " (it names the kubelet's clientId; AcrPull takes its objectId)"
                    if principals & kubelet_clients
                    else ""
                )
                checks.report(
                    f"Registry '{registry.name}' grants AcrPull to no cluster's kubelet identity{wrong}: assign "
                    "AcrPull to identityProfile.kubeletidentity.objectId, or image pulls fail with 401.",
                    registry,
                )
            elif not pulls:
                checks.report(
                    f"Registry '{registry.name}' grants AcrPull to nobody: assign it to the kubelet identity of the "
                    "cluster that runs its images.",
                    registry,
                )
    checks.done()


def _kubelet_pulls_from(stack: Stack) -> set[str]:
    """The registries (names, lowercase; URNs while unknown) the kubelet holds AcrPull on. A principal is the
    kubelet's by value; while unknown, when it was computed from a cluster (which of the cluster's identities, the
    registry policy decides by value). With no cluster in the stack (an existing one, read by invoke), any AcrPull
    assignment of the stack is taken for the kubelet's."""
    clusters = stack.of(CLUSTER)
    kubelets = _kubelets(stack, "objectId")
    registries = stack.of(REGISTRY)
    pullable: set[str] = set()
    for assignment in stack.of(ROLE_ASSIGNMENT):
        if role_guid(assignment) != facts.ACR_PULL:
            continue
        principal = known(assignment.props, "principalId")
        if clusters and (
            principal not in kubelets if principal else not derived_from(assignment, "principalId", clusters)
        ):
            continue
        scope = known(assignment.props, "scope")
        if scope is not None:
            names = {registry_scope(str(scope))}
        else:
            names = {_registry_key(r) for r in derived_from(assignment, "scope", registries)}
        pullable |= {name for name in names if name}
    return pullable


def images_come_from_pullable_registries(args: StackValidationArgs, report: ReportViolation) -> None:
    """An image from an Azure Container Registry needs AcrPull for the kubelet on that registry (facts: Container
    registry and image build); a workload computed from a registry of the stack runs an image that names a login
    server. Dependencies are recorded per top-level property (the whole pod template), so a workload computed from a
    registry may also run images from elsewhere (a sidecar): only when no container can be the registry's image is
    one reported."""
    stack = Stack(args)
    checks = Checks(args, report)
    external = {str(server).lower().partition(".")[0] for server in config_of(args).get("externalRegistries") or []}
    pullable = _kubelet_pulls_from(stack) | external
    registries = stack.of(REGISTRY)
    for workload in stack.workloads():
        with checks.each(workload):
            sources = derived_from(workload, POD_TEMPLATE_PROPERTY, registries)
            images = [known(container, "image") for container in pod_containers(workload)]
            # A container whose image names a registry, or is not known yet, may be the one computed from it.
            explained = any(image is None or acr_registry_of(str(image)) for image in images)
            for container in pod_containers(workload):
                name, image = known(container, "name"), known(container, "image")
                if image is None:
                    if not any(_registry_key(r) in pullable for r in sources):
                        checks.undecided(workload, f"the image of container '{name}' is not known yet")
                    continue
                registry = acr_registry_of(str(image))
                if registry is None:
                    if sources and not explained:
                        checks.report(
                            f"Container '{name}' of '{workload.name}' runs image '{image}', computed from registry "
                            f"'{sources[0].name}' but naming no registry login server: build the reference from the "
                            "registry's loginServer (<name>.azurecr.io/<repository>@sha256:...).",
                            workload,
                        )
                    continue
                if registry not in pullable:
                    checks.report(
                        f"Container '{name}' of '{workload.name}' runs image '{image}' from registry '{registry}', on "
                        "which the cluster's kubelet identity holds no AcrPull: grant AcrPull on that registry to "
                        "identityProfile.kubeletidentity.objectId (or list its login server in this policy's "
                        "externalRegistries), or the pull fails with 401.",
                        workload,
                    )
    checks.done()


# --- Images --------------------------------------------------------------------------------------------------------

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
#: A reference's tag: what follows its last colon, unless a "/" does (then that colon is a registry's port).
_TAG = re.compile(r":([^/]*)$")


def images_are_pinned(args: ResourceValidationArgs, report: Report) -> None:
    """Image pinned by tag or digest, never latest (facts: Pod security; Container registry and image build)."""
    if args.resource_type not in POD_TEMPLATE_PATHS:
        return
    template = pod_template(args.resource_type, args.props) or {}
    for container in containers(template):
        image = str(container.get("image") or "")
        if _DIGEST.search(image):
            continue
        found = _TAG.search(image)
        tag = found.group(1) if found else ""
        if not tag or tag.lower() == "latest":
            report(
                f"Container '{container.get('name')}' of '{args.name}' runs image '{image}' "
                f"{'tagged latest' if tag else 'without a tag or digest'}: pin it by digest (image@sha256:...) or by a "
                "tag other than latest, so what runs is what was reviewed.",
            )
