"""Secrets as files: each SecretProviderClass of the Azure Key Vault provider signs in as the identity federated with
the pods that mount it, and names a vault (and secrets) that identity may read (facts: Secrets Store CSI driver)."""

from __future__ import annotations

from typing import Any

import yaml
from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from .common import (
    CLUSTER,
    IDENTITY,
    POD_TEMPLATE_PATHS,
    SECRET,
    SECRET_PROVIDER_CLASS,
    VAULT,
    Checks,
    Stack,
    addon_profile,
    config_of,
    derived_from,
    facts,
    get,
    known,
    linked,
    namespace_of,
    pod_account,
    raw,
    read_roles_of,
    same_id,
    secret_address,
    secrets_readable,
    vault_key,
)


def _mounts(workload: PolicyResource) -> list[str]:
    """The SecretProviderClass names a workload's pods mount through the Secrets Store CSI driver."""
    spec = raw(raw(workload.props, *POD_TEMPLATE_PATHS[workload.resource_type]), "spec")
    names = []
    for volume in raw(spec, "volumes") or []:
        if known(volume, "csi", "driver") == facts.SECRETS_STORE_CSI_DRIVER:
            names.append(get(volume, "csi", "volumeAttributes", facts.SECRET_PROVIDER_CLASS_ATTRIBUTE))
    return names


def _object_names(objects: str) -> list[str] | None:
    """The secrets' names (lowercase) in the `objects` parameter: YAML `array:` of YAML strings, each with
    `objectName` and `objectType`; None when the provider could not read it."""
    try:
        items = (yaml.safe_load(objects) or {}).get("array") or []
        parsed = [yaml.safe_load(item) for item in items]
    except (yaml.YAMLError, AttributeError, TypeError):
        return None
    if not all(isinstance(p, dict) and p.get("objectName") for p in parsed):
        return None
    return [str(p["objectName"]).lower() for p in parsed if p.get("objectType") == facts.SPC_OBJECT_TYPE_SECRET]


def secret_provider_classes_use_the_pods_identity(args: StackValidationArgs, report: ReportViolation) -> None:
    """usePodIdentity "false"; clientID the client id of the identity federated with the service account of every
    pod that mounts the class; keyvaultName (and each secret object) something that identity may read; the add-on on
    each declared cluster. Values are compared when known; while the clientID or vault name is unknown, the
    identity or vault the class's spec was computed from stands for it."""
    stack = Stack(args)
    classes = [c for c in stack.of(SECRET_PROVIDER_CLASS) if known(c.props, "spec", "provider") == facts.AZURE_PROVIDER]
    if not classes:
        args.not_applicable("the stack declares no SecretProviderClass of the Azure Key Vault provider")
    checks = Checks(args, report)
    read_roles = read_roles_of(config_of(args))
    identities = stack.of(IDENTITY)
    vaults = stack.of(VAULT)
    declared_secrets = [a for a in map(secret_address, stack.of(SECRET)) if a]
    for cluster in stack.of(CLUSTER):
        with checks.each(cluster):
            if get(addon_profile(cluster.props, facts.SECRETS_PROVIDER_ADDON), "enabled") is not True:
                checks.report(
                    f"Cluster '{cluster.name}' has the {facts.SECRETS_PROVIDER_ADDON} add-on off, but the stack "
                    "declares SecretProviderClasses: enable it, or no driver mounts them and the pods never start.",
                    cluster,
                )
    for spc in classes:
        with checks.each(spc):
            parameters: Any = raw(spc.props, "spec", "parameters") or {}
            name, namespace = get(spc.props, "metadata", "name"), namespace_of(spc.props)
            label = f"SecretProviderClass '{namespace}/{name}'"
            use_pod_identity = get(parameters, facts.SPC_USE_POD_IDENTITY)
            if not facts.pod_identity_off(use_pod_identity):
                checks.report(
                    f"{label} sets {facts.SPC_USE_POD_IDENTITY}={use_pod_identity!r}: set it to the string "
                    '"false" (or leave it out) so the provider signs in with the workload identity (pod identity is '
                    "retired).",
                    spc,
                )
            client_id = known(parameters, facts.SPC_CLIENT_ID)
            signs_in_as = linked(
                spc, same_id(client_id), "spec", identities, lambda i: same_id(known(i.props, "clientId"))
            )
            mounting = [w for w in stack.workloads() if namespace_of(w.props) == namespace and name in _mounts(w)]
            expected: list[PolicyResource] = []
            for workload in mounting:
                _, account = pod_account(workload)
                federated = stack.identities_federated_with(namespace, account)
                expected += federated
                if client_id is None and not signs_in_as:
                    checks.undecided(spc, f"its {facts.SPC_CLIENT_ID} is not known yet")
                elif not {i.urn for i in federated} & {i.urn for i in signs_in_as}:
                    wanted = ", ".join(f"'{i.name}' ({known(i.props, 'clientId')})" for i in federated) or "none"
                    checks.report(
                        f"{label} sets {facts.SPC_CLIENT_ID}={client_id}, but '{workload.name}' mounts it as service "
                        f"account '{namespace}/{account}', whose federated identity is {wanted}: set "
                        f"{facts.SPC_CLIENT_ID} to that identity's clientId, or the provider's token exchange fails "
                        "(AADSTS70021) and the pod never starts.",
                        spc,
                    )
            if not mounting and client_id is not None and not signs_in_as:
                checks.report(
                    f"{label} sets {facts.SPC_CLIENT_ID}={client_id}, the client id of no identity this stack "
                    "declares: set it to the clientId of the identity federated with the pods that mount it.",
                    spc,
                )
            readable = [entry for i in signs_in_as or expected for entry in stack.readable(i, read_roles)]
            may_read = sorted({entry.vault for entry in readable})
            vault = known(parameters, facts.SPC_KEYVAULT_NAME)
            if vault is None:
                if not any(vault_key(v) in may_read for v in derived_from(spc, "spec", vaults)):
                    checks.undecided(spc, f"its {facts.SPC_KEYVAULT_NAME} is not known yet")
                continue
            if str(vault).lower() not in may_read:
                checks.report(
                    f"{label} sets {facts.SPC_KEYVAULT_NAME}={vault}, a vault its identity holds no read role on (it "
                    f"may read: {', '.join(may_read) or 'none'}): name the workload's vault, or grant Key Vault "
                    "Secrets User on it; the mount fails with 403 otherwise.",
                    spc,
                )
                continue
            objects = _object_names(str(get(parameters, facts.SPC_OBJECTS) or ""))
            if objects is None:
                checks.report(
                    f"{label} has {facts.SPC_OBJECTS} the provider cannot read: write `array:` and one YAML string per "
                    "object, each with objectName and objectType.",
                    spc,
                )
                continue
            allowed = secrets_readable(readable, str(vault).lower(), declared_secrets)
            for missing in [o for o in objects if "*" not in allowed and o not in allowed]:
                checks.report(
                    f"{label} mounts secret '{missing}' of vault '{vault}', which its identity cannot read (it may "
                    f"read: {', '.join(sorted(allowed))}): grant Key Vault Secrets User on it, or drop it.",
                    spc,
                )
    checks.done()
