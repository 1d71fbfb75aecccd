"""Service accounts and pods: each pod runs as a federated service account, carries the webhook's label, keeps
secrets out of its spec, and names a vault and secret its identity may read."""

from __future__ import annotations

import re

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs

from .common import (
    CLUSTER,
    IDENTITY,
    POD_TEMPLATE_PATHS,
    POD_TEMPLATE_PROPERTY,
    SECRET,
    SERVICE_ACCOUNT,
    VAULT,
    Checks,
    Report,
    Stack,
    config_of,
    containers,
    derived_from,
    external_subjects,
    facts,
    get,
    is_labelled,
    known,
    namespace_of,
    pod_account,
    pod_containers,
    pod_service_account,
    pod_template,
    raw,
    read_roles_of,
    same_id,
    secret_address,
    secrets_readable,
    vault_key,
    vault_uri_name,
)


def service_account_client_id_is_a_federated_identity(args: StackValidationArgs, report: ReportViolation) -> None:
    """The webhook injects the annotated client id; it must be an identity federated with this account."""
    config = config_of(args)
    external_ids = {same_id(i) for i in config.get("externalClientIds") or []}
    stack = Stack(args)
    checks = Checks(args, report)
    federated = stack.federated_identities()
    identities = stack.of(IDENTITY)
    kubelets = {
        same_id(known(c.props, "identityProfile", facts.KUBELET_IDENTITY_KEY, "clientId")) for c in stack.of(CLUSTER)
    }
    for account in stack.of(SERVICE_ACCOUNT):
        with checks.each(account):
            namespace = get(account.props, "metadata", "namespace") or "default"
            name = get(account.props, "metadata", "name")
            annotations = get(account.props, "metadata", "annotations", default={})
            client_id = annotations.get(facts.CLIENT_ID_ANNOTATION)
            if not client_id or same_id(client_id) in external_ids:
                continue
            subject = facts.service_account_subject(namespace, name)
            identity = next((i for i in identities if same_id(known(i.props, "clientId")) == same_id(client_id)), None)
            if identity is None and any(known(i.props, "clientId") is None for i in identities):
                checks.undecided(account, "an identity's client id is not known yet")
                continue
            if identity is None:
                where = (
                    "the cluster's kubelet identity, which has no federated credential"
                    if same_id(client_id) in kubelets
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
            subjects = [get(c.props, "subject") for c in credentials]
            if subject not in subjects:
                checks.report(
                    f"ServiceAccount '{namespace}/{name}' names identity '{identity.name}', which has no federated "
                    f"credential for '{subject}': add one (issuer: the cluster's, audience: {facts.TOKEN_AUDIENCE}) or "
                    "annotate the account with the identity that has it.",
                    account,
                )
            tenant = annotations.get(facts.TENANT_ID_ANNOTATION)
            identity_tenant = get(identity.props, "tenantId")
            if tenant and identity_tenant and same_id(tenant) != same_id(identity_tenant):
                checks.report(
                    f"ServiceAccount '{namespace}/{name}' is annotated {facts.TENANT_ID_ANNOTATION}={tenant}, but "
                    f"identity '{identity.name}' lives in tenant {identity_tenant}: remove the annotation (the "
                    "cluster's tenant is the default) or set it to the identity's tenantId.",
                    account,
                )
    checks.done()


def labelled_pods_run_as_federated_service_accounts(args: StackValidationArgs, report: ReportViolation) -> None:
    """A labelled pod gets its AZURE_CLIENT_ID from its service account's annotation (facts: Workload identity)."""
    external = external_subjects(config_of(args))
    stack = Stack(args)
    checks = Checks(args, report)
    for workload in stack.workloads():
        with checks.each(workload):
            template = pod_template(workload.resource_type, workload.props) or {}
            if not is_labelled(template):
                continue
            namespace = namespace_of(workload.props)
            account_name = pod_service_account(template)
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
            annotations = get(account.props, "metadata", "annotations", default={})
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
    stack = Stack(args)
    checks = Checks(args, report)
    for workload in stack.workloads():
        with checks.each(workload):
            template = pod_template(workload.resource_type, workload.props) or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            if is_labelled(template) or labels.get(facts.WORKLOAD_IDENTITY_USE_LABEL) == "false":
                continue  # labelled, or deliberately opted out
            namespace = namespace_of(workload.props)
            account = stack.service_accounts().get((namespace, pod_service_account(template)))
            if account is None:
                continue
            annotations = get(account.props, "metadata", "annotations", default={})
            if not annotations.get(facts.CLIENT_ID_ANNOTATION):
                continue
            account_labels = get(account.props, "metadata", "labels", default={})
            hint = (
                " The label on the ServiceAccount does nothing since webhook v1.0."
                if facts.WORKLOAD_IDENTITY_USE_LABEL in account_labels
                else ""
            )
            checks.report(
                f"'{workload.name}' runs as service account '{namespace}/{pod_service_account(template)}', which is "
                f"annotated for workload identity, but its pod template lacks the label "
                f'{facts.WORKLOAD_IDENTITY_USE_LABEL}: "true": add it to the pod template\'s metadata.labels (the '
                "webhook mutates only labelled pods; unlabelled ones get no AZURE_* variables and no token)." + hint,
                workload,
            )
    checks.done()


#: The pod's variables that name what it reads (facts: the secret reader's environment).
_VAULT_VARIABLES = (facts.VAULT_URL_ENV, facts.VAULT_NAME_ENV)


def _references(workload: PolicyResource) -> list[tuple[str, str, str | None]]:
    """(container, variable, value or None while unknown) of each literal env variable naming a vault or secret."""
    found = []
    for container in pod_containers(workload):
        for variable in raw(container, "env") or []:
            name = known(variable, "name")
            if name in (*_VAULT_VARIABLES, facts.SECRET_NAME_ENV) and raw(variable, "valueFrom") is None:
                found.append((str(known(container, "name")), str(name), known(variable, "value")))
    return found


def pods_read_what_their_identity_may_read(args: StackValidationArgs, report: ReportViolation) -> None:
    """A pod's KEY_VAULT_URL (or KEY_VAULT_NAME) is a vault, and its SECRET_NAME a secret, that the identity federated
    with its service account holds a read role on; the URL is that vault's vaultUri (facts: Key Vault). A value still
    unknown in a first preview is taken from the vault it was computed from."""
    stack = Stack(args)
    checks = Checks(args, report)
    read_roles = read_roles_of(config_of(args))
    vaults = {vault_key(v): v for v in stack.of(VAULT)}
    declared_secrets = [a for a in map(secret_address, stack.of(SECRET)) if a]
    for workload in stack.workloads():
        with checks.each(workload):
            references = _references(workload)
            if not references:
                continue
            namespace, account = pod_account(workload)
            identities = stack.identities_federated_with(namespace, account)
            if not identities:
                continue  # no federation: the label and federation policies speak for that
            readable = [entry for identity in identities for entry in stack.readable(identity, read_roles)]
            may_read = sorted({entry.vault for entry in readable})
            vault_of_pod: str | None = None
            for container, variable, value in [r for r in references if r[1] in _VAULT_VARIABLES]:
                if value is None:
                    sources = derived_from(workload, POD_TEMPLATE_PROPERTY, vaults.values())
                    if not any(vault_key(v) in may_read for v in sources):
                        checks.undecided(workload, f"{variable} of container '{container}' is not known yet")
                    continue
                vault_of_pod = vault_uri_name(value) if variable == facts.VAULT_URL_ENV else value.lower()
                problem = _vault_problem(variable, value, vault_of_pod, may_read, vaults)
                if problem:
                    checks.report(
                        f"Container '{container}' of '{workload.name}' (service account '{namespace}/{account}') sets "
                        f"{variable}={value}: {problem}.",
                        workload,
                    )
            for container, variable, value in [r for r in references if r[1] == facts.SECRET_NAME_ENV]:
                if value is None:
                    checks.undecided(workload, f"{variable} of container '{container}' is not known yet")
                    continue
                allowed = secrets_readable(readable, vault_of_pod, declared_secrets)
                if "*" not in allowed and value.lower() not in allowed:
                    where = f"vault '{vault_of_pod}'" if vault_of_pod else "its vaults"
                    checks.report(
                        f"Container '{container}' of '{workload.name}' (service account '{namespace}/{account}') sets "
                        f"{variable}={value}, a secret its identity cannot read in {where} (it may read: "
                        f"{', '.join(sorted(allowed)) or 'none'}): name a secret the identity holds Key Vault Secrets "
                        "User on, or grant it (the read answers 403 or 404 otherwise).",
                        workload,
                    )
    checks.done()


def _vault_problem(
    variable: str, value: str, vault: str | None, may_read: list[str], vaults: dict[str, PolicyResource]
) -> str | None:
    if vault is None:
        return "that is no vault URI (https://<vault>.vault.<cloud suffix>/, the vault's vaultUri output)"
    if vault not in may_read:
        return (
            f"vault '{vault}' is not one its identity holds a read role on (it may read: "
            f"{', '.join(may_read) or 'none'}); point it at the vault the identity is granted, or grant it"
        )
    uri = known(vaults[vault].props, "properties", "vaultUri") if vault in vaults else None
    if variable == facts.VAULT_URL_ENV and uri and value.rstrip("/").lower() != str(uri).rstrip("/").lower():
        return f"that is not the vault's vaultUri '{uri}' (use the output, not a URL built by hand)"
    return None


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


def pod_env_has_no_secret_literals(args: ResourceValidationArgs, report: Report) -> None:
    """A literal in the pod spec is readable by anyone who can read the Deployment, and sits in the stack's state."""
    if args.resource_type not in POD_TEMPLATE_PATHS:
        return
    allowed = set(config_of(args).get("allowedNames") or [])
    template = pod_template(args.resource_type, args.props) or {}
    for container in containers(template):
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
            )
