"""The isolation proof catches what would let one workload reach another's secret or identity.

The unbroken proof is `test_twin_prod`'s (12 of 12 refusals over prod's 6 ordered pairs, printed by
`python -m twin`). Here one grant and one federation too many are added to prod, and one secret-scope grant to
byo's shared vault: the proof must name exactly those attempts as breaks, and hold for every other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

import twin.__main__ as cli
from aks_workload_identity import facts
from twin.declared import from_program
from twin.isolation import BREAK, HELD, IDENTITY, VAULT, Proof, prove, render
from twin.mocks import SUBSCRIPTION_ID, Program
from twin.model import Declarations, FederatedCredential, Identity, RoleAssignment, Workload
from twin.run import Twin
from twin.webhook import admit

WORKLOADS = ("reader", "orders", "billing")
SECRETS_USER = f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/" + (
    facts.KEY_VAULT_SECRETS_USER
)


@pytest.fixture(scope="module")
def twin() -> Iterator[Twin]:
    with Twin() as twin:
        yield twin


def identity_of(d: Declarations, workload: Workload) -> Identity:
    """The identity the workload's pods sign in as: the one its service account's client id names."""
    client_id = admit(d, workload, "token").env["AZURE_CLIENT_ID"]
    return next(i for i in d.identities if i.client_id == client_id)


def grant(d: Declarations, reader: str, scope: str) -> Declarations:
    """`reader`'s identity made Key Vault Secrets User on `scope`."""
    principal = identity_of(d, d.workload(reader)).principal_id
    extra = RoleAssignment(f"{reader}-reads-too", principal, SECRETS_USER, scope)
    return replace(d, role_assignments=(*d.role_assignments, extra))


def federate(d: Declarations, account_of: str, identity_of_: str) -> Declarations:
    """A credential on `identity_of_`'s identity that trusts `account_of`'s service account."""
    pod, identity = d.workload(account_of), identity_of(d, d.workload(identity_of_))
    extra = FederatedCredential(
        f"{account_of}-as-{identity_of_}",
        identity.name,
        identity.resource_group,
        d.cluster.issuer_url,
        facts.service_account_subject(pod.namespace, pod.service_account_name),
        (facts.TOKEN_AUDIENCE,),
    )
    return replace(d, federated_credentials=(*d.federated_credentials, extra))


def assert_breaks_exactly(proof: Proof, breaks: set[tuple[str, str, str]], workloads: tuple[str, ...]) -> None:
    expected = {(a, b, kind) for a in workloads for b in workloads if a != b for kind in (VAULT, IDENTITY)}
    assert {(a.reader, a.owner, a.kind) for a in proof.attempts} == expected
    for attempt in proof.attempts:
        key = (attempt.reader, attempt.owner, attempt.kind)
        assert attempt.verdict == (BREAK if key in breaks else HELD), attempt
    assert not proof.holds


def test_a_grant_on_anothers_vault_and_a_federation_with_anothers_identity_are_each_reported(
    twin: Twin, prod: Program
) -> None:
    declared = from_program(prod)
    orders_vault = declared.vault_at(declared.workload("orders").vault_url)
    assert orders_vault is not None
    mutated = federate(grant(declared, "reader", orders_vault.id), account_of="billing", identity_of_="reader")
    twin.configure(mutated)
    proof = prove(twin)

    assert_breaks_exactly(proof, {("reader", "orders", VAULT), ("billing", "reader", IDENTITY)}, WORKLOADS)
    stolen = proof.attempt("reader", "orders", VAULT)
    assert stolen.outcome == "200 secret served (role assignment reader-reads-too)"
    assert proof.attempt("billing", "reader", IDENTITY).outcome == "access token issued"
    for attempt in proof.attempts:
        if attempt.verdict == HELD:
            assert attempt.outcome == ("403 Forbidden/ForbiddenByRbac" if attempt.kind == VAULT else "AADSTS70021")
    # Each pod asked as its own identity for the owner's secret: no attempt is vacuous.
    asked = {(r.client_id, r.vault.uri, r.secret_name) for r in twin.keyvault.refusals} | {
        (r.client_id, r.vault.uri, r.secret.name) for r in twin.keyvault.reads
    }
    client = {a: identity_of(mutated, mutated.workload(a)).client_id for a in WORKLOADS}
    owned = {b: (mutated.workload(b).vault_url, mutated.workload(b).secret_name) for b in WORKLOADS}
    # Besides each pod's own secret, which billing's pods also mount as a file (delivery: both).
    own = {(client[a], *owned[a]) for a in WORKLOADS}
    cross = asked - own
    assert cross == {(client[a], *owned[b]) for a in WORKLOADS for b in WORKLOADS if a != b}
    shown = render(proof)
    assert "  reader -> orders  BREAK" in shown and "  billing -> reader BREAK" in shown
    assert shown.endswith("10 of 12 refusals held over 6 ordered pairs; 2 BREAK(S): isolation is broken.")


def test_byo_a_grant_on_anothers_secret_in_the_shared_vault_fails_python_m_twin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The byo stack (an existing cluster, one shared vault, a grant per secret) through `python -m twin`: both
    workloads read, and one secret-scope grant too many is the one break, and exit code 1."""

    def payments_reads_ledgers_secret(program: Program) -> Declarations:
        declared = from_program(program)
        ledger = declared.workload("ledger")
        (shared,) = declared.vaults
        return grant(declared, "payments", f"{shared.id}/secrets/{ledger.secret_name}")

    monkeypatch.setattr(cli, "from_program", payments_reads_ledgers_secret)
    assert cli.main(["--stack", "byo", "--reads", "1", "--poll-interval", "0.05", "--timeout", "20"]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("10 of 10 links held.") == 2
    rows = [line.split()[:4] for line in captured.out.splitlines() if re.match(r"^  \w+ -> \w+ ", line)]
    assert sorted(rows) == [["ledger", "->", "payments", "held"], ["payments", "->", "ledger", "BREAK"]]
    assert "secret shared-" in captured.out and "/ledger-db-password: 200 secret served" in captured.out
    assert "3 of 4 refusals held over 2 ordered pairs; 1 BREAK(S)" in captured.out
    assert "The workloads are not proven isolated: 1 break(s), 0 attempt(s) unproven." in captured.err
