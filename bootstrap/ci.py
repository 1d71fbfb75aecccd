"""The identities the repository's GitHub workflows sign in to Azure as, and the facts they rest on.

Two user-assigned managed identities, each trusting exactly the subjects of the workflow jobs that use it:

- `preview` trusts pull requests (`pull_request`) and may only read: a pull request's workflow runs the pull
  request's own code, so anyone who can push a branch holds this identity's rights while it runs. It reads the
  subscription's resources (Reader) and, inside the clusters `previewClusterIds` lists, Kubernetes objects other
  than Secrets (Cluster User to fetch a kubeconfig, Azure Kubernetes Service RBAC Reader inside). Only clusters
  with local accounts disabled belong in that list: on any other, the user credential Cluster User fetches is the
  cluster's own admin account;
- `deploy` trusts the main branch (`ref:refs/heads/main`, the dev deploy) and the `production` environment
  (`environment:production`, the prod deploy, which waits for its required reviewers), and holds what the
  prerequisites (docs/prerequisites.md) ask of whoever runs `pulumi up`: Contributor and Role Based Access Control
  Administrator on the subscription, the latter with a condition that lets it grant and remove only the roles the
  stacks assign (so it cannot make itself, or anyone, Owner).

A managed identity rather than an app registration: it has no secret to leak or rotate, creating it needs Azure
Resource Manager rights only (no Entra directory role), and it goes with its resource group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native
from pulumi_azure_native import managedidentity, resources

from aks_workload_identity import facts
from aks_workload_identity.roles import assign_role

# --- GitHub Actions OIDC (GitHub Docs, "OpenID Connect reference", 2026) ------------------------------------

#: The `iss` claim of every GitHub Actions token, without a trailing slash; Entra compares it byte for byte.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
#: The `sub` claim's context per kind of job: a job that names an environment gets the environment's subject,
#: whatever its branch; a pull request's job gets `pull_request`; any other job gets its branch or tag ref.
PULL_REQUEST_CONTEXT = "pull_request"
MAIN_BRANCH = "main"
PRODUCTION_ENVIRONMENT = "production"


def ref_context(branch: str) -> str:
    return f"ref:refs/heads/{branch}"


def environment_context(environment: str) -> str:
    return f"environment:{environment}"


#: Immutable subject claims (GitHub changelog 2026-04-23, "Immutable subject claims for GitHub Actions OIDC
#: tokens"; Microsoft Learn, "Migrate GitHub Actions federated credentials to immutable subjects"): the default for
#: repositories created or renamed on or after 2026-07-15, and an opt-in for older ones. The subject then carries
#: the owner's and the repository's numeric ids: `repo:<owner>@<owner id>/<name>@<repository id>:<context>`.
def github_subject(repository: str, context: str, ids: tuple[int, int] | None = None) -> str:
    """The `sub` claim of a job of `repository` (owner/name) in `context`, name-only or immutable."""
    if ids is None:
        return f"repo:{repository}:{context}"
    owner, name = repository.split("/")
    return f"repo:{owner}@{ids[0]}/{name}@{ids[1]}:{context}"


# --- Azure built-in roles the CI identities get (facts: Azure built-in roles) ---------------------------------

CONTRIBUTOR = facts.CONTRIBUTOR
RBAC_ADMINISTRATOR = facts.RBAC_ADMINISTRATOR
READER = facts.READER
AKS_CLUSTER_USER = facts.AKS_CLUSTER_USER
AKS_RBAC_READER = facts.AKS_RBAC_READER
#: Every role the stacks assign (the workloads' vault reads, the kubelet's pulls, the control plane's network
#: rights, the deployer's Kubernetes admin) and the previews' Kubernetes reader: all the deploy identity may grant.
ASSIGNABLE_ROLES = (
    facts.KEY_VAULT_SECRETS_USER,
    facts.ACR_PULL,
    facts.NETWORK_CONTRIBUTOR,
    facts.AKS_RBAC_CLUSTER_ADMIN,
    AKS_RBAC_READER,
)


def constrain_roles(roles: Sequence[str]) -> str:
    """An Azure ABAC condition under which a Role Based Access Control Administrator may add and remove assignments
    of `roles` only: Microsoft's "Constrain roles" example (Microsoft Learn, "Examples to delegate Azure role
    assignment management with conditions"), which needs both halves, since an added assignment is read from the
    request and a removed one from the resource."""
    guids = ", ".join(roles)
    role = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"

    def only_for_roles(action: str, source: str) -> str:
        return (
            f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/{action}'}})) OR "
            f"(@{source}[{role}] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
        )

    return f"{only_for_roles('write', 'Request')} AND {only_for_roles('delete', 'Resource')}"


# --- The repository variables the workflows read (names shared with .github/workflows) ----------------------

TENANT_VARIABLE = "AZURE_TENANT_ID"
SUBSCRIPTION_VARIABLE = "AZURE_SUBSCRIPTION_ID"
DEPLOY_CLIENT_ID_VARIABLE = "AZURE_DEPLOY_CLIENT_ID"
#: The deploy identity's object id: the stacks' `deployerObjectId`, so a preview (run as the preview identity)
#: declares the same Kubernetes grant as the deploy.
DEPLOY_OBJECT_ID_VARIABLE = "AZURE_DEPLOY_OBJECT_ID"
PREVIEW_CLIENT_ID_VARIABLE = "AZURE_PREVIEW_CLIENT_ID"

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_GUID_PATTERN = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_GUID = re.compile(f"^{_GUID_PATTERN}$")
_CLUSTER_ID = re.compile(
    rf"^/subscriptions/{_GUID_PATTERN}/resourceGroups/(?P<group>[^/]+)"
    r"/providers/Microsoft\.ContainerService/managedClusters/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


class BootstrapSettingsError(pulumi.RunError):
    """The bootstrap's config breaks its rules; nothing has been declared (a RunError: no stack trace)."""


@dataclass(frozen=True)
class RoleGrant:
    """A built-in role on one ARM scope."""

    #: What the grant is, e.g. "creates-resources": it names the role assignment (the project's role grants do
    #: the same), so removing a grant never moves another grant's name.
    name: str
    role: str
    scope: str
    #: An Azure ABAC condition narrowing the grant, if any.
    condition: str | None = None


@dataclass(frozen=True)
class CiIdentityArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: Exactly the `sub` claims this identity trusts, one federated credential each.
    subjects: Sequence[str]
    role_grants: Sequence[RoleGrant] = ()


class CiIdentity(pulumi.ComponentResource):
    """A user-assigned identity that GitHub Actions jobs with the given subjects sign in as, and its roles."""

    client_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    tenant_id: pulumi.Output[str]

    def __init__(self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:CiIdentity", name, None, opts)
        if not 1 <= len(args.subjects) <= facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY:
            raise ValueError(
                f"{name}: {len(args.subjects)} subjects; an identity takes 1 to "
                f"{facts.MAX_FEDERATED_CREDENTIALS_PER_IDENTITY} federated credentials"
            )
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=args.resource_group_name,
            location=args.location,
            opts=pulumi.ResourceOptions(parent=self),
        )
        credentials: list[managedidentity.FederatedIdentityCredential] = []
        for subject in args.subjects:
            # Concurrent writes of credentials on one identity fail with HTTP 409 (facts: Workload identity):
            # each waits for the one before.
            credentials.append(
                managedidentity.FederatedIdentityCredential(
                    f"{name}-{_label(subject)}",
                    resource_group_name=args.resource_group_name,
                    resource_name_=identity.name,
                    issuer=GITHUB_ISSUER,
                    subject=subject,
                    audiences=[facts.TOKEN_AUDIENCE],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=credentials[-1:]),
                )
            )
        for grant in args.role_grants:
            assign_role(
                f"{name}-{grant.name}",
                role=grant.role,
                principal_id=identity.principal_id,
                scope=grant.scope,
                parent=self,
                condition=grant.condition,
            )
        self.client_id = identity.client_id
        self.principal_id = identity.principal_id
        self.tenant_id = identity.tenant_id
        self.register_outputs(
            {"client_id": self.client_id, "principal_id": self.principal_id, "tenant_id": self.tenant_id}
        )


def _label(subject: str) -> str:
    """The subject's context (after the repository), fit for a credential's auto-name: `ref-refs-heads-main`."""
    context = subject.split(":", 2)[2]
    return re.sub(r"[^A-Za-z0-9-]", "-", context)[:60]


@dataclass(frozen=True)
class BootstrapSettings:
    repository: str
    subscription_id: str
    #: Owner and repository ids for immutable subjects, or None for name-only subjects.
    ids: tuple[int, int] | None
    #: ARM ids of the clusters (local accounts disabled) whose Kubernetes objects previews may read.
    preview_cluster_ids: tuple[str, ...] = ()

    def subject(self, context: str) -> str:
        return github_subject(self.repository, context, self.ids)


def read_settings(config: pulumi.Config) -> BootstrapSettings:
    """The bootstrap's config, checked before anything is declared; every broken rule is named at once."""
    problems = []
    repository = config.require("githubRepository")
    if not _REPOSITORY.match(repository):
        problems.append(f"githubRepository = {repository!r}: must be owner/name, as in the repository's URL")
    subscription_id = config.require("subscriptionId")
    if not _GUID.match(subscription_id):
        problems.append(f"subscriptionId = {subscription_id!r}: must be a subscription id (a GUID)")
    owner_id = config.get_int("githubOwnerId") or 0
    repository_id = config.get_int("githubRepositoryId") or 0
    if (owner_id > 0) != (repository_id > 0) or owner_id < 0 or repository_id < 0:
        problems.append(
            f"githubOwnerId = {owner_id}, githubRepositoryId = {repository_id}: set both (positive numeric ids, "
            "for immutable subject claims) or neither"
        )
    clusters = config.get_object("previewClusterIds") or []
    if not isinstance(clusters, list):
        problems.append(f"previewClusterIds = {clusters!r}: must be a list of AKS cluster ids")
        clusters = []
    for i, cluster in enumerate(clusters):
        if not isinstance(cluster, str) or not _CLUSTER_ID.match(cluster):
            problems.append(
                f"previewClusterIds[{i}] = {cluster!r}: must be an AKS cluster's ARM id, "
                "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>"
            )
    if problems:
        raise BootstrapSettingsError("; ".join(problems))
    ids = (owner_id, repository_id) if owner_id else None
    return BootstrapSettings(repository, subscription_id, ids, tuple(clusters))


def cluster_label(cluster_id: str) -> str:
    """`<group>-<name>` of a cluster id, lower case: names the cluster's grants by the cluster, not a position."""
    match = _CLUSTER_ID.match(cluster_id)
    assert match, cluster_id
    return f"{match['group']}-{match['name']}".lower()


def declare(settings: BootstrapSettings, location: str) -> dict[str, CiIdentity]:
    """The identities, in a resource group of their own in the target subscription."""
    subscription = azure_native.Provider("subscription", subscription_id=settings.subscription_id, location=location)
    group = resources.ResourceGroup(
        "ci-identities", location=location, opts=pulumi.ResourceOptions(provider=subscription)
    )
    where = {"resource_group_name": group.name, "location": location}
    scope = f"/subscriptions/{settings.subscription_id}"
    on_subscription = pulumi.ResourceOptions(providers={"azure-native": subscription})
    deploy = CiIdentity(
        "deploy",
        CiIdentityArgs(
            **where,
            subjects=[
                settings.subject(ref_context(MAIN_BRANCH)),
                settings.subject(environment_context(PRODUCTION_ENVIRONMENT)),
            ],
            role_grants=[
                RoleGrant("creates-resources", CONTRIBUTOR, scope),
                RoleGrant("assigns-roles", RBAC_ADMINISTRATOR, scope, constrain_roles(ASSIGNABLE_ROLES)),
            ],
        ),
        opts=on_subscription,
    )
    preview = CiIdentity(
        "preview",
        CiIdentityArgs(
            **where,
            subjects=[settings.subject(PULL_REQUEST_CONTEXT)],
            role_grants=[
                RoleGrant("reads-resources", READER, scope),
                *(
                    grant
                    for cluster in settings.preview_cluster_ids
                    for grant in (
                        RoleGrant(f"lists-credentials-{cluster_label(cluster)}", AKS_CLUSTER_USER, cluster),
                        RoleGrant(f"reads-kubernetes-{cluster_label(cluster)}", AKS_RBAC_READER, cluster),
                    )
                ),
            ],
        ),
        opts=on_subscription,
    )
    return {"deploy": deploy, "preview": preview}


def main() -> None:
    settings = read_settings(pulumi.Config())
    identities = declare(settings, pulumi.Config("azure-native").require("location"))
    pulumi.export(
        "repository_variables",
        {
            TENANT_VARIABLE: identities["deploy"].tenant_id,
            SUBSCRIPTION_VARIABLE: settings.subscription_id,
            DEPLOY_CLIENT_ID_VARIABLE: identities["deploy"].client_id,
            DEPLOY_OBJECT_ID_VARIABLE: identities["deploy"].principal_id,
            PREVIEW_CLIENT_ID_VARIABLE: identities["preview"].client_id,
        },
    )
    pulumi.export("deploy_principal_id", identities["deploy"].principal_id)
