"""Many workloads per stack in the twin: each Deployment read as a workload of its own, the cluster found whether
the stack creates it or brings it, each pod under its own NetworkPolicies, and `run_all` reporting each one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests

from twin.declared import CLUSTER, DEPLOYMENT, GET_CLUSTER, SERVICE_ACCOUNT, from_program
from twin.mocks import Invocation, Program
from twin.netpol import EgressRule
from twin.run import Twin, run_all
from twin.webhook import admit


@pytest.fixture(scope="module")
def twin() -> Iterator[Twin]:
    with Twin() as twin:
        yield twin


def test_each_deployment_is_a_workload_with_its_own_account_identity_and_vault(prod: Program) -> None:
    declared = from_program(prod)
    by_name = {w.name: w for w in declared.workloads}
    assert sorted(by_name) == ["billing", "orders", "reader"]
    assert {w.namespace for w in declared.workloads} == {"wi-demo", "orders", "billing"}
    assert by_name["orders"].service_account_name == "orders-api"  # the first of its accounts
    assert by_name["orders"].secret_name == "db-password"
    vaults = {name: declared.vault_at(w.vault_url) for name, w in by_name.items()}
    assert all(vault is not None and vault.name.startswith(f"{name}-") for name, vault in vaults.items())
    client_ids = {admit(declared, w, "token").env["AZURE_CLIENT_ID"] for w in declared.workloads}
    assert len(client_ids) == 3
    assert {w.deployment for w in declared.workloads} == {
        r.outputs["metadata"]["name"] for r in prod.of_type(DEPLOYMENT)
    }


def test_a_brought_cluster_is_read_from_the_get_managed_cluster_answer(byo: Program) -> None:
    assert byo.of_type(CLUSTER) == []
    (invoke,) = [i for i in byo.invokes if i.token == GET_CLUSTER]
    declared = from_program(byo)
    assert declared.cluster.issuer_url == invoke.result["oidcIssuerProfile"]["issuerURL"]
    assert declared.cluster.name == invoke.result["name"]
    kubelet = invoke.result["identityProfile"]["kubeletidentity"]
    assert kubelet["clientId"] in {i.client_id for i in declared.identities}
    assert {c.issuer for c in declared.federated_credentials} == {declared.cluster.issuer_url}


def test_a_program_without_a_cluster_or_with_two_is_refused(byo: Program, prod: Program) -> None:
    without = replace(byo, invokes=[i for i in byo.invokes if i.token != GET_CLUSTER])
    with pytest.raises(ValueError, match="exactly one cluster .* the program has 0"):
        from_program(without)
    (invoke,) = [i for i in byo.invokes if i.token == GET_CLUSTER]
    other = Invocation(GET_CLUSTER, invoke.args, {**invoke.result, "id": invoke.result["id"] + "-other"})
    with pytest.raises(ValueError, match="the program has 2"):
        from_program(replace(byo, invokes=[*byo.invokes, other]))
    with pytest.raises(ValueError, match="the program has 2"):
        from_program(replace(prod, invokes=[*prod.invokes, invoke]))


def test_launch_asks_which_workload_when_there_are_several(twin: Twin, prod: Program) -> None:
    twin.configure(from_program(prod))
    with pytest.raises(ValueError, match="the stack declares 3 workloads") as refused:
        twin.launch()
    assert all(f"'{name}'" in str(refused.value) for name in ("reader", "orders", "billing"))


def test_each_pod_is_held_to_its_own_network_policies(twin: Twin, prod: Program) -> None:
    """Orders' egress policy loses its rule to the private endpoints: orders' pod can no longer reach even its own
    vault, while reader's pod, through the same proxy at the same time, still reaches its own."""
    declared = from_program(prod)

    def to_private_addresses(rule: EgressRule) -> bool:
        return any(peer.ip_block is not None and peer.ip_block.cidr.is_private for peer in rule.to)

    policies = tuple(
        replace(p, egress=tuple(r for r in p.egress if not to_private_addresses(r))) if p.namespace == "orders" else p
        for p in declared.network_policies
    )
    twin.configure(replace(declared, network_policies=policies))
    orders, reader = declared.workload("orders"), declared.workload("reader")
    with twin.pod_client(orders) as pod, pytest.raises(requests.ConnectionError):
        pod.get(f"{orders.vault_url}secrets/{orders.secret_name}?api-version=7.6", timeout=5)
    with twin.pod_client(reader) as pod:
        response = pod.get(f"{reader.vault_url}secrets/{reader.secret_name}?api-version=7.6", timeout=5)
    assert response.status_code == 401  # the vault's challenge: the connection got through
    (dropped,) = twin.proxy.dropped
    assert (
        dropped.startswith(orders.vault_url.split("/")[2] + ":443: ") and "isolated by orders/default-deny" in dropped
    )


def test_run_all_reports_each_workload_a_rejected_pod_among_them(byo: Program) -> None:
    """What the bench calls: every workload run at once; one whose pod the API server refuses is reported as such
    and the others still read their own secrets (here from the shared vault)."""
    ledger_account = next(r for r in byo.of_type(SERVICE_ACCOUNT) if r.name == "ledger-ledger")
    program = replace(byo, resources=[r for r in byo.resources if r is not ledger_account])
    results = run_all(program, reads=2, poll_interval=0.05, timeout=20)

    assert not results.ok
    assert [w.name for w in results.workloads] == [w.name for w in from_program(program).workloads]
    payments, ledger = results.of("payments"), results.of("ledger")
    assert payments.ok and payments.read and payments.reads >= 2 and payments.served >= 2
    assert payments.seconds is not None and 0 < payments.seconds <= results.seconds
    assert payments.exit_code == 0 and not payments.exited_early
    assert [link.status for link in payments.links] == ["held"] * 10
    assert ledger.rejected == (
        'pods is forbidden: error looking up service account ledger/ledger: serviceaccount "ledger" not found'
    )
    assert not ledger.ok and ledger.seconds is None and ledger.exit_code is None
    assert results.token_requests == 1 and results.refused == () and results.dropped == ()
