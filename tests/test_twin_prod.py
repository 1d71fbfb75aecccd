"""The prod stack through the twin: three workloads, each reading its own vault through its own NetworkPolicies and
private endpoint, isolated from each other; each egress rule is needed; and a vault without public network access
answers only through its private endpoint."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

import twin.__main__ as cli
from aks_workload_identity import facts
from twin.chain import first_broken, trust_chain
from twin.declared import from_program
from twin.entra import HOST as ENTRA_HOST
from twin.keyvault import PUBLIC_ACCESS_DISABLED
from twin.mocks import Program
from twin.model import PUBLIC_ADDRESS, Declarations, Workload, vault_private_addresses
from twin.netpol import EgressRule, IPBlock
from twin.run import Twin
from twin.webhook import admit

WORKLOADS = ("reader", "orders", "billing")


@pytest.fixture(scope="module")
def declared(prod: Program) -> Declarations:
    """The prod stack's declarations (the program run once per session: conftest's `prod`)."""
    return from_program(prod)


@pytest.fixture(scope="module")
def twin() -> Iterator[Twin]:
    with Twin() as twin:
        yield twin


def test_prod_stack_every_workload_reads_its_own_vault_and_none_reaches_another(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--stack", "prod", "--reads", "1", "--poll-interval", "0.05", "--timeout", "20"]) == 0
    out = capsys.readouterr().out
    for name in WORKLOADS:
        chain = out.split(f"Workload {name}:\n", 1)[1].split("links held.", 1)[0]
        assert "[ok] 2. network policy" in chain and "denied: IMDS 169.254.169.254:80" in chain
        assert re.search(rf"vault {name}-\S+ 443 \(private endpoint 10\.240\.8\.\d\)", chain), chain
        assert f"== federated credential {name}-" in chain  # the grant Entra ID gave this pod, not another's
        # Ten links of the SDK's chain, and seven of the CSI driver's for billing (delivery: both).
        assert ("17 of 17" if name == "billing" else "10 of 10") in chain.rsplit("\n", 1)[-1]
    pairs = [line.split()[:4] for line in out.splitlines() if re.match(r"^  \w+ -> \w+ ", line)]
    assert sorted(pairs) == sorted([a, "->", b, "held"] for a in WORKLOADS for b in WORKLOADS if a != b)
    assert out.count("403 Forbidden/ForbiddenByRbac; identity ") == 6
    assert "12 of 12 refusals held over 6 ordered pairs." in out
    assert "Every workload's app (3) read its own secret 1 times through the whole chain, each isolated" in out


def test_each_prod_vault_is_private_and_reached_at_its_own_endpoint(declared: Declarations) -> None:
    addresses = {v.name: vault_private_addresses(declared, v) for v in declared.vaults}
    assert len(addresses) == 3 and all(len(a) == 1 and a[0].startswith("10.240.8.") for a in addresses.values())
    assert len({a for (a,) in addresses.values()}) == 3
    assert not any(v.public_network_access for v in declared.vaults)


# --- public network access disabled -------------------------------------------------------------------------------


def _access_token(twin: Twin, declarations: Declarations, workload: Workload) -> str:
    """An access token for the workload's identity, as its pod gets one (its own projected token)."""
    admission = admit(declarations, workload, "token")
    response = twin.client.post(
        f"https://{ENTRA_HOST}/{admission.env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": admission.env["AZURE_CLIENT_ID"],
            "scope": f"{facts.KEY_VAULT_RESOURCE}/.default",
            "client_assertion_type": facts.JWT_BEARER_ASSERTION,
            "client_assertion": twin.issuer.mint(admission.token_subject),
        },
        timeout=5,
    )
    return response.json()["access_token"]


def test_private_vault_refuses_a_caller_outside_its_network_and_serves_the_pod(
    twin: Twin, declared: Declarations
) -> None:
    """The same token, the same request: from the internet the vault's name resolves to its public address and
    the vault refuses; from the pod it resolves to the private endpoint and the secret is served."""
    twin.configure(declared)
    reader = declared.workload("reader")
    url = f"{reader.vault_url.rstrip('/')}/secrets/{reader.secret_name}?api-version=7.6"
    headers = {"Authorization": f"Bearer {_access_token(twin, declared, reader)}"}

    outside = twin.client.get(url, headers=headers, timeout=5)
    assert outside.status_code == 403
    assert outside.json()["error"] == {
        "code": "Forbidden",
        "message": PUBLIC_ACCESS_DISABLED,
        "innererror": {"code": "ForbiddenByConnection"},
    }
    with twin.pod_client(reader) as pod:
        inside = pod.get(url, headers=headers, timeout=5)
    assert inside.status_code == 200, inside.text
    assert [r.secret.name for r in twin.keyvault.reads] == [reader.secret_name]
    assert [(r.code, r.vault.uri) for r in twin.keyvault.refusals] == [
        ("Forbidden/ForbiddenByConnection", reader.vault_url)
    ]


def test_without_its_private_endpoint_the_pod_meets_the_public_address_and_is_refused(
    twin: Twin, declared: Declarations
) -> None:
    """The endpoint gone, the vault's name resolves publicly inside the cluster too; the policy lets public 443
    out, so the app's request arrives, and the vault, its public access off, refuses it."""
    vault = declared.vault_at(declared.workload("reader").vault_url)
    assert vault is not None
    endpoints = tuple(e for e in declared.private_endpoints if e.target_id != vault.id)
    without = replace(declared, private_endpoints=endpoints)
    twin.configure(without)
    with twin.launch(workload="reader") as app:
        assert app.wait_for(r"Forbidden/ForbiddenByConnection", timeout=10), app.log
    assert app.count(r"^Your secret is ") == 0 and not twin.keyvault.reads
    assert {r.inner for r in twin.keyvault.refusals} == {"ForbiddenByConnection"}
    assert twin.proxy.dropped == []
    links = trust_chain(without, app.workload, app.admission, twin.entra.grants, twin.keyvault.reads)
    broken = first_broken(links)
    assert broken is not None and broken.name == "vault", links
    assert broken.right.endswith("public network access disabled, no private endpoint")
    network = next(link for link in links if link.name == "network policy")
    assert f"vault {vault.name} 443 (public {PUBLIC_ADDRESS})" in network.right


def _blocks(rule: EgressRule) -> list[IPBlock]:
    return [peer.ip_block for peer in rule.to if peer.ip_block is not None]


RULES: dict[str, tuple[Callable[[EgressRule, Declarations], bool], str]] = {
    "the DNS rule": (lambda rule, d: any(port.port == 53 for port in rule.ports), "DNS UDP 53"),
    "the vault rule": (
        lambda rule, d: any(b.contains(vault_private_addresses(d, v)[0]) for v in d.vaults for b in _blocks(rule)),
        "vault ",
    ),
    "the public 443 rule": (lambda rule, d: any(str(b.cidr) == "0.0.0.0/0" for b in _blocks(rule)), "Entra ID 443"),
}


@pytest.mark.parametrize(("is_rule", "need"), RULES.values(), ids=RULES.keys())
def test_each_prod_egress_rule_is_needed(
    declared: Declarations, is_rule: Callable[[EgressRule, Declarations], bool], need: str
) -> None:
    found = [rule for policy in declared.network_policies for rule in policy.egress if is_rule(rule, declared)]
    assert found, "the prod stack declares no such rule"
    policies = tuple(
        replace(policy, egress=tuple(rule for rule in policy.egress if not is_rule(rule, declared)))
        for policy in declared.network_policies
    )
    without = replace(declared, network_policies=policies)
    for workload in without.workloads:
        broken = first_broken(trust_chain(without, workload, admit(without, workload, "token"), [], []))
        assert broken is not None and broken.name == "network policy", workload.name
        assert broken.right.startswith("denied, but needed: ") and need in broken.right, broken.right
