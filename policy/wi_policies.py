"""CrossGuard policies for Azure Workload Identity on AKS: the trust chain and its baseline.

One small validate function per rule, named for the promise it guards; `POLICIES` wraps each in a pulumi-policy
`Policy` with its level and config schema. Nothing here builds the `PolicyPack` (that starts a gRPC server and
blocks; facts: "Checked against sources", CrossGuard), so tests call the functions directly.

Resource validations see a resource's inputs; stack validations see every resource's outputs at the end of a
preview or update. During a preview, outputs of resources not yet created are unknown: a check that needs one is
reported as not applicable, with the reason, and runs again with the real values during `pulumi up`. Stack
checks link resources by value where values are known (a role assignment's `principalId` equals an identity's
`principalId`) and by property dependency where they are not (the assignment's `principalId` came from that
identity), so most of the chain is checked at preview time too.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def _load_facts() -> Any:
    """The project's facts module, read from its file so the pack needs none of the program's packages.

    A copy next to this file wins (to publish the pack on its own:
    `cp components/aks_workload_identity/facts.py policy/`); otherwise the project's own.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "facts.py", here.parent / "components" / "aks_workload_identity" / "facts.py"):
        if candidate.is_file():
            spec = importlib.util.spec_from_file_location("wi_policy_facts", candidate)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ImportError(
        "the policy pack needs the project's facts: copy components/aks_workload_identity/facts.py next to it"
    )


facts = _load_facts()

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

# --- Built-in roles no workload principal may hold (facts: Azure built-in roles). ---------------------------------

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


def _plain(value: Any, path: list[str]) -> Any:
    """`value` as plain dicts and lists; raises UnknownValueError if any part of it is unknown."""
    if isinstance(value, str):
        if value in _UNKNOWNS:
            raise UnknownValueError(value, path)
        return value
    if isinstance(value, Mapping):
        return {k: _plain(value[k], [*path, str(k)]) for k in value}
    if isinstance(value, Sequence):
        return [_plain(v, [*path, str(i)]) for i, v in enumerate(value)]
    return value


def _get(props: Any, *path: str | int, default: Any = None) -> Any:
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
    return _plain(value, walked)


def _config(args: ResourceValidationArgs | StackValidationArgs) -> Mapping[str, Any]:
    return args.get_config() or {}


def _skip_unknown(validate: Callable[[ResourceValidationArgs, ReportViolation], None]) -> Callable:
    """A resource check whose value is unknown during a preview is not applicable, with the reason."""

    @functools.wraps(validate)
    def checked(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        try:
            validate(args, report_violation)
        except UnknownValueError as unknown:
            args.not_applicable(f"{unknown.message}; checked again with the real value during `pulumi up`")

    return checked


class _Checks:
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


class _Stack:
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
            namespace = _get(account.props, "metadata", "namespace") or "default"
            accounts[(namespace, _get(account.props, "metadata", "name"))] = account
        return accounts

    def identity_of(self, credential: PolicyResource) -> PolicyResource | None:
        """The user-assigned identity a federated credential belongs to."""
        identities = self.of(IDENTITY)
        name = _known(credential.props, "resourceName")
        if name is None:
            match = re.search(
                r"/userAssignedIdentities/([^/]+)/federatedIdentityCredentials/", _known(credential.props, "id") or ""
            )
            name = match.group(1) if match else None
        if name is not None:
            for identity in identities:
                if _known(identity.props, "name") == name:
                    return identity
        linked = _derived_from(credential, "resourceName", identities) or [
            d for d in credential.dependencies if d.resource_type == IDENTITY
        ]
        return linked[0] if len(linked) == 1 else None

    def federated_identities(self) -> dict[str, tuple[PolicyResource, list[PolicyResource]]]:
        """Identities that have federated credentials, by URN, each with its credentials."""
        found: dict[str, tuple[PolicyResource, list[PolicyResource]]] = {}
        for credential in self.of(FEDERATED_CREDENTIAL):
            identity = self.identity_of(credential)
            if identity is not None:
                found.setdefault(identity.urn, (identity, []))[1].append(credential)
        return found

    def assignments_to(self, principal: PolicyResource, value_path: tuple[str, ...]) -> list[PolicyResource]:
        """Role assignments whose principal is `principal` (its id at `value_path`).

        Linked by property dependency (the assignment's principalId was computed from `principal`: known during a
        preview) or by equal ids. An id unknown during a preview belongs to a resource not created yet, which no
        known id can name; an assignment whose principal is unknown and comes from nowhere known is undecidable.
        """
        principal_id = _known(principal.props, *value_path)
        found = []
        for assignment in self.of(ROLE_ASSIGNMENT):
            if _derived_from(assignment, "principalId", [principal]):
                found.append(assignment)
                continue
            assigned = _known(assignment.props, "principalId")
            if assigned is None and not assignment.property_dependencies.get("principalId"):
                raise UnknownValueError(UNKNOWN_STRING_VALUE, [assignment.name, "principalId"])
            if assigned is not None and assigned == principal_id:
                found.append(assignment)
        return found


def _known(props: Any, *path: str) -> Any:
    """The value at `path`, or None when it is absent or unknown."""
    try:
        return _get(props, *path)
    except UnknownValueError:
        return None


def _derived_from(resource: PolicyResource, prop: str, candidates: list[PolicyResource]) -> list[PolicyResource]:
    """Those of `candidates` that `resource`'s property `prop` was computed from (the engine's property
    dependencies: known during a preview even when the values are not)."""
    urns = {d.urn for d in resource.property_dependencies.get(prop, [])}
    return [c for c in candidates if c.urn in urns]


def _role_guid(assignment: PolicyResource | ResourceValidationArgs) -> str:
    return str(_get(assignment.props, "roleDefinitionId") or "").rsplit("/", 1)[-1].lower()


def _role_name(guid: str) -> str:
    return ROLE_NAMES.get(guid, f"role {guid}")


def _pod_template(resource_type: str, props: Any) -> Any:
    path = POD_TEMPLATE_PATHS[resource_type]
    return _get(props, *path) if path else _plain(props, [])


def _pod_service_account(template: Mapping[str, Any]) -> str:
    spec = template.get("spec") or {}
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or facts.DEFAULT_SERVICE_ACCOUNT


def _is_labelled(template: Mapping[str, Any]) -> bool:
    return ((template.get("metadata") or {}).get("labels") or {}).get(facts.WORKLOAD_IDENTITY_USE_LABEL) == "true"


def _workload_namespace(props: Any) -> str:
    return _get(props, "metadata", "namespace") or "default"


def _containers(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = template.get("spec") or {}
    return [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]


def _subject_parts(subject: str) -> tuple[str, str] | None:
    prefix = facts.service_account_subject("", "").rstrip(":")  # "system:serviceaccount"
    parts = subject.split(":")
    if len(parts) != 4 or ":".join(parts[:2]) != prefix:
        return None
    namespace, name = parts[2], parts[3]
    if not facts.DNS1123_LABEL_RULE.match(namespace) or not facts.DNS1123_SUBDOMAIN_RULE.match(name):
        return None
    return namespace, name


def _external_subjects(config: Mapping[str, Any]) -> set[str]:
    """`externalServiceAccounts` entries, `<namespace>/<name>` or full subjects, as subjects."""
    subjects = set()
    for entry in config.get("externalServiceAccounts") or []:
        if "/" in entry:
            namespace, name = entry.split("/", 1)
            subjects.add(facts.service_account_subject(namespace, name))
        else:
            subjects.add(entry)
    return subjects


def _is_production(config: Mapping[str, Any]) -> bool:
    """The policy's `production` setting, or else whether the stack's name is one of `productionStacks`."""
    if config.get("production") is not None:
        return bool(config["production"])
    stack = os.environ.get("PULUMI_STACK", "").rsplit("/", 1)[-1]
    return stack in (config.get("productionStacks") or DEFAULT_PRODUCTION_STACKS)


# === Federated credentials =========================================================================================


@_skip_unknown
def federated_credential_audience_is_token_exchange(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The projected token's audience (facts: Workload identity, token audience)."""
    if args.resource_type != FEDERATED_CREDENTIAL:
        return
    audiences = _get(args.props, "audiences", default=[])
    if audiences != [facts.TOKEN_AUDIENCE]:
        report(
            f"Federated credential '{args.name}' has audiences {audiences}: set audiences to exactly "
            f"['{facts.TOKEN_AUDIENCE}'], the audience of the token the workload identity webhook projects "
            "(Entra ID answers AADSTS70021 otherwise).",
            None,
        )


@_skip_unknown
def federated_credential_subject_is_a_service_account(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The token's subject is `system:serviceaccount:<namespace>:<name>` (facts: Workload identity, subject)."""
    if args.resource_type != FEDERATED_CREDENTIAL:
        return
    external = _config(args).get("externalIssuers") or []
    if external and _get(args.props, "issuer") in external:
        return
    subject = _get(args.props, "subject") or ""
    if _subject_parts(subject) is None:
        report(
            f"Federated credential '{args.name}' has subject '{subject}': write it as "
            f"'{facts.service_account_subject('<namespace>', '<service account>')}' with the namespace and name of "
            "the pods' service account (lowercase DNS names, exactly as in the token the cluster issues).",
            None,
        )


def federated_credential_issuer_is_the_cluster_issuer(args: StackValidationArgs, report: ReportViolation) -> None:
    """Entra ID compares the issuer byte for byte, trailing slash included (facts: Workload identity, cluster)."""
    config = _config(args)
    trusted = list(config.get("trustedIssuers") or [])
    external = list(config.get("externalIssuers") or [])
    stack = _Stack(args)
    checks = _Checks(args, report)
    clusters = stack.of(CLUSTER)
    issuers: dict[str, str] = {url: f"trustedIssuers entry '{url}'" for url in trusted}
    undecided_clusters = []
    for cluster in clusters:
        try:
            url = _get(cluster.props, "oidcIssuerProfile", "issuerURL")
        except UnknownValueError:
            undecided_clusters.append(cluster)
            continue
        if url:
            issuers[url] = f"cluster '{cluster.name}'"
    for credential in stack.of(FEDERATED_CREDENTIAL):
        with checks.each(credential):
            issuer = _get(credential.props, "issuer") or ""
            if issuer in issuers or issuer in external:
                continue
            if undecided_clusters:
                checks.undecided(credential, "a cluster's issuer URL is not known yet")
                continue
            if not clusters and not trusted:
                # An existing cluster read with an invoke is no resource of the stack: without trustedIssuers only
                # the issuer's shape can be checked.
                if not (issuer.startswith("https://") and issuer.endswith("/")):
                    checks.report(
                        f"Federated credential '{credential.name}' trusts issuer '{issuer}': an AKS OIDC issuer URL is "
                        "https and ends with '/'; use the cluster's oidcIssuerProfile.issuerURL unchanged.",
                        credential,
                    )
                else:
                    checks.undecided(
                        credential, "no cluster in the stack and no trustedIssuers configured to compare its issuer to"
                    )
                continue
            checks.report(_issuer_mismatch(credential.name, issuer, issuers), credential)
    checks.done()


def _issuer_mismatch(credential: str, issuer: str, issuers: dict[str, str]) -> str:
    for url, source in issuers.items():
        if issuer.rstrip("/") == url.rstrip("/"):
            return (
                f"Federated credential '{credential}' trusts issuer '{issuer}', which differs from {source} ('{url}') "
                "in its trailing slash: Entra ID compares byte for byte (AADSTS700211). Pass the cluster's "
                "oidcIssuerProfile.issuerURL output unchanged."
            )
        if issuer.lower() == url.lower():
            return (
                f"Federated credential '{credential}' trusts issuer '{issuer}', which differs from {source} ('{url}') "
                "in case: Entra ID compares byte for byte (AADSTS700211). Pass the issuer URL unchanged."
            )
    known = ", ".join(f"'{url}'" for url in issuers) or "none"
    return (
        f"Federated credential '{credential}' trusts issuer '{issuer}', which is not the OIDC issuer of any cluster in "
        f"this stack nor in trustedIssuers (known: {known}). Federate with the issuer URL of the cluster the pods run "
        "on; for a cluster this stack does not declare, add its `az aks show --query oidcIssuerProfile.issuerUrl` to "
        "this policy's trustedIssuers."
    )


def federated_credential_subject_is_a_declared_service_account(
    args: StackValidationArgs, report: ReportViolation
) -> None:
    """A subject naming no declared account federates nothing the stack runs (AADSTS70021)."""
    config = _config(args)
    external_issuers = config.get("externalIssuers") or []
    external = _external_subjects(config)
    stack = _Stack(args)
    checks = _Checks(args, report)
    try:
        declared = {facts.service_account_subject(ns, name) for ns, name in stack.service_accounts()}
    except UnknownValueError as unknown:
        args.not_applicable(f"a service account's name is unknown ({unknown.message}); checked during `pulumi up`")
        return
    for credential in stack.of(FEDERATED_CREDENTIAL):
        with checks.each(credential):
            if external_issuers and _get(credential.props, "issuer") in external_issuers:
                continue
            subject = _get(credential.props, "subject") or ""
            if subject in declared or subject in external:
                continue
            checks.report(
                f"Federated credential '{credential.name}' trusts subject '{subject}', which names no ServiceAccount "
                f"this stack declares ({', '.join(sorted(declared)) or 'none'}): set the subject to "
                f"'{facts.service_account_subject('<namespace>', '<name>')}' of the service account the pods run as "
                "(or list a service account another stack declares in this policy's externalServiceAccounts).",
                credential,
            )
    checks.done()


# === Service accounts and pods =====================================================================================


def service_account_client_id_is_a_federated_identity(args: StackValidationArgs, report: ReportViolation) -> None:
    """The webhook injects the annotated client id; it must be an identity federated with this account."""
    config = _config(args)
    external_ids = set(config.get("externalClientIds") or [])
    stack = _Stack(args)
    checks = _Checks(args, report)
    federated = stack.federated_identities()
    identities = stack.of(IDENTITY)
    kubelets = {_known(c.props, "identityProfile", facts.KUBELET_IDENTITY_KEY, "clientId") for c in stack.of(CLUSTER)}
    for account in stack.of(SERVICE_ACCOUNT):
        with checks.each(account):
            namespace = _get(account.props, "metadata", "namespace") or "default"
            name = _get(account.props, "metadata", "name")
            annotations = _get(account.props, "metadata", "annotations", default={})
            client_id = annotations.get(facts.CLIENT_ID_ANNOTATION)
            if not client_id or client_id in external_ids:
                continue
            subject = facts.service_account_subject(namespace, name)
            identity = next((i for i in identities if _known(i.props, "clientId") == client_id), None)
            if identity is None and any(_known(i.props, "clientId") is None for i in identities):
                checks.undecided(account, "an identity's client id is not known yet")
                continue
            if identity is None:
                where = (
                    "the cluster's kubelet identity, which has no federated credential"
                    if client_id in kubelets
                    else "no user-assigned identity this stack declares"
                )
                checks.report(
                    f"ServiceAccount '{namespace}/{name}' is annotated {facts.CLIENT_ID_ANNOTATION}={client_id}, "
                    f"{where}: annotate it with the clientId of the identity federated with '{subject}' (or list an "
                    "identity another stack declares in this policy's externalClientIds).",
                    account,
                )
                continue
            credentials = federated.get(identity.urn, (identity, []))[1]
            subjects = [_get(c.props, "subject") for c in credentials]
            if subject not in subjects:
                checks.report(
                    f"ServiceAccount '{namespace}/{name}' names identity '{identity.name}', which has no federated "
                    f"credential for '{subject}': add one (issuer: the cluster's, audience: {facts.TOKEN_AUDIENCE}) or "
                    "annotate the account with the identity that has it.",
                    account,
                )
            tenant = annotations.get(facts.TENANT_ID_ANNOTATION)
            identity_tenant = _get(identity.props, "tenantId")
            if tenant and identity_tenant and tenant != identity_tenant:
                checks.report(
                    f"ServiceAccount '{namespace}/{name}' is annotated {facts.TENANT_ID_ANNOTATION}={tenant}, but "
                    f"identity '{identity.name}' lives in tenant {identity_tenant}: remove the annotation (the "
                    "cluster's tenant is the default) or set it to the identity's tenantId.",
                    account,
                )
    checks.done()


def labelled_pods_run_as_federated_service_accounts(args: StackValidationArgs, report: ReportViolation) -> None:
    """A labelled pod gets its AZURE_CLIENT_ID from its service account's annotation (facts: Workload identity)."""
    external = _external_subjects(_config(args))
    stack = _Stack(args)
    checks = _Checks(args, report)
    for workload in stack.workloads():
        with checks.each(workload):
            template = _pod_template(workload.resource_type, workload.props) or {}
            if not _is_labelled(template):
                continue
            namespace = _workload_namespace(workload.props)
            account_name = _pod_service_account(template)
            if namespace == facts.UNMUTATED_NAMESPACE:
                checks.report(
                    f"'{workload.name}' is labelled for workload identity in namespace {namespace}, whose pods the "
                    "webhook never mutates: run it in a namespace of its own.",
                    workload,
                )
                continue
            if facts.service_account_subject(namespace, account_name) in external:
                continue
            account = stack.service_accounts().get((namespace, account_name))
            if account is None:
                checks.report(
                    f"'{workload.name}' is labelled for workload identity but runs as service account "
                    f"'{namespace}/{account_name}', which this stack does not declare: set the pod template's "
                    "serviceAccountName to the ServiceAccount federated for it.",
                    workload,
                )
                continue
            annotations = _get(account.props, "metadata", "annotations", default={})
            if not annotations.get(facts.CLIENT_ID_ANNOTATION):
                checks.report(
                    f"'{workload.name}' is labelled for workload identity but its service account "
                    f"'{namespace}/{account_name}' has no {facts.CLIENT_ID_ANNOTATION} annotation: annotate it with "
                    "the clientId of the identity federated with it.",
                    workload,
                )
    checks.done()


def federated_pods_carry_the_use_label(args: StackValidationArgs, report: ReportViolation) -> None:
    """The webhook mutates only pods labelled on the pod itself (facts: Workload identity, webhook v1.0)."""
    stack = _Stack(args)
    checks = _Checks(args, report)
    for workload in stack.workloads():
        with checks.each(workload):
            template = _pod_template(workload.resource_type, workload.props) or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            if _is_labelled(template) or labels.get(facts.WORKLOAD_IDENTITY_USE_LABEL) == "false":
                continue  # labelled, or deliberately opted out
            namespace = _workload_namespace(workload.props)
            account = stack.service_accounts().get((namespace, _pod_service_account(template)))
            if account is None:
                continue
            annotations = _get(account.props, "metadata", "annotations", default={})
            if not annotations.get(facts.CLIENT_ID_ANNOTATION):
                continue
            account_labels = _get(account.props, "metadata", "labels", default={})
            hint = (
                " The label on the ServiceAccount does nothing since webhook v1.0."
                if facts.WORKLOAD_IDENTITY_USE_LABEL in account_labels
                else ""
            )
            checks.report(
                f"'{workload.name}' runs as service account '{namespace}/{_pod_service_account(template)}', which is "
                f"annotated for workload identity, but its pod template lacks the label "
                f'{facts.WORKLOAD_IDENTITY_USE_LABEL}: "true": add it to the pod template\'s metadata.labels (the '
                "webhook mutates only labelled pods; unlabelled ones get no AZURE_* variables and no token)." + hint,
                workload,
            )
    checks.done()


# === Key Vault and roles ===========================================================================================


@_skip_unknown
def key_vault_uses_rbac(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """RBAC permission model, no access policies (facts: Key Vault; Checked against sources, permission model)."""
    if args.resource_type == ACCESS_POLICY:
        report(
            f"Key Vault access policy '{args.name}': vaults use the RBAC permission model; delete it and grant "
            "Key Vault Secrets User with a role assignment instead.",
            None,
        )
        return
    if args.resource_type != VAULT:
        return
    if _get(args.props, "properties", "enableRbacAuthorization") is not True:
        report(
            f"Key Vault '{args.name}' is not on the RBAC permission model: set properties.enableRbacAuthorization to "
            "true explicitly (azure-native 3.x still defaults new vaults to access policies), and grant roles.",
            None,
        )
    policies = _get(args.props, "properties", "accessPolicies", default=[])
    if policies:
        report(
            f"Key Vault '{args.name}' declares {len(policies)} access policies: remove them (an RBAC vault ignores "
            "them; they grant everything the moment the vault leaves RBAC) and use role assignments.",
            None,
        )


def _in_declared_vault(assignment: PolicyResource, vault_ids: list[str], stack: _Stack) -> bool:
    if _derived_from(assignment, "scope", stack.of(VAULT, SECRET)):
        return True
    scope = str(_get(assignment.props, "scope") or "").lower()
    return any(scope == vid or scope.startswith(vid + "/") for vid in vault_ids)


def federated_identity_reads_its_vault(args: StackValidationArgs, report: ReportViolation) -> None:
    """Key Vault Secrets User at vault or secret scope (facts: Key Vault, read-only workload role)."""
    stack = _Stack(args)
    vaults = stack.of(VAULT)
    if not vaults:
        args.not_applicable("the stack declares no Key Vault")
        return
    checks = _Checks(args, report)
    read_roles = {r.lower() for r in (_config(args).get("readRoles") or [facts.KEY_VAULT_SECRETS_USER])}
    vault_ids = [str(v).lower() for v in (_known(vault.props, "id") for vault in vaults) if v]
    for identity, _credentials in stack.federated_identities().values():
        with checks.each(identity):
            grants = stack.assignments_to(identity, ("principalId",))
            if any(_role_guid(a) in read_roles and _in_declared_vault(a, vault_ids, stack) for a in grants):
                continue
            held = ", ".join(f"{_role_name(_role_guid(a))} on '{_get(a.props, 'scope')}'" for a in grants) or "no role"
            checks.report(
                f"Federated identity '{identity.name}' cannot read a secret of this stack's vaults (it holds {held}): "
                f"grant it Key Vault Secrets User ({facts.KEY_VAULT_SECRETS_USER}) scoped to its vault or to its "
                "secrets (Key Vault Reader grants no secret reads; pods get 403 ForbiddenByRbac).",
                identity,
            )
    checks.done()


def _workload_principals(stack: _Stack) -> list[tuple[PolicyResource, tuple[str, ...], str]]:
    """Federated identities and clusters' kubelet identities, each with where its principal id is."""
    principals: list[tuple[PolicyResource, tuple[str, ...], str]] = [
        (identity, ("principalId",), "workload identity") for identity, _ in stack.federated_identities().values()
    ]
    kubelet = ("identityProfile", facts.KUBELET_IDENTITY_KEY, "objectId")
    principals += [(cluster, kubelet, "kubelet identity") for cluster in stack.of(CLUSTER)]
    return principals


def _workload_assignments(stack: _Stack, checks: _Checks) -> Iterator[tuple[PolicyResource, PolicyResource, str]]:
    seen: set[str] = set()
    for principal, path, kind in _workload_principals(stack):
        with checks.each(principal):
            for assignment in stack.assignments_to(principal, path):
                # A cluster's assignments linked only by dependency may be its control plane's: decide by value.
                if principal.resource_type == CLUSTER and _known(principal.props, *path) is None:
                    checks.undecided(assignment, "the kubelet identity's object id is not known yet")
                    continue
                if assignment.urn not in seen:
                    seen.add(assignment.urn)
                    yield assignment, principal, kind


def workload_identity_roles_are_read_only(args: StackValidationArgs, report: ReportViolation) -> None:
    """Never Officer or Administrator for the workload (facts: Key Vault), nor any role that writes or delegates."""
    stack = _Stack(args)
    checks = _Checks(args, report)
    forbidden = FORBIDDEN_WORKLOAD_ROLES | {r.lower() for r in (_config(args).get("forbiddenRoles") or [])}
    for assignment, principal, kind in _workload_assignments(stack, checks):
        with checks.each(assignment):
            guid = _role_guid(assignment)
            if guid in forbidden:
                checks.report(
                    f"Role assignment '{assignment.name}' gives {_role_name(guid)} to the {kind} of "
                    f"'{principal.name}': workload principals get read roles only (Key Vault Secrets User on their "
                    "vault or secrets, AcrPull on the registry); a pod that can write secrets or hand out access is "
                    "one exploit away from owning them.",
                    assignment,
                )
    checks.done()


def workload_role_assignments_name_service_principals(args: StackValidationArgs, report: ReportViolation) -> None:
    """principalType ServicePrincipal for a just-created identity (facts: Key Vault, role assignments)."""
    stack = _Stack(args)
    checks = _Checks(args, report)
    for assignment, principal, kind in _workload_assignments(stack, checks):
        with checks.each(assignment):
            if _get(assignment.props, "principalType") != facts.SERVICE_PRINCIPAL:
                checks.report(
                    f"Role assignment '{assignment.name}' to the {kind} of '{principal.name}' does not set "
                    f"principalType '{facts.SERVICE_PRINCIPAL}': set it, or ARM may answer PrincipalNotFound for a "
                    "just-created identity (and azure-native sends 'User' when none is given).",
                    assignment,
                )
    checks.done()


# === Container registry ============================================================================================


@_skip_unknown
def registry_admin_user_disabled(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Keep adminUserEnabled false (facts: Container registry and image build)."""
    if args.resource_type == REGISTRY and _get(args.props, "adminUserEnabled") is True:
        report(
            f"Registry '{args.name}' has its admin user enabled: set adminUserEnabled to false; the kubelet pulls with "
            "AcrPull through its identity, and an admin password is a shared static credential.",
            None,
        )


@_skip_unknown
def registry_anonymous_pull_disabled(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Only identities with AcrPull pull (the README's production controls)."""
    if args.resource_type == REGISTRY and _get(args.props, "anonymousPullEnabled") is True:
        report(
            f"Registry '{args.name}' allows anonymous pull: set anonymousPullEnabled to false so only identities "
            "with AcrPull pull its images.",
            None,
        )


def registry_pull_is_granted_to_the_kubelet(args: StackValidationArgs, report: ReportViolation) -> None:
    """AcrPull goes to the kubelet identity, not the control plane (facts: Container registry and image build)."""
    stack = _Stack(args)
    registries = stack.of(REGISTRY)
    if not registries:
        args.not_applicable("the stack declares no container registry")
        return
    checks = _Checks(args, report)
    clusters = stack.of(CLUSTER)
    kubelets = {_known(c.props, "identityProfile", facts.KUBELET_IDENTITY_KEY, "objectId") for c in clusters} - {None}
    control_planes = {_known(c.props, "identity", "principalId") for c in clusters} - {None}
    for registry in registries:
        with checks.each(registry):
            registry_id = str(_get(registry.props, "id") or "").lower()
            pulls = [
                a
                for a in stack.of(ROLE_ASSIGNMENT)
                if _role_guid(a) == facts.ACR_PULL
                and (
                    _derived_from(a, "scope", [registry]) or str(_known(a.props, "scope") or "").lower() == registry_id
                )
            ]
            principals = {_get(a.props, "principalId") for a in pulls}
            if clusters and kubelets and not principals & kubelets:
                wrong = " (it goes to the cluster's control-plane identity)" if principals & control_planes else ""
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


# === Images and pods ===============================================================================================

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@_skip_unknown
def images_are_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Image pinned by tag or digest, never latest (facts: Pod security; Container registry and image build)."""
    if args.resource_type not in POD_TEMPLATE_PATHS:
        return
    template = _pod_template(args.resource_type, args.props) or {}
    for container in _containers(template):
        image = str(container.get("image") or "")
        if _DIGEST.search(image):
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        if not tag or tag.lower() == "latest":
            report(
                f"Container '{container.get('name')}' of '{args.name}' runs image '{image}' "
                f"{'tagged latest' if tag else 'without a tag or digest'}: pin it by digest (image@sha256:...) or by a "
                "tag other than latest, so what runs is what was reviewed.",
                None,
            )


_SENSITIVE_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "APIKEY", "ACCESSKEY", "PRIVATEKEY")
_SENSITIVE_TOKENS = frozenset({"KEY", "PWD", "PASS", "CONNECTIONSTRING"})
#: A last word that makes the variable a reference to a secret, not the secret itself (SECRET_NAME, KEY_VAULT_URL).
_REFERENCE_WORDS = frozenset(
    {"NAME", "NAMES", "URL", "URI", "FILE", "PATH", "DIR", "ID", "VERSION", "HOST", "ENDPOINT", "PORT", "TYPE"}
    | {"LENGTH", "TTL", "EXPIRY", "EXPIRATION", "AUDIENCE", "HEADER", "ENABLED", "REF", "KIND", "SCOPE"}
)
_TRIVIAL_VALUE = re.compile(r"^(|true|false|yes|no|on|off|none|null|[0-9.]+)$", re.IGNORECASE)
_CREDENTIAL_VALUES = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a PEM private key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\."), "a JSON Web Token"),
    (re.compile(r"(?i)\b(AccountKey|SharedAccessKey|Password|Pwd)=[^;]+"), "a connection string with a key"),
    (re.compile(r"://[^/\s:@]+:[^/\s@]+@"), "a URL with a password"),
    (re.compile(r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"), "an Entra ID client secret"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"), "a GitHub token"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{20,}"), "a SAS token"),
)


def _sensitive_name(name: str) -> bool:
    words = [w.upper() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", name)]
    if not words or words[-1] in _REFERENCE_WORDS:
        return False
    joined = "".join(words)
    return any(w in joined for w in _SENSITIVE_WORDS) or any(w in _SENSITIVE_TOKENS for w in words)


@_skip_unknown
def pod_env_has_no_secret_literals(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A literal in the pod spec is readable by anyone who can read the Deployment, and sits in the stack's state."""
    if args.resource_type not in POD_TEMPLATE_PATHS:
        return
    allowed = set(_config(args).get("allowedNames") or [])
    template = _pod_template(args.resource_type, args.props) or {}
    for container in _containers(template):
        for variable in container.get("env") or []:
            name, value = str(variable.get("name") or ""), variable.get("value")
            if value is None or name in allowed:
                continue
            value = str(value)
            looks_like = next((what for pattern, what in _CREDENTIAL_VALUES if pattern.search(value)), None)
            if looks_like is None and not (_sensitive_name(name) and not _TRIVIAL_VALUE.match(value)):
                continue
            reason = f"a value that looks like {looks_like}" if looks_like else "a literal value and a secret's name"
            # The value itself is never repeated: policy output is logged.
            report(
                f"Container '{container.get('name')}' of '{args.name}' sets env {name} to {reason}: keep secrets "
                "out of the pod spec; put it in Key Vault and read it with the workload identity, or reference a "
                "Kubernetes Secret with valueFrom.secretKeyRef (or list the name in this policy's allowedNames if it "
                "is no secret).",
                None,
            )


# === Cluster =======================================================================================================


@_skip_unknown
def cluster_oidc_issuer_enabled(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """oidcIssuerProfile.enabled (facts: Workload identity, cluster)."""
    if args.resource_type == CLUSTER and _get(args.props, "oidcIssuerProfile", "enabled") is not True:
        report(
            f"Cluster '{args.name}' has no OIDC issuer: set oidcIssuerProfile.enabled to true; federated credentials "
            "trust the issuer URL it publishes.",
            None,
        )


@_skip_unknown
def cluster_workload_identity_enabled(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """securityProfile.workloadIdentity.enabled (facts: Workload identity, cluster)."""
    if args.resource_type == CLUSTER and _get(args.props, "securityProfile", "workloadIdentity", "enabled") is not True:
        report(
            f"Cluster '{args.name}' has workload identity off: set securityProfile.workloadIdentity.enabled to true, "
            "or no webhook injects the token and AZURE_* variables into labelled pods.",
            None,
        )


@_skip_unknown
def production_cluster_disables_local_accounts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No static admin credential in production (facts: AKS and its kubeconfig)."""
    if args.resource_type != CLUSTER:
        return
    if not _is_production(_config(args)):
        args.not_applicable("not a production stack (set this policy's production, or productionStacks)")
    if _get(args.props, "disableLocalAccounts") is not True:
        report(
            f"Production cluster '{args.name}' keeps local accounts: set disableLocalAccounts to true, so no static "
            "admin credential exists and every sign-in goes through Entra ID.",
            None,
        )


@_skip_unknown
def production_cluster_uses_entra_rbac(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Entra ID sign-in with Azure RBAC in production (facts: AKS and its kubeconfig)."""
    if args.resource_type != CLUSTER:
        return
    if not _is_production(_config(args)):
        args.not_applicable("not a production stack (set this policy's production, or productionStacks)")
    if (
        _get(args.props, "aadProfile", "managed") is not True
        or _get(args.props, "aadProfile", "enableAzureRBAC") is not True
    ):
        report(
            f"Production cluster '{args.name}' does not authorise with Entra ID: set aadProfile.managed and "
            "aadProfile.enableAzureRBAC to true (with adminGroupObjectIDs), so access is an Azure role you can audit "
            "and revoke.",
            None,
        )


# === The policies ==================================================================================================

_STRINGS = {"type": "array", "items": {"type": "string"}}
_EXTERNAL_ISSUERS = {
    "externalIssuers": {
        **_STRINGS,
        "description": "Issuers whose federations are not Kubernetes service accounts (e.g. GitHub Actions'); "
        "their credentials are checked for the audience only.",
    }
}
_EXTERNAL_ACCOUNTS = {
    "externalServiceAccounts": {
        **_STRINGS,
        "description": "Service accounts another stack declares, as <namespace>/<name> or full subjects.",
    }
}
_PRODUCTION = {
    "production": {"type": "boolean", "description": "Whether the stack is production; unset: decided by its name."},
    "productionStacks": {
        **_STRINGS,
        "description": "Stack names taken for production when production is unset (default: prod, production).",
    },
}

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


def _resource(name: str, level: EnforcementLevel, description: str, validate: Callable, **config: Any):
    schema = PolicyConfigSchema(properties=config) if config else None
    return ResourceValidationPolicy(name, description, validate, enforcement_level=level, config_schema=schema)


def _stack(name: str, level: EnforcementLevel, description: str, validate: Callable, **config: Any):
    schema = PolicyConfigSchema(properties=config) if config else None
    return StackValidationPolicy(name, description, validate, enforcement_level=level, config_schema=schema)


POLICIES = [
    _resource(
        "fic-audience-is-token-exchange",
        MANDATORY,
        f"A federated credential's audience is exactly {facts.TOKEN_AUDIENCE}.",
        federated_credential_audience_is_token_exchange,
    ),
    _resource(
        "fic-subject-is-a-service-account",
        MANDATORY,
        "A federated credential's subject is system:serviceaccount:<namespace>:<name>.",
        federated_credential_subject_is_a_service_account,
        **_EXTERNAL_ISSUERS,
    ),
    _stack(
        "fic-issuer-is-the-cluster-issuer",
        MANDATORY,
        "A federated credential's issuer is, byte for byte, a cluster's OIDC issuer in the stack or a trusted one.",
        federated_credential_issuer_is_the_cluster_issuer,
        trustedIssuers={
            **_STRINGS,
            "description": "Issuer URLs of clusters the stack does not declare (e.g. one read with an invoke).",
        },
        **_EXTERNAL_ISSUERS,
    ),
    _stack(
        "fic-subject-is-a-declared-service-account",
        MANDATORY,
        "A federated credential's subject names a ServiceAccount the stack declares.",
        federated_credential_subject_is_a_declared_service_account,
        **_EXTERNAL_ISSUERS,
        **_EXTERNAL_ACCOUNTS,
    ),
    _stack(
        "service-account-client-id-is-a-federated-identity",
        MANDATORY,
        "A ServiceAccount's client-id annotation names a declared identity federated with that account, in its tenant.",
        service_account_client_id_is_a_federated_identity,
        externalClientIds={**_STRINGS, "description": "Client ids of identities another stack declares."},
    ),
    _stack(
        "labelled-pods-run-as-federated-service-accounts",
        MANDATORY,
        "A pod template labelled for workload identity runs as a declared ServiceAccount annotated with a client id.",
        labelled_pods_run_as_federated_service_accounts,
        **_EXTERNAL_ACCOUNTS,
    ),
    _stack(
        "federated-pods-carry-the-use-label",
        MANDATORY,
        f'A pod template running as a federated ServiceAccount carries {facts.WORKLOAD_IDENTITY_USE_LABEL}: "true".',
        federated_pods_carry_the_use_label,
    ),
    _resource(
        "key-vault-uses-rbac",
        MANDATORY,
        "Key Vaults use the RBAC permission model, with no access policies.",
        key_vault_uses_rbac,
    ),
    _stack(
        "federated-identity-reads-its-vault",
        MANDATORY,
        "A federated identity holds Key Vault Secrets User on a vault of the stack, or on its secrets.",
        federated_identity_reads_its_vault,
        readRoles={**_STRINGS, "description": "Role GUIDs that count as reading secrets (default: Secrets User)."},
    ),
    _stack(
        "workload-identity-roles-are-read-only",
        MANDATORY,
        "Workload and kubelet identities hold no role that writes secrets or grants access.",
        workload_identity_roles_are_read_only,
        forbiddenRoles={**_STRINGS, "description": "More role GUIDs no workload principal may hold."},
    ),
    _stack(
        "workload-role-assignments-name-service-principals",
        ADVISORY,
        "Role assignments to workload and kubelet identities set principalType ServicePrincipal.",
        workload_role_assignments_name_service_principals,
    ),
    _resource(
        "registry-admin-user-disabled",
        MANDATORY,
        "Container registries keep their admin user off.",
        registry_admin_user_disabled,
    ),
    _resource(
        "registry-anonymous-pull-disabled",
        MANDATORY,
        "Container registries refuse anonymous pulls.",
        registry_anonymous_pull_disabled,
    ),
    _stack(
        "registry-pull-is-granted-to-the-kubelet",
        ADVISORY,
        "Each registry grants AcrPull to a cluster's kubelet identity (not its control plane).",
        registry_pull_is_granted_to_the_kubelet,
    ),
    _resource(
        "images-are-pinned",
        MANDATORY,
        "Container images are pinned by digest or by a tag other than latest.",
        images_are_pinned,
    ),
    _resource(
        "pod-env-has-no-secret-literals",
        MANDATORY,
        "No container sets a secret as a literal environment value.",
        pod_env_has_no_secret_literals,
        allowedNames={**_STRINGS, "description": "Variable names that look secret but are not."},
    ),
    _resource(
        "cluster-oidc-issuer-enabled",
        MANDATORY,
        "AKS clusters publish an OIDC issuer.",
        cluster_oidc_issuer_enabled,
    ),
    _resource(
        "cluster-workload-identity-enabled",
        MANDATORY,
        "AKS clusters run the workload identity webhook.",
        cluster_workload_identity_enabled,
    ),
    _resource(
        "production-cluster-disables-local-accounts",
        MANDATORY,
        "Production AKS clusters disable local accounts.",
        production_cluster_disables_local_accounts,
        **_PRODUCTION,
    ),
    _resource(
        "production-cluster-uses-entra-rbac",
        MANDATORY,
        "Production AKS clusters authorise with Entra ID and Azure RBAC.",
        production_cluster_uses_entra_rbac,
        **_PRODUCTION,
    ),
]
