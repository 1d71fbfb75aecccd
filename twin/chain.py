"""One workload's trust chain, link by link: what the program declared on each side, and whether it held.

A link is `held` only when the twin saw it in use by this workload's pod: the webhook mutated the pod, the pod's
NetworkPolicies let its connections through to a read, Entra ID matched a federated credential for the token the
pod presented (`Entra.grants` for the pod's token subject), Key Vault served the pod's secret under a declared
role assignment (`KeyVault.reads` for the identity Entra ID issued the pod's tokens to). Otherwise the declared
values are compared as the services would compare them, to show which link is `broken` (both sides are printed)
and which were simply not reached (`unverified`). Other workloads' evidence, in the same lists, is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aks_workload_identity import facts
from twin import model
from twin.entra import Grant
from twin.keyvault import Read, authorizing_assignment
from twin.model import Declarations, Vault, Workload
from twin.netpol import Endpoint, egress
from twin.webhook import Admission

HELD, BROKEN, UNVERIFIED = "held", "broken", "unverified"
_MARKS = {HELD: "ok", BROKEN: "XX", UNVERIFIED: ".."}


@dataclass(frozen=True)
class Link:
    name: str
    #: "<what>: <value>" for each side of the link.
    left: str
    right: str
    status: str


def trust_chain(
    declarations: Declarations, pod: Workload, admission: Admission, grants: list[Grant], reads: list[Read]
) -> list[Link]:
    """The chain from `pod` (admitted as `admission`) to its secret; `grants` and `reads` may hold any pod's."""
    grants = [g for g in grants if admission.token_subject and g.subject == admission.token_subject]
    account = admission.service_account
    client_id = account.annotations.get(facts.CLIENT_ID_ANNOTATION, "") if account else ""
    identity = next((i for i in declarations.identities if i.client_id == client_id), None)
    credentials = [c for c in declarations.federated_credentials if identity and c.identity_name == identity.name]
    credential = grants[0].credential if grants else next(iter(credentials), None)
    tenant = admission.env.get("AZURE_TENANT_ID", "")
    vault_url, secret_name = pod.vault_url, pod.secret_name
    vault = declarations.vault_at(vault_url)
    issued_to = {g.identity.client_id for g in grants}
    reads = [
        r
        for r in reads
        if r.client_id in issued_to and vault == r.vault and r.secret.name.lower() == secret_name.lower()
    ]
    secret = next(
        (
            s
            for s in declarations.secrets
            if vault and s.vault_name == vault.name and s.name.lower() == secret_name.lower()
        ),
        None,
    )
    resource_id = f"{vault.id}/secrets/{secret_name}" if vault else ""
    assignment = authorizing_assignment(declarations, identity.principal_id, resource_id) if identity else None
    others = [a for a in declarations.role_assignments if identity and a.principal_id == identity.principal_id]
    shown_assignment = assignment or next(iter(others), None)

    def status(observed: bool, declared_match: bool) -> str:
        return HELD if observed else (UNVERIFIED if declared_match else BROKEN)

    entra_ok, vault_ok = bool(grants), bool(reads)
    return [
        Link(
            "pod label -> webhook",
            f"Deployment {pod.deployment} pod template: {facts.WORKLOAD_IDENTITY_USE_LABEL}="
            f"{pod.labels.get(facts.WORKLOAD_IDENTITY_USE_LABEL)!r}",
            f"webhook: {admission.reason}",
            HELD if admission.mutated else BROKEN,
        ),
        network_policy_link(declarations, pod, vault, vault_ok),
        Link(
            "service account -> identity",
            f"ServiceAccount {pod.namespace}/{pod.service_account_name or 'default'}: "
            f"{facts.CLIENT_ID_ANNOTATION}={client_id or '(none)'}",
            f"identity {identity.name}: clientId={identity.client_id}, {len(credentials)} federated credential(s)"
            if identity
            else "no declared identity has that client id",
            status(entra_ok, bool(credentials)),
        ),
        Link(
            "issuer",
            f"cluster {declarations.cluster.name}: issuerURL={declarations.cluster.issuer_url}",
            f"federated credential {credential.name}: issuer={credential.issuer}" if credential else "no credential",
            status(entra_ok, bool(credential) and credential.issuer == declarations.cluster.issuer_url),
        ),
        Link(
            "subject",
            f"pod's service account: token sub={admission.token_subject or '(no token)'}",
            f"federated credential: subject={credential.subject}" if credential else "no credential",
            status(entra_ok, bool(credential) and credential.subject == admission.token_subject),
        ),
        Link(
            "audience",
            f"projected token: aud={admission.token_audience or '(no token)'}",
            f"federated credential: audiences={list(credential.audiences)}" if credential else "no credential",
            status(entra_ok, bool(credential) and admission.token_audience in credential.audiences),
        ),
        Link(
            "tenant",
            f"injected AZURE_TENANT_ID={tenant or '(none)'}",
            f"identity tenantId={identity.tenant_id if identity else '?'}, "
            f"vault tenantId={vault.tenant_id if vault else '?'}",
            status(
                vault_ok,
                bool(identity) and tenant == identity.tenant_id and (vault is None or vault.tenant_id == tenant),
            ),
        ),
        Link(
            "role assignment",
            f"identity principalId={identity.principal_id if identity else '?'}",
            f"role {shown_assignment.role} "
            f"({'reads' if shown_assignment.role in facts.SECRET_READER_ROLES else 'cannot read'} "
            f"secrets) on {shown_assignment.scope.split('/providers/', 1)[-1]}"
            if shown_assignment
            else "no role assignment for it",
            status(vault_ok, assignment is not None or not vault),
        ),
        Link(
            "vault",
            f"Deployment env {facts.VAULT_URL_ENV}={vault_url or '(none)'}",
            f"vault {vault.name}: vaultUri={vault.uri}, {'RBAC' if vault.rbac else 'access policies, not RBAC'}, "
            f"{_vault_access(declarations, vault)}"
            if vault
            else "no declared vault has that URI",
            status(vault_ok, vault is not None and vault.rbac and _reachable_from_cluster(declarations, vault)),
        ),
        Link(
            "secret",
            f"Deployment env {model.SECRET_NAME_ENV}={secret_name or '(none)'}",
            f"secret {secret.name} in vault {secret.vault_name}"
            if secret
            else "declared: " + ", ".join(f"{s.vault_name}/{s.name}" for s in declarations.secrets),
            status(vault_ok, secret is not None or not vault),
        ),
    ]


def _vault_access(declarations: Declarations, vault: Vault) -> str:
    private = model.vault_private_addresses(declarations, vault)
    endpoint = f"private endpoint {', '.join(private)}" if private else "no private endpoint"
    return f"public network access {'enabled' if vault.public_network_access else 'disabled'}, {endpoint}"


def _reachable_from_cluster(declarations: Declarations, vault: Vault) -> bool:
    """A vault without public access answers the cluster only through a private endpoint (`twin.keyvault`)."""
    return vault.public_network_access or bool(model.vault_private_addresses(declarations, vault))


def network_policy_link(declarations: Declarations, pod: Workload, vault: Vault | None, observed: bool) -> Link:
    """What the declared NetworkPolicies let the pod reach: every destination it needs must be allowed and
    IMDS denied; what else they allow is said too. No policy at all is the dev stack's choice, not a break."""
    left = f"pod {pod.namespace}/{pod.name} ({', '.join(f'{k}={v}' for k, v in pod.labels.items()) or 'no labels'})"
    if not declarations.network_policies:
        return Link("network policy", left, "no NetworkPolicy declared: all egress allowed", _observed(observed))

    def verdict(endpoint: Endpoint) -> bool:
        return egress(declarations.network_policies, pod.pod, endpoint).allowed

    needed = {
        "DNS UDP 53 (kube-dns)": model.dns("UDP"),
        "DNS TCP 53 (kube-dns)": model.dns("TCP"),
        # What the pod's resolver uses instead on a node with LocalDNS (facts: AKS LocalDNS).
        **{
            f"DNS {protocol} 53 (LocalDNS {address})": Endpoint(address, protocol, facts.DNS_PORT)
            for address in facts.LOCAL_DNS_ADDRESSES
            for protocol in ("UDP", "TCP")
        },
        "Entra ID 443": _https(declarations, model.ENTRA_HOST),
    }
    if vault is not None:
        endpoint = _https(declarations, urlsplit(vault.uri).hostname or "")
        where = "private endpoint" if model.vault_private_addresses(declarations, vault) else "public"
        needed[f"vault {vault.name} 443 ({where} {endpoint.address})"] = endpoint
    imds = Endpoint(facts.IMDS_ADDRESS, "TCP", model.IMDS_PORT)
    denied_needs = [what for what, endpoint in needed.items() if not verdict(endpoint)]
    imds_allowed = verdict(imds)
    public = verdict(Endpoint(model.OTHER_PUBLIC_ADDRESS, "TCP", model.HTTPS_PORT))
    parts = [
        f"denied, but needed: {', '.join(denied_needs)}" if denied_needs else f"allowed: {', '.join(needed)}",
        f"IMDS {facts.IMDS_ADDRESS}:{model.IMDS_PORT} ALLOWED, must be denied"
        if imds_allowed
        else f"denied: IMDS {facts.IMDS_ADDRESS}:{model.IMDS_PORT}",
        "public 443 allowed (Entra ID has no fixed address range)" if public else "other public 443 denied",
    ]
    isolating = [str(p) for p in declarations.network_policies if p.isolates_egress(pod.pod)]
    left += f": egress isolated by {', '.join(isolating)}" if isolating else ": no policy isolates its egress"
    broken = bool(denied_needs) or imds_allowed
    return Link("network policy", left, "; ".join(parts), BROKEN if broken else _observed(observed))


def _https(declarations: Declarations, host: str) -> Endpoint:
    return Endpoint(model.address_of(declarations, host), "TCP", model.HTTPS_PORT)


def _observed(observed: bool) -> str:
    return HELD if observed else UNVERIFIED


def render(links: list[Link]) -> str:
    lines = ["Trust chain (ok = the twin saw it hold, XX = broken, .. = not reached):"]
    for number, link in enumerate(links, 1):
        lines.append(f"  [{_MARKS[link.status]}] {number}. {link.name}")
        lines.append(f"         {link.left}")
        lines.append(f"      {'==' if link.status == HELD else '<>' if link.status == BROKEN else '..'} {link.right}")
    held = sum(link.status == HELD for link in links)
    lines.append(f"{held} of {len(links)} links held.")
    return "\n".join(lines)


def first_broken(links: list[Link]) -> Link | None:
    return next((link for link in links if link.status == BROKEN), None)
