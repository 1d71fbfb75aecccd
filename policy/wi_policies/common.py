"""What every policy module shares: the project's facts, the type tokens, reading properties that may be unknown
during a preview, and following links between resources.

Links are followed by **value** whenever both ends are known (a role assignment's `principalId` equals an
identity's `principalId`), and by the engine's property dependencies only while a value is unknown (the
assignment's `principalId` came from that identity, during a first preview). A dependency says which resource a
value came from, not which of its properties: it is a fallback, never proof.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, NoReturn
from urllib.parse import urlsplit

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)


def load_facts(pack: Path) -> Any:
    """The project's facts module, read from its file so the pack (the folder `pack`) needs none of the program's
    packages.

    A copy in the pack's folder wins (to publish the pack on its own:
    `cp components/aks_workload_identity/facts.py policy/`); otherwise the project's own.
    """
    for candidate in (pack / "facts.py", pack.parent / "components" / "aks_workload_identity" / "facts.py"):
        if candidate.is_file():
            spec = importlib.util.spec_from_file_location("wi_policy_facts", candidate)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ImportError(
        "the policy pack needs the project's facts: copy components/aks_workload_identity/facts.py next to it"
    )


facts = load_facts(Path(__file__).resolve().parent.parent)

# --- Resource types (Pulumi type tokens) -------------------------------------------------------------------------

CLUSTER = "azure-native:containerservice:ManagedCluster"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
VAULT = "azure-native:keyvault:Vault"
ACCESS_POLICY = "azure-native:keyvault:AccessPolicy"
SECRET = "azure-native:keyvault:Secret"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
REGISTRY = "azure-native:containerregistry:Registry"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
#: A custom resource's Pulumi type is `kubernetes:<apiVersion>:<kind>`.
SECRET_PROVIDER_CLASS = f"kubernetes:{facts.SECRET_PROVIDER_CLASS_API_VERSION}:{facts.SECRET_PROVIDER_CLASS_KIND}"
#: Where each workload kind keeps its pod template (the Pod itself for a bare Pod).
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:Pod": (),
}
#: The top-level property of a workload that holds its pod template: what its property dependencies are keyed by.
POD_TEMPLATE_PROPERTY = "spec"

# --- Built-in roles (facts: Azure built-in roles) ------------------------------------------------------------------

OWNER = facts.OWNER
CONTRIBUTOR = facts.CONTRIBUTOR
USER_ACCESS_ADMINISTRATOR = facts.USER_ACCESS_ADMINISTRATOR
RBAC_ADMINISTRATOR = facts.RBAC_ADMINISTRATOR
KEY_VAULT_CONTRIBUTOR = facts.KEY_VAULT_CONTRIBUTOR
ACR_PUSH = facts.ACR_PUSH

#: Role names, for messages.
ROLE_NAMES = {
    facts.KEY_VAULT_SECRETS_USER: "Key Vault Secrets User",
    facts.KEY_VAULT_SECRETS_OFFICER: "Key Vault Secrets Officer",
    facts.KEY_VAULT_ADMINISTRATOR: "Key Vault Administrator",
    facts.KEY_VAULT_READER: "Key Vault Reader",
    facts.ACR_PULL: "AcrPull",
    OWNER: "Owner",
    CONTRIBUTOR: "Contributor",
    USER_ACCESS_ADMINISTRATOR: "User Access Administrator",
    RBAC_ADMINISTRATOR: "Role Based Access Control Administrator",
    KEY_VAULT_CONTRIBUTOR: "Key Vault Contributor",
    ACR_PUSH: "AcrPush",
}

#: Stack names taken for production when the policy's config does not say `production`.
DEFAULT_PRODUCTION_STACKS = ("prod", "production")

# --- Reading properties that may be unknown during a preview -----------------------------------------------------

_UNKNOWNS = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


def plain(value: Any, path: list[str]) -> Any:
    """`value` as plain dicts and lists; raises UnknownValueError if any part of it is unknown."""
    if isinstance(value, str):
        if value in _UNKNOWNS:
            raise UnknownValueError(value, path)
        return value
    if isinstance(value, Mapping):
        return {k: plain(value[k], [*path, str(k)]) for k in value}
    if isinstance(value, Sequence):
        return [plain(v, [*path, str(i)]) for i, v in enumerate(value)]
    return value


def get(props: Any, *path: str | int, default: Any = None) -> Any:
    """The plain value at `path`, `default` when absent; raises UnknownValueError when it is unknown."""
    value = props
    walked: list[str] = []
    for key in path:
        walked.append(str(key))
        if isinstance(value, Mapping) and isinstance(key, str):
            if key not in value:
                return default
            value = value[key]
        elif isinstance(value, Sequence) and not isinstance(value, str) and isinstance(key, int):
            if key >= len(value):
                return default
            value = value[key]
        else:
            return default
        if value is None:
            return default
    return plain(value, walked)


def known(props: Any, *path: str) -> Any:
    """The value at `path`, or None when it is absent or unknown."""
    try:
        return get(props, *path)
    except UnknownValueError:
        return None


def addon_profile(props: Any, key: str) -> Any:
    """The cluster's add-on profile `key` as the engine gave it, None when absent. AKS reports add-on profile keys in
    either case (`azureKeyvaultSecretsProvider` or `azurekeyvaultsecretsprovider`), so keys are compared case-folded
    (facts: SECRETS_PROVIDER_CLI_ADDON). Raises UnknownValueError while the profiles are unknown."""
    profiles = raw(props, "addonProfiles")
    if not isinstance(profiles, Mapping):
        return None
    wanted = key.casefold()
    return next((raw(profiles, name) for name in profiles if str(name).casefold() == wanted), None)


def same_id(value: Any) -> str | None:
    """A client, tenant or object id (a GUID) as compared: case-folded, since Entra ID accepts any case; None for
    None (unknown or absent)."""
    return None if value is None else str(value).casefold()


def config_of(args: ResourceValidationArgs | StackValidationArgs) -> Mapping[str, Any]:
    return args.get_config() or {}


def not_applicable(args: ResourceValidationArgs | StackValidationArgs, reason: str) -> NoReturn:
    """`args.not_applicable(reason)`, typed as what it does: it raises, but pulumi-policy 1.21 annotates it `-> None`,
    so a type checker would take the code after it as reachable."""
    args.not_applicable(reason)
    raise AssertionError("pulumi-policy's not_applicable returned instead of raising")


#: How a resource check reports a violation: by its message alone, since it is always on the resource checked.
Report = Callable[[str], None]


def skip_unknown(validate: Callable[[ResourceValidationArgs, Report], None]) -> Callable:
    """A resource check, as the engine calls it: its violations on the resource checked, and when it meets a value
    unknown during a preview, not applicable with the reason."""

    @functools.wraps(validate)
    def checked(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        try:
            validate(args, lambda message: report_violation(message, None))
        except UnknownValueError as unknown:
            args.not_applicable(f"{unknown.message}; checked again with the real value during `pulumi up`")

    return checked


class Checks:
    """Counts a stack check's violations and collects the items it could not decide during a preview."""

    def __init__(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        self.args = args
        self._report = report_violation
        self.violations = 0
        self.unchecked: list[str] = []

    def report(self, message: str, resource: PolicyResource | None = None) -> None:
        self.violations += 1
        self._report(message, resource.urn if resource is not None else None)

    @contextmanager
    def each(self, resource: PolicyResource) -> Iterator[None]:
        try:
            yield
        except UnknownValueError as unknown:
            self.unchecked.append(f"{resource.name}: {unknown.message}")

    def undecided(self, resource: PolicyResource, reason: str) -> None:
        self.unchecked.append(f"{resource.name}: {reason}")

    def done(self) -> None:
        if self.unchecked and not self.violations:
            self.args.not_applicable(
                "not decided until the values are known (checked again during `pulumi up`): "
                + "; ".join(self.unchecked)
            )


# --- Links between resources: by value first, by dependency while a value is unknown ------------------------------


def derived_from(resource: PolicyResource, prop: str, candidates: Iterable[PolicyResource]) -> list[PolicyResource]:
    """Those of `candidates` that `resource`'s top-level property `prop` was computed from (the engine's property
    dependencies: known during a preview even when the values are not)."""
    urns = {d.urn for d in resource.property_dependencies.get(prop, [])}
    return [c for c in candidates if c.urn in urns]


def linked(
    resource: PolicyResource,
    value: Any,
    prop: str,
    candidates: Iterable[PolicyResource],
    value_of: Callable[[PolicyResource], Any],
) -> list[PolicyResource]:
    """The candidates that `value` (read from `resource`'s property `prop`, None while unknown) refers to.

    Both known: equal values, and nothing else, whatever the dependencies say. Either unknown: the candidates `prop`
    was computed from, the only evidence a first preview has. `value_of` gives a candidate's value, None while
    unknown.
    """
    found = []
    for candidate in candidates:
        theirs = value_of(candidate)
        if value is not None and theirs is not None:
            if value == theirs:
                found.append(candidate)
        elif derived_from(resource, prop, [candidate]):
            found.append(candidate)
    return found


# --- Azure resource ids and names -----------------------------------------------------------------------------------

#: `.../providers/Microsoft.KeyVault/vaults/<vault>[/secrets/<secret>]`, the two scopes a secret reader's role may
#: have (facts: Key Vault, a vault per application; secret-scope assignments).
_VAULT_SCOPE = re.compile(r"/providers/Microsoft\.KeyVault/vaults/([^/]+)(?:/secrets/([^/]+))?$", re.IGNORECASE)
_REGISTRY_SCOPE = re.compile(r"/providers/Microsoft\.ContainerRegistry/registries/([^/]+)$", re.IGNORECASE)


def vault_scope(scope: str) -> tuple[str, str | None] | None:
    """(vault, secret or None) that an ARM scope names, lowercase (Key Vault ignores case in names); None for any
    other scope."""
    match = _VAULT_SCOPE.search(scope)
    if match is None:
        return None
    return match.group(1).lower(), match.group(2).lower() if match.group(2) else None


def registry_scope(scope: str) -> str | None:
    """The registry an ARM scope names, lowercase (its login server's first label); None for any other scope."""
    match = _REGISTRY_SCOPE.search(scope)
    return match.group(1).lower() if match else None


def vault_name(vault: PolicyResource) -> str | None:
    """A vault's name, lowercase: the `name` output, else the `vaultName` input; None while unknown."""
    name = known(vault.props, "name") or known(vault.props, "vaultName")
    return str(name).lower() if name else None


def vault_key(vault: PolicyResource) -> str:
    """A vault's name, lowercase, or while that is unknown its URN: what `Readable.vault` holds."""
    return vault_name(vault) or vault.urn


class Readable(NamedTuple):
    """A vault, or one secret in it, that a read-role assignment lets its principal read."""

    assignment: PolicyResource
    #: The vault's name, lowercase (its URN while the name is unknown).
    vault: str
    #: The secret's name, lowercase; None for the whole vault.
    secret: str | None


def secret_address(secret: PolicyResource) -> tuple[str, str] | None:
    """(vault, secret) of a Key Vault secret, lowercase: from its id, else from its `vaultName` and name; None while
    unknown."""
    found = vault_scope(str(known(secret.props, "id")))
    if found is not None and found[1] is not None:
        return found[0], found[1]
    vault = known(secret.props, "vaultName")
    name = known(secret.props, "secretName") or known(secret.props, "name")
    return (str(vault).lower(), str(name).lower()) if vault and name else None


def vault_uri_name(uri: str) -> str | None:
    """The vault a data-plane URI (`https://<vault>.vault.<cloud suffix>/`, the vault's `vaultUri`) names, lowercase;
    None when it is no bare vault URI (an ARM id, a secret's URI, plain http)."""
    parts = urlsplit(uri)
    if parts.scheme != "https" or parts.path not in ("", "/") or parts.query or not parts.hostname:
        return None
    label, _, suffix = parts.hostname.partition(".")
    return label.lower() if suffix.startswith("vault.") else None


def secrets_readable(readable: list[Readable], vault: str | None, declared: list[tuple[str, str]]) -> set[str]:
    """The secret names (lowercase) the grants allow in `vault` (or in any granted vault when the pod names none):
    a vault-scope grant allows the secrets the stack declares there, or any ("*") when it declares none there."""
    allowed: set[str] = set()
    for entry in readable:
        if vault is not None and entry.vault != vault:
            continue
        if entry.secret is not None:
            allowed.add(entry.secret)
            continue
        in_vault = {secret for secret_vault, secret in declared if secret_vault == entry.vault}
        allowed |= in_vault or {"*"}
    return allowed


def role_guid(assignment: PolicyResource | ResourceValidationArgs) -> str:
    return str(get(assignment.props, "roleDefinitionId") or "").rpartition("/")[2].lower()


def role_name(guid: str) -> str:
    return ROLE_NAMES.get(guid, f"role {guid}")


# --- Pods ------------------------------------------------------------------------------------------------------------


def pod_template(resource_type: str, props: Any) -> Any:
    return get(props, *POD_TEMPLATE_PATHS[resource_type])


def pod_account(workload: PolicyResource) -> tuple[str, str]:
    """(namespace, service account) the workload's pods run as; raises UnknownValueError while either is unknown."""
    spec = raw(raw(workload.props, *POD_TEMPLATE_PATHS[workload.resource_type]), "spec")
    template = {"spec": {k: get(spec, k) for k in ("serviceAccountName", "serviceAccount")}}
    return namespace_of(workload.props), pod_service_account(template)


def pod_service_account(template: Mapping[str, Any]) -> str:
    spec = template.get("spec") or {}
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or facts.DEFAULT_SERVICE_ACCOUNT


def is_labelled(template: Mapping[str, Any]) -> bool:
    return ((template.get("metadata") or {}).get("labels") or {}).get(facts.WORKLOAD_IDENTITY_USE_LABEL) == "true"


def namespace_of(props: Any) -> str:
    return get(props, "metadata", "namespace") or "default"


def containers(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = template.get("spec") or {}
    return [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]


def raw(props: Any, *path: str) -> Any:
    """The value at `path` as the engine gave it (its unknown parts unread), None when absent; raises
    UnknownValueError when it, or a property on the way, is unknown. For walking a pod template part by part."""
    value = props
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def pod_containers(workload: PolicyResource) -> list[Any]:
    """A workload's init, app and ephemeral containers, each as the engine gave it, so that one container's unknown
    image leaves the others readable."""
    spec = raw(raw(workload.props, *POD_TEMPLATE_PATHS[workload.resource_type]), "spec")
    return [c for kind in ("initContainers", "containers", "ephemeralContainers") for c in raw(spec, kind) or []]


def acr_registry_of(image: str) -> str | None:
    """The Azure Container Registry an image reference names (its login server's first label, lowercase); None for
    an image from any other registry (facts: registry login servers)."""
    host, slash, _ = image.lower().partition("/")
    return host.partition(".")[0] if slash and host.endswith(facts.ACR_LOGIN_SUFFIXES) else None


def subject_parts(subject: str) -> tuple[str, str] | None:
    parts = subject.split(":")
    if len(parts) != 4:
        return None
    namespace, name = parts[2], parts[3]
    if subject != facts.service_account_subject(namespace, name):
        return None
    if not facts.DNS1123_LABEL_RULE.match(namespace) or not facts.DNS1123_SUBDOMAIN_RULE.match(name):
        return None
    return namespace, name


def external_subjects(config: Mapping[str, Any]) -> set[str]:
    """`externalServiceAccounts` entries, `<namespace>/<name>` or full subjects, as subjects."""
    subjects = set()
    for entry in config.get("externalServiceAccounts") or []:
        if "/" in entry:
            namespace, name = entry.split("/", 1)
            subjects.add(facts.service_account_subject(namespace, name))
        else:
            subjects.add(entry)
    return subjects


def is_production(config: Mapping[str, Any]) -> bool:
    """The policy's `production` setting, or else whether the stack's name is one of `productionStacks` (none is,
    outside a Pulumi run: no PULUMI_STACK)."""
    if config.get("production") is not None:
        return bool(config["production"])
    stack = os.environ.get("PULUMI_STACK")
    return stack is not None and stack.rpartition("/")[2] in (
        config.get("productionStacks") or DEFAULT_PRODUCTION_STACKS
    )


# --- The stack ---------------------------------------------------------------------------------------------------


class Stack:
    """The stack's resources by type, and the links between them."""

    def __init__(self, args: StackValidationArgs) -> None:
        self.resources = list(args.resources)

    def of(self, *types: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in types]

    def workloads(self) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in POD_TEMPLATE_PATHS]

    def service_accounts(self) -> dict[tuple[str, str], PolicyResource]:
        """Declared service accounts by (namespace, name); raises UnknownValueError if a name is unknown."""
        accounts = {}
        for account in self.of(SERVICE_ACCOUNT):
            accounts[(namespace_of(account.props), get(account.props, "metadata", "name"))] = account
        return accounts

    def identity_of(self, credential: PolicyResource) -> PolicyResource | None:
        """The user-assigned identity a federated credential belongs to: the one its `resourceName` names (or its
        id, once created), or while that is unknown, the one it was computed from."""
        name = known(credential.props, "resourceName")
        if name is None:
            match = re.search(
                r"/userAssignedIdentities/([^/]+)/federatedIdentityCredentials/", str(known(credential.props, "id"))
            )
            name = match.group(1) if match else None
        found = linked(
            credential,
            name,
            "resourceName",
            self.of(IDENTITY),
            lambda identity: known(identity.props, "name") or known(identity.props, "resourceName"),
        )
        return found[0] if len(found) == 1 else None

    def federated_identities(self) -> dict[str, tuple[PolicyResource, list[PolicyResource]]]:
        """Identities that have federated credentials, by URN, each with its credentials."""
        found: dict[str, tuple[PolicyResource, list[PolicyResource]]] = {}
        for credential in self.of(FEDERATED_CREDENTIAL):
            identity = self.identity_of(credential)
            if identity is not None:
                found.setdefault(identity.urn, (identity, []))[1].append(credential)
        return found

    def identities_federated_with(self, namespace: str, account: str) -> list[PolicyResource]:
        """The identities with a federated credential for this service account (by the credential's subject);
        raises UnknownValueError while a subject is unknown."""
        subject = facts.service_account_subject(namespace, account)
        return [
            identity
            for identity, credentials in self.federated_identities().values()
            if any(get(c.props, "subject") == subject for c in credentials)
        ]

    def assignments_to(self, principal: PolicyResource, value_path: tuple[str, ...]) -> list[PolicyResource]:
        """Role assignments whose `principalId` is `principal`'s id at `value_path`: equal ids when both are known;
        while one is unknown, the assignments whose principalId was computed from `principal`. An assignment whose
        principal is unknown and comes from no resource of the stack is undecidable (UnknownValueError)."""
        principal_id = known(principal.props, *value_path)
        found = []
        for assignment in self.of(ROLE_ASSIGNMENT):
            assigned = known(assignment.props, "principalId")
            if assigned is None and not assignment.property_dependencies.get("principalId"):
                raise UnknownValueError(UNKNOWN_STRING_VALUE, [assignment.name, "principalId"])
            if linked(assignment, assigned, "principalId", [principal], lambda _: principal_id):
                found.append(assignment)
        return found

    def readable(self, identity: PolicyResource, read_roles: set[str]) -> list[Readable]:
        """What `identity` may read: one entry per read-role grant at a vault or secret scope. A scope is read by
        value; while it is unknown, the vault or secret it was computed from stands for it. Raises UnknownValueError
        for a grant whose scope is unknown and comes from neither."""
        vaults, secrets = self.of(VAULT), self.of(SECRET)
        found: list[Readable] = []
        for assignment in self.assignments_to(identity, ("principalId",)):
            if role_guid(assignment) not in read_roles:
                continue
            scope = known(assignment.props, "scope")
            if scope is not None:
                address = vault_scope(str(scope))
                if address is not None:
                    found.append(Readable(assignment, *address))
                continue
            sources = [Readable(assignment, vault_key(v), None) for v in derived_from(assignment, "scope", vaults)]
            for secret in derived_from(assignment, "scope", secrets):
                address = secret_address(secret)
                if address is None:
                    parents = derived_from(secret, "vaultName", vaults)
                    address = (vault_key(parents[0]) if len(parents) == 1 else secret.urn, secret.urn)
                sources.append(Readable(assignment, *address))
            if not sources:
                raise UnknownValueError(UNKNOWN_STRING_VALUE, [assignment.name, "scope"])
            found += sources
        return found


# --- Building the policies -------------------------------------------------------------------------------------------

STRINGS = {"type": "array", "items": {"type": "string"}}
EXTERNAL_ISSUERS = {
    "externalIssuers": {
        **STRINGS,
        "description": "Issuers whose federations are not Kubernetes service accounts (e.g. GitHub Actions'); "
        "their credentials are checked for the audience only.",
    }
}
EXTERNAL_ACCOUNTS = {
    "externalServiceAccounts": {
        **STRINGS,
        "description": "Service accounts another stack declares, as <namespace>/<name> or full subjects.",
    }
}
PRODUCTION = {
    "production": {"type": "boolean", "description": "Whether the stack is production; unset: decided by its name."},
    "productionStacks": {
        **STRINGS,
        "description": "Stack names taken for production when production is unset (default: prod, production).",
    },
}
READ_ROLES = {
    "readRoles": {**STRINGS, "description": "Role GUIDs that count as reading secrets (default: Secrets User)."}
}

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


def read_roles_of(config: Mapping[str, Any]) -> set[str]:
    return {r.lower() for r in (config.get("readRoles") or [facts.KEY_VAULT_SECRETS_USER])}


def resource_policy(name: str, level: EnforcementLevel, description: str, validate: Callable, **config: Any):
    """A resource policy whose check, when it meets a value unknown during a preview, is not applicable."""
    schema = PolicyConfigSchema(properties=config) if config else None
    return ResourceValidationPolicy(
        name, description, skip_unknown(validate), enforcement_level=level, config_schema=schema
    )


def stack_policy(name: str, level: EnforcementLevel, description: str, validate: Callable, **config: Any):
    schema = PolicyConfigSchema(properties=config) if config else None
    return StackValidationPolicy(name, description, validate, enforcement_level=level, config_schema=schema)
