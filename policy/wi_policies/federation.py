"""Federated credentials: the audience, subject and issuer Entra ID compares a projected token with."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .common import (
    CLUSTER,
    FEDERATED_CREDENTIAL,
    Checks,
    Report,
    Stack,
    config_of,
    external_subjects,
    facts,
    get,
    not_applicable,
    subject_parts,
)


def federated_credential_audience_is_token_exchange(args: ResourceValidationArgs, report: Report) -> None:
    """The projected token's audience (facts: Workload identity, token audience)."""
    if args.resource_type != FEDERATED_CREDENTIAL:
        return
    audiences = get(args.props, "audiences", default=[])
    if audiences != [facts.TOKEN_AUDIENCE]:
        report(
            f"Federated credential '{args.name}' has audiences {audiences}: set audiences to exactly "
            f"['{facts.TOKEN_AUDIENCE}'], the audience of the token the workload identity webhook projects "
            "(Entra ID answers AADSTS70021 otherwise).",
        )


def federated_credential_subject_is_a_service_account(args: ResourceValidationArgs, report: Report) -> None:
    """The token's subject is `system:serviceaccount:<namespace>:<name>` (facts: Workload identity, subject)."""
    if args.resource_type != FEDERATED_CREDENTIAL:
        return
    external = config_of(args).get("externalIssuers") or []
    if external and get(args.props, "issuer") in external:
        return
    subject = get(args.props, "subject") or ""
    if subject_parts(subject) is None:
        report(
            f"Federated credential '{args.name}' has subject '{subject}': write it as "
            f"'{facts.service_account_subject('<namespace>', '<service account>')}' with the namespace and name of "
            "the pods' service account (lowercase DNS names, exactly as in the token the cluster issues).",
        )


def federated_credential_issuer_is_the_cluster_issuer(args: StackValidationArgs, report: ReportViolation) -> None:
    """Entra ID compares the issuer byte for byte, trailing slash included (facts: Workload identity, cluster)."""
    config = config_of(args)
    trusted = list(config.get("trustedIssuers") or [])
    external = list(config.get("externalIssuers") or [])
    stack = Stack(args)
    checks = Checks(args, report)
    clusters = stack.of(CLUSTER)
    issuers: dict[str, str] = {url: f"trustedIssuers entry '{url}'" for url in trusted}
    undecided_clusters: list[str] = []
    for cluster in clusters:
        try:
            url = get(cluster.props, "oidcIssuerProfile", "issuerURL")
        except UnknownValueError:
            undecided_clusters.append(f"'{cluster.name}'")
            continue
        if url:
            issuers[url] = f"cluster '{cluster.name}'"
    for credential in stack.of(FEDERATED_CREDENTIAL):
        with checks.each(credential):
            issuer = get(credential.props, "issuer") or ""
            if issuer in issuers or issuer in external:
                continue
            if undecided_clusters:
                checks.undecided(
                    credential, f"the issuer URL of cluster {', '.join(undecided_clusters)} is not known yet"
                )
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
    config = config_of(args)
    external_issuers = config.get("externalIssuers") or []
    external = external_subjects(config)
    stack = Stack(args)
    checks = Checks(args, report)
    try:
        declared = {facts.service_account_subject(ns, name) for ns, name in stack.service_accounts()}
    except UnknownValueError as unknown:
        not_applicable(args, f"a service account's name is unknown ({unknown.message}); checked during `pulumi up`")
    for credential in stack.of(FEDERATED_CREDENTIAL):
        with checks.each(credential):
            if external_issuers and get(credential.props, "issuer") in external_issuers:
                continue
            subject = get(credential.props, "subject") or ""
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
