"""The prod stack through the twin: its own NetworkPolicies and private endpoint let the app read, and each of
its egress rules is needed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

import twin.__main__ as cli
from twin.chain import first_broken, trust_chain
from twin.declared import from_program
from twin.mocks import run_program
from twin.model import Declarations, vault_private_addresses
from twin.netpol import EgressRule, IPBlock
from twin.webhook import admit


@pytest.fixture(scope="module")
def prod() -> Declarations:
    return from_program(run_program(stack="prod"))


def test_prod_stack_reads_through_its_own_network_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--stack", "prod", "--reads", "1", "--poll-interval", "0.05", "--timeout", "20"]) == 0
    out = capsys.readouterr().out
    assert "[ok] 2. network policy" in out
    assert "(private endpoint 10." in out and "denied: IMDS 169.254.169.254:80" in out
    assert "The app read the secret 1 times through the whole chain." in out


def test_prod_vault_is_reached_at_its_private_endpoint(prod: Declarations) -> None:
    (address,) = vault_private_addresses(prod, prod.vaults[0])
    assert address.startswith("10.")


def _blocks(rule: EgressRule) -> list[IPBlock]:
    return [peer.ip_block for peer in rule.to if peer.ip_block is not None]


RULES: dict[str, tuple[Callable[[EgressRule, Declarations], bool], str]] = {
    "the DNS rule": (lambda rule, d: any(port.port == 53 for port in rule.ports), "DNS UDP 53"),
    "the vault rule": (
        lambda rule, d: any(b.contains(vault_private_addresses(d, d.vaults[0])[0]) for b in _blocks(rule)),
        "vault ",
    ),
    "the public 443 rule": (lambda rule, d: any(str(b.cidr) == "0.0.0.0/0" for b in _blocks(rule)), "Entra ID 443"),
}


@pytest.mark.parametrize(("is_rule", "need"), RULES.values(), ids=RULES.keys())
def test_each_prod_egress_rule_is_needed(
    prod: Declarations, is_rule: Callable[[EgressRule, Declarations], bool], need: str
) -> None:
    found = [rule for policy in prod.network_policies for rule in policy.egress if is_rule(rule, prod)]
    assert found, "the prod stack declares no such rule"
    policies = tuple(
        replace(policy, egress=tuple(rule for rule in policy.egress if not is_rule(rule, prod)))
        for policy in prod.network_policies
    )
    without = replace(prod, network_policies=policies)
    broken = first_broken(trust_chain(without, admit(without, "token"), [], []))
    assert broken is not None and broken.name == "network policy"
    assert broken.right.startswith("denied, but needed: ") and need in broken.right, broken.right
