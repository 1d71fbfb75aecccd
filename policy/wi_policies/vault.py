"""Key Vault and the roles on it: the RBAC permission model, a read grant for every federated identity, read-only
roles for workload principals, and a management API version Azure still serves."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs

from .common import (
    ACCESS_POLICY,
    ACR_PUSH,
    CLUSTER,
    CONTRIBUTOR,
    KEY_VAULT_CONTRIBUTOR,
    OWNER,
    RBAC_ADMINISTRATOR,
    ROLE_ASSIGNMENT,
    USER_ACCESS_ADMINISTRATOR,
    VAULT,
    Checks,
    Report,
    Stack,
    config_of,
    facts,
    get,
    known,
    not_applicable,
    read_roles_of,
    role_guid,
    role_name,
    same_id,
    vault_key,
    vault_scope,
)

#: Roles that write, delete or hand out access: never for a workload identity or the kubelet.
FORBIDDEN_WORKLOAD_ROLES = frozenset(
    {
        facts.KEY_VAULT_SECRETS_OFFICER,
        facts.KEY_VAULT_ADMINISTRATOR,
        KEY_VAULT_CONTRIBUTOR,
        OWNER,
        CONTRIBUTOR,
        USER_ACCESS_ADMINISTRATOR,
        RBAC_ADMINISTRATOR,
        ACR_PUSH,
    }
)


def key_vault_uses_rbac(args: ResourceValidationArgs, report: Report) -> None:
    """RBAC permission model, no access policies (facts: Key Vault; Checked against sources, permission model)."""
    if args.resource_type == ACCESS_POLICY:
        report(
            f"Key Vault access policy '{args.name}': vaults use the RBAC permission model; delete it and grant "
            "Key Vault Secrets User with a role assignment instead.",
        )
        return
    if args.resource_type != VAULT:
        return
    if get(args.props, "properties", "enableRbacAuthorization") is not True:
        report(
            f"Key Vault '{args.name}' is not on the RBAC permission model: set properties.enableRbacAuthorization to "
            "true explicitly (azure-native 3.x still defaults new vaults to access policies), and grant roles.",
        )
    policies = get(args.props, "properties", "accessPolicies")
    if policies:
        report(
            f"Key Vault '{args.name}' declares {len(policies)} access policies: remove them (an RBAC vault ignores "
            "them; they grant everything the moment the vault leaves RBAC) and use role assignments.",
        )


def federated_identity_reads_its_vault(args: StackValidationArgs, report: ReportViolation) -> None:
    """Key Vault Secrets User at vault or secret scope (facts: Key Vault, read-only workload role): the assignment's
    principalId is the identity's principalId, and its scope is a vault of the stack or one of its secrets."""
    stack = Stack(args)
    vaults = stack.of(VAULT)
    if not vaults:
        args.not_applicable("the stack declares no Key Vault")
    checks = Checks(args, report)
    read_roles = read_roles_of(config_of(args))
    declared = {vault_key(vault) for vault in vaults}
    for identity, _credentials in stack.federated_identities().values():
        with checks.each(identity):
            if any(entry.vault in declared for entry in stack.readable(identity, read_roles)):
                continue
            grants = stack.assignments_to(identity, ("principalId",))
            held = ", ".join(_held(grant) for grant in grants) or "no role"
            checks.report(
                f"Federated identity '{identity.name}' cannot read a secret of this stack's vaults (it holds {held}): "
                f"grant it Key Vault Secrets User ({facts.KEY_VAULT_SECRETS_USER}) scoped to its vault's id or to its "
                "secrets' ids (Key Vault Reader grants no secret reads; pods get 403 ForbiddenByRbac)."
                + _slips(stack, identity, read_roles),
                identity,
            )
    checks.done()


def _held(assignment: PolicyResource) -> str:
    """A role assignment as a message names it: its role, and its scope once known."""
    scope = known(assignment.props, "scope")
    where = f"on '{scope}'" if scope is not None else "at a scope not known yet"
    return f"{role_name(role_guid(assignment))} {where}"


def _slips(stack: Stack, identity: PolicyResource, read_roles: set[str]) -> str:
    """The classic slips behind a missing grant, named: the identity's clientId given as the principal, or a read
    role at a scope that is neither a vault nor a secret."""
    hints = []
    client_id = known(identity.props, "clientId")
    for assignment in stack.of(ROLE_ASSIGNMENT):
        if client_id is not None and same_id(known(assignment.props, "principalId")) == same_id(client_id):
            hints.append(
                f" Role assignment '{assignment.name}' names the identity's clientId as its principalId: a role "
                "assignment takes the principalId (the service principal's object id)."
            )
    for assignment in stack.assignments_to(identity, ("principalId",)):
        scope = known(assignment.props, "scope")
        if role_guid(assignment) in read_roles and scope is not None and vault_scope(str(scope)) is None:
            hints.append(
                f" Role assignment '{assignment.name}' has scope '{scope}', which is no vault's or secret's ARM id "
                "(pass the vault's id, or the secret's)."
            )
    return "".join(hints)


def _workload_principals(stack: Stack) -> list[tuple[PolicyResource, tuple[str, ...], str]]:
    """Federated identities and clusters' kubelet identities, each with where its principal id is."""
    principals: list[tuple[PolicyResource, tuple[str, ...], str]] = [
        (identity, ("principalId",), "workload identity") for identity, _ in stack.federated_identities().values()
    ]
    kubelet = ("identityProfile", facts.KUBELET_IDENTITY_KEY, "objectId")
    principals += [(cluster, kubelet, "kubelet identity") for cluster in stack.of(CLUSTER)]
    return principals


def _workload_assignments(stack: Stack, checks: Checks) -> Iterator[tuple[PolicyResource, PolicyResource, str]]:
    seen: set[str] = set()
    for principal, path, kind in _workload_principals(stack):
        with checks.each(principal):
            for assignment in stack.assignments_to(principal, path):
                # A cluster's assignments linked only by dependency may be its control plane's: decide by value.
                if principal.resource_type == CLUSTER and known(principal.props, *path) is None:
                    checks.undecided(assignment, "the kubelet identity's object id is not known yet")
                    continue
                if assignment.urn not in seen:
                    seen.add(assignment.urn)
                    yield assignment, principal, kind


def workload_identity_roles_are_read_only(args: StackValidationArgs, report: ReportViolation) -> None:
    """Never Officer or Administrator for the workload (facts: Key Vault), nor any role that writes or delegates."""
    stack = Stack(args)
    checks = Checks(args, report)
    forbidden = FORBIDDEN_WORKLOAD_ROLES | {r.lower() for r in (config_of(args).get("forbiddenRoles") or [])}
    for assignment, principal, kind in _workload_assignments(stack, checks):
        with checks.each(assignment):
            guid = role_guid(assignment)
            if guid in forbidden:
                checks.report(
                    f"Role assignment '{assignment.name}' gives {role_name(guid)} to the {kind} of "
                    f"'{principal.name}': workload principals get read roles only (Key Vault Secrets User on their "
                    "vault or secrets, AcrPull on the registry); a pod that can write secrets or hand out access is "
                    "one exploit away from owning them.",
                    assignment,
                )
    checks.done()


def workload_role_assignments_name_service_principals(args: StackValidationArgs, report: ReportViolation) -> None:
    """principalType ServicePrincipal for a just-created identity (facts: Key Vault, role assignments)."""
    stack = Stack(args)
    checks = Checks(args, report)
    for assignment, principal, kind in _workload_assignments(stack, checks):
        with checks.each(assignment):
            if get(assignment.props, "principalType") != facts.SERVICE_PRINCIPAL:
                checks.report(
                    f"Role assignment '{assignment.name}' to the {kind} of '{principal.name}' does not set "
                    f"principalType '{facts.SERVICE_PRINCIPAL}': set it, or ARM may answer PrincipalNotFound for a "
                    "just-created identity (and azure-native sends 'User' when none is given).",
                    assignment,
                )
    checks.done()


# --- Key Vault control-plane API version (facts: Key Vault control-plane API retirement) ---------------------------


def _api_version(resource: PolicyResource) -> tuple[str, str] | None:
    """(API version, where it was read) of a Key Vault vault or secret; None for any other resource.

    The `azureApiVersion` output once known; before that, the version in the type token, or for the default module
    the provider's default (facts: azure-native API versions).
    """
    match = facts.AZURE_NATIVE_TYPE_TOKEN.match(resource.resource_type)
    if match is None or match["module"] != "keyvault" or match["name"] not in facts.KEY_VAULT_MANAGED_TYPES:
        return None
    output = known(resource.props, "azureApiVersion")
    if output:
        return str(output), "its azureApiVersion output"
    token_version = match["explicit"] or match["package"]
    if token_version:
        return _dated(token_version), f"its type {resource.resource_type}"
    return facts.AZURE_NATIVE_KEYVAULT_API_VERSION, "the default API version of azure-native's keyvault module"


def _dated(token_version: str) -> str:
    """`20260201` -> `2026-02-01`, `20260301preview` -> `2026-03-01-preview` (a token's version is 8 digits and an
    optional suffix)."""
    digits, suffix = token_version[:8], token_version[8:]
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}" + (f"-{suffix}" if suffix else "")


def key_vault_api_version_is_served(args: StackValidationArgs, report: ReportViolation) -> None:
    """Azure stops serving Key Vault management API versions before 2026-02-01 (facts: Key Vault control-plane API
    retirement); an older version will fail every later `pulumi up` and `refresh` of the vault and its secrets."""
    managed = [(resource, found) for resource in args.resources if (found := _api_version(resource)) is not None]
    if not managed:
        not_applicable(args, "the stack manages no Key Vault vault or secret")
    for resource, (version, source) in managed:
        # ISO dates compare as strings; a suffixed version (`2026-02-01-preview`) is no older than its date.
        if version < facts.KEY_VAULT_MIN_API_VERSION:
            report(
                f"'{resource.name}' is managed with Key Vault API version {version} ({source}): Azure stops serving "
                f"management API versions before {facts.KEY_VAULT_MIN_API_VERSION} on "
                f"{facts.KEY_VAULT_OLD_API_RETIREMENT}. Manage it with {facts.KEY_VAULT_MIN_API_VERSION} or later "
                f"(`pulumi package add azure-native keyvault {facts.KEY_VAULT_MIN_API_VERSION}` generates a local "
                "package that does), or a provider release whose default is that new.",
                resource.urn,
            )
