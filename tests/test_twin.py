"""The end-to-end twin: the program's own declarations, a local cloud side, and the real app between them.

One twin serves the whole session and is reconfigured per test from the declarations the Pulumi program
produced (mutated where a test breaks a link). Every app run is the unmodified `python -m secret_reader`,
reaching the twin only through its proxy on loopback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import jwt
import pytest
import requests
from secret_reader.config import load_settings

from aks_workload_identity import facts
from twin.chain import Link, first_broken, trust_chain
from twin.declared import NETWORK_POLICY, PRIVATE_ENDPOINT, from_program
from twin.entra import HOST as ENTRA_HOST
from twin.faults import Faults
from twin.issuer import ROTATE_AT, Clock, Issuer, ProjectedToken, new_signing_key
from twin.keyvault import Counts
from twin.mocks import Program, Registration
from twin.model import Declarations, Workload
from twin.netpol import PolicyError
from twin.run import GUARD_DIR, GUARD_MARK, App, Twin
from twin.webhook import PodRejected, admit

POLL = 0.05
#: A generous bound that only catches a hang: far above what any step takes even on a loaded machine.
HANG_SECONDS = 60.0
READ = r"^Your secret is "
RETRY = re.compile(r"Retrying in ([0-9.]+) s")


@pytest.fixture(scope="session")
def declared(dev: Program) -> Declarations:
    return from_program(dev)


@pytest.fixture(scope="session")
def twin() -> Iterator[Twin]:
    with Twin() as twin:
        yield twin


def run(twin: Twin, declarations: Declarations, faults: Faults | None = None, poll: float = POLL) -> App:
    twin.configure(declarations, faults)
    return twin.launch(poll)


def assert_stayed_on_loopback(twin: Twin, app: App) -> None:
    assert GUARD_MARK not in app.log, app.log
    assert not twin.proxy.refused, twin.proxy.refused


def assert_clean_exit(app: App) -> None:
    assert app.process.poll() is None, f"the app died:\n{app.log}"
    assert app.stop() == 0, app.log
    assert "Traceback" not in app.log, app.log


# --- the whole chain --------------------------------------------------------------------------------------------


def test_app_reads_the_secret_through_the_whole_chain_and_masks_it(twin: Twin, declared: Declarations) -> None:
    with run(twin, declared) as app:
        assert app.wait_for(READ, 3), app.log
        port = app.health_port
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        assert no_proxy.open(f"http://127.0.0.1:{port}/readyz", timeout=5).status == 200
        assert_clean_exit(app)

    secret = declared.secrets[0]
    assert app.count(rf"^Retrieving your secret from {declared.vaults[0].name}\.$") >= 3
    assert secret.value not in app.log
    assert app.count(r"^Your secret is '<hidden: ") >= 3
    assert twin.entra.grants[0].credential == declared.federated_credentials[0]
    assert {read.secret for read in twin.keyvault.reads} == {secret}
    assert twin.proxy.imds_requests == 0
    assert_stayed_on_loopback(twin, app)
    links = trust_chain(declared, app.workload, app.admission, twin.entra.grants, twin.keyvault.reads)
    assert [link.status for link in links] == ["held"] * len(links)


# --- one mutation per link --------------------------------------------------------------------------------------


def _fic(**changes: object) -> Callable[[Declarations], Declarations]:
    return lambda d: replace(d, federated_credentials=tuple(replace(c, **changes) for c in d.federated_credentials))


def _subject(namespace: str | None = None, name: str | None = None) -> Callable[[Declarations], Declarations]:
    def mutate(d: Declarations) -> Declarations:
        pod = _only(d)
        subject = facts.service_account_subject(namespace or pod.namespace, name or pod.service_account_name)
        return _fic(subject=subject)(d)

    return mutate


def _pod(**changes: object) -> Callable[[Declarations], Declarations]:
    return lambda d: replace(d, workloads=(replace(_only(d), **changes),))


def _pod_env(**env: str) -> Callable[[Declarations], Declarations]:
    return lambda d: _pod(env={**_only(d).env, **env})(d)


def _without_label(d: Declarations) -> Declarations:
    labels = {k: v for k, v in _only(d).labels.items() if k != facts.WORKLOAD_IDENTITY_USE_LABEL}
    return _pod(labels=labels)(d)


def _annotation(key: str, value: Callable[[Declarations], str]) -> Callable[[Declarations], Declarations]:
    def mutate(d: Declarations) -> Declarations:
        accounts = tuple(replace(a, annotations={**a.annotations, key: value(d)}) for a in d.service_accounts)
        return replace(d, service_accounts=accounts)

    return mutate


def _other_client_id(d: Declarations) -> str:
    """Another identity the stack really has (the cluster's kubelet identity): it has no federated credential."""
    return next(i.client_id for i in d.identities if i.client_id != _workload_client_id(d))


def _workload_principal(d: Declarations) -> str:
    return next(i.principal_id for i in d.identities if i.client_id == _workload_client_id(d))


def _assignments(change: Callable[[Declarations, object], object | None]) -> Callable[[Declarations], Declarations]:
    """Applies `change` to the workload identity's assignments (None drops one); others are kept."""

    def mutate(d: Declarations) -> Declarations:
        principal = _workload_principal(d)
        kept = [change(d, a) if a.principal_id == principal else a for a in d.role_assignments]
        return replace(d, role_assignments=tuple(a for a in kept if a is not None))

    return mutate


def _role(guid: str) -> Callable[[Declarations], Declarations]:
    return _assignments(lambda d, a: replace(a, role_definition_id=a.role_definition_id.rsplit("/", 1)[0] + "/" + guid))


def _vault_without_rbac(d: Declarations) -> Declarations:
    return replace(d, vaults=tuple(replace(v, rbac=False) for v in d.vaults))


_OTHER_VAULT = _assignments(lambda d, a: replace(a, scope=d.vaults[0].id + "-other"))

MUTATIONS = {
    "issuer without its trailing slash": (
        lambda d: _fic(issuer=d.cluster.issuer_url.rstrip("/"))(d),
        r"AADSTS700211\b",
        "issuer",
    ),
    "subject in another namespace": (_subject(namespace="default"), r"AADSTS70021\b", "subject"),
    "subject of another service account": (_subject(name="other-sa"), r"AADSTS70021\b", "subject"),
    "audience of another cloud": (_fic(audiences=("api://AzureADTokenExchangeChina",)), r"AADSTS70021\b", "audience"),
    "client-id annotation of another identity": (
        _annotation(facts.CLIENT_ID_ANNOTATION, _other_client_id),
        r"AADSTS700211\b",
        "service account -> identity",
    ),
    "client-id annotation of no identity": (
        _annotation(facts.CLIENT_ID_ANNOTATION, lambda d: "00000000-0000-0000-0000-000000000000"),
        r"AADSTS700016\b",
        "service account -> identity",
    ),
    "tenant-id annotation of another tenant": (
        _annotation(facts.TENANT_ID_ANNOTATION, lambda d: "11111111-1111-1111-1111-111111111111"),
        r"not configured to acquire tokens for tenant",
        "tenant",
    ),
    "pod template without the use label": (
        _without_label,
        r"configuration error: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE: not set",
        "pod label -> webhook",
    ),
    "pod running as another service account": (
        _pod(service_account_name="default"),
        r"configuration error: AZURE_CLIENT_ID: is not set.*lacks the azure.workload.identity/client-id",
        "service account -> identity",
    ),
    "role assignment missing": (_assignments(lambda d, a: None), r"ForbiddenByRbac", "role assignment"),
    "role assignment on another vault": (_OTHER_VAULT, r"ForbiddenByRbac", "role assignment"),
    "role without read rights (Key Vault Reader)": (
        _role(facts.KEY_VAULT_READER),
        r"ForbiddenByRbac",
        "role assignment",
    ),
    "vault on the access-policy model": (_vault_without_rbac, r"Forbidden/ForbiddenByPolicy", "vault"),
    # The dev stack grants the role on the vault (roleScope=vault), so a missing secret is a 404, not a 403.
    "secret name not in the vault": (_pod_env(SECRET_NAME="Secret-typo"), r"SecretNotFound", "secret"),
}


@pytest.mark.parametrize(("mutate", "error", "link"), MUTATIONS.values(), ids=MUTATIONS.keys())
def test_each_broken_link_stops_the_read_with_its_error(
    twin: Twin, declared: Declarations, mutate: Callable[[Declarations], Declarations], error: str, link: str
) -> None:
    mutated = mutate(declared)
    with run(twin, mutated) as app:
        found = app.wait_for(error, timeout=HANG_SECONDS)
    assert found, f"expected /{error}/ in the app's log:\n{app.log}"
    assert app.count(READ) == 0
    assert not twin.keyvault.reads
    assert_stayed_on_loopback(twin, app)
    broken = first_broken(trust_chain(mutated, app.workload, app.admission, twin.entra.grants, twin.keyvault.reads))
    assert broken is not None and broken.name == link


def test_unlabelled_pod_exits_at_start_and_reaches_nothing(twin: Twin, declared: Declarations) -> None:
    """The app uses workload identity only: without the webhook's variables it stops, and never tries IMDS."""
    with run(twin, _without_label(declared)) as app:
        assert app.process.wait(10) == 2, app.log
    assert twin.proxy.hits == [] and twin.proxy.imds_requests == 0
    assert_stayed_on_loopback(twin, app)


def test_wrong_vault_uri_reaches_no_vault(twin: Twin, declared: Declarations) -> None:
    """A vault URI nobody declared resolves nowhere: the proxy refuses it as DNS would.

    The app's own error line comes only after azure-core's connection retries (0+4+8+16+16 s with the app's
    policy), so this test checks the app's attempt and the twin's refusal rather than waiting for it.
    """
    host = "secrets-typo.vault.azure.net"
    mutated = _pod_env(KEY_VAULT_URL=f"https://{host}/")(declared)
    with run(twin, mutated) as app:
        assert app.wait_for(r"^Retrieving your secret from secrets-typo\.$", timeout=HANG_SECONDS), app.log
        assert _wait(lambda: f"{host}:443" in twin.proxy.refused, HANG_SECONDS), twin.proxy.refused
    assert app.count(READ) == 0
    assert GUARD_MARK not in app.log
    assert set(twin.proxy.refused) == {f"{host}:443"}
    broken = first_broken(trust_chain(mutated, app.workload, app.admission, [], []))
    assert broken is not None and broken.name == "vault"


def test_guard_refuses_any_connection_that_is_not_loopback() -> None:
    """The app's interpreter carries the twin's guard, the safety net behind the proxy settings.

    The connect is attempted only once the guard is seen in place, so a broken guard cannot send anything.
    """
    probe = (
        "import socket, sitecustomize\n"
        "assert socket.socket.connect is sitecustomize.connect\n"
        "assert socket.gethostbyaddr.__module__ == 'sitecustomize'\n"
        "for attempt in (lambda: socket.socket().connect(('192.0.2.1', 443)), lambda: socket.getfqdn('0.0.0.0')):\n"
        "    try:\n"
        "        attempt()\n"
        "    except ConnectionRefusedError:\n"
        "        print('refused')\n"
    )
    env = {"PYTHONPATH": str(GUARD_DIR), "PATH": os.path.dirname(sys.executable)}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=10)
    assert result.stdout.split() == ["refused"], result.stderr
    # getfqdn swallows the refusal of its reverse lookup, but the guard still reports it.
    assert result.stderr.count(GUARD_MARK) == 2, result.stderr


def test_pod_naming_an_undeclared_service_account_is_rejected(twin: Twin, declared: Declarations) -> None:
    twin.configure(_pod(service_account_name="nobody")(declared))
    with pytest.raises(PodRejected, match='serviceaccount "nobody" not found'):
        twin.launch(POLL)


def test_unreachable_issuer_is_aadsts90061(twin: Twin, declared: Declarations) -> None:
    """Entra ID fetches the issuer's discovery document itself; if the issuer does not answer, 90061."""
    with run(twin, declared, Faults(issuer_unreachable=True)) as app:
        assert app.wait_for(r"AADSTS90061\b", timeout=HANG_SECONDS), app.log
    assert 90061 in twin.entra.errors
    assert set(twin.proxy.refused) == {f"{twin.issuer.host}:443"}
    assert app.count(READ) == 0


def test_entra_checks_the_assertion_signature_against_the_issuers_jwks(twin: Twin, declared: Declarations) -> None:
    twin.configure(declared)
    impostor = Issuer(declared.cluster.issuer_url, new_signing_key())
    subject = declared.federated_credentials[0].subject
    env = {"AZURE_TENANT_ID": declared.cluster.tenant_id, "AZURE_CLIENT_ID": _workload_client_id(declared)}
    assert _exchange(twin, env, impostor.mint(subject))["error_codes"] == [700027]
    assert "access_token" in _exchange(twin, env, twin.issuer.mint(subject))


def test_key_vault_challenges_a_request_without_a_token(twin: Twin, declared: Declarations) -> None:
    twin.configure(declared)
    vault = declared.vaults[0]
    response = twin.client.get(f"{vault.uri}secrets/{declared.secrets[0].name}?api-version=7.6", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://{ENTRA_HOST}/{vault.tenant_id}", resource="{facts.KEY_VAULT_RESOURCE}"'
    )
    assert twin.keyvault.challenges == 1 and twin.keyvault.gets == 0


# --- network policy ---------------------------------------------------------------------------------------------

ENDPOINT_SUBNET = "10.10.8.0/24"
PRIVATE_ADDRESS = "10.10.8.4"
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]
KUBE_DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
#: The DNS a pod needs, as the network link names it: kube-dns, and LocalDNS where the node runs it.
KUBE_DNS_NEEDS = "DNS UDP 53 (kube-dns), DNS TCP 53 (kube-dns)"
LOCAL_DNS_NEEDS = ", ".join(
    f"DNS {p} 53 (LocalDNS {a})" for a in ("169.254.10.10", "169.254.10.11") for p in ("UDP", "TCP")
)
DNS_RULE = {
    "to": [KUBE_DNS_PEER, {"ipBlock": {"cidr": "169.254.10.10/32"}}, {"ipBlock": {"cidr": "169.254.10.11/32"}}],
    # Numbers arrive as floats, as the mocks deserialize them.
    "ports": [{"protocol": "UDP", "port": 53.0}, {"protocol": "TCP", "port": 53.0}],
}
VAULT_RULE = {"to": [{"ipBlock": {"cidr": ENDPOINT_SUBNET}}], "ports": [{"protocol": "TCP", "port": 443.0}]}
PUBLIC_RULE = {
    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
    "ports": [{"protocol": "TCP", "port": 443.0}],
}


def _registration(type_: str, name: str, inputs: dict, outputs: dict | None = None) -> Registration:
    return Registration(
        type_, name, f"urn:pulumi:prod::twin::{type_}::{name}", "", f"{name}-id", inputs, outputs or inputs
    )


def _policy_registrations(namespace: str, instance: str, egress: list[dict]) -> list[Registration]:
    """The prod stack's two policies, as the program registers them (camelCase inputs)."""
    default_deny = {
        "metadata": {"name": "default-deny", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    workload = {
        "metadata": {"namespace": namespace},  # auto-named, as the program may leave it
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/instance": instance}},
            "policyTypes": ["Egress"],
            "egress": egress,
        },
    }
    return [
        _registration(NETWORK_POLICY, "default-deny", default_deny),
        _registration(NETWORK_POLICY, "reader-egress", workload),
    ]


def _private_endpoint_registration(vault_id: str, vault_host: str, outputs: dict | None = None) -> Registration:
    inputs = {
        "privateLinkServiceConnections": [{"name": "vault", "privateLinkServiceId": vault_id, "groupIds": ["vault"]}],
        "subnet": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/e"},
    }
    answer = {**inputs, "customDnsConfigs": [{"fqdn": vault_host, "ipAddresses": [PRIVATE_ADDRESS]}]}
    return _registration(PRIVATE_ENDPOINT, "vault-endpoint", inputs, answer if outputs is None else outputs)


@pytest.fixture(scope="session")
def dev_program(dev: Program) -> Program:
    """The session's dev run (conftest), under the name these tests read it by."""
    return dev


def _with_network(program: Program, egress: list[dict], endpoint: Registration | None = None) -> Declarations:
    """The dev stack with the prod stack's network (two NetworkPolicies, the vault's private endpoint) in place of
    its own, made by hand here so that each rule can be left out."""
    declared = from_program(program)
    vault = declared.vaults[0]
    endpoint = endpoint or _private_endpoint_registration(vault.id, vault.uri.split("/")[2])
    labels = _only(declared).labels
    extra = [
        *_policy_registrations(_only(declared).namespace, labels["app.kubernetes.io/instance"], egress),
        endpoint,
    ]
    kept = [r for r in program.resources if r.type not in (NETWORK_POLICY, PRIVATE_ENDPOINT)]
    return from_program(replace(program, resources=[*kept, *extra]))


def test_declared_policies_and_private_endpoint_are_read_from_the_registrations(dev_program: Program) -> None:
    declared = _with_network(dev_program, [DNS_RULE, VAULT_RULE, PUBLIC_RULE])
    names = [(p.namespace, p.name) for p in declared.network_policies]
    assert names == [("wi-demo", "default-deny"), ("wi-demo", "reader-egress")]
    assert [len(p.egress) for p in declared.network_policies] == [0, 3]
    (endpoint,) = declared.private_endpoints
    assert endpoint.target_id == declared.vaults[0].id and endpoint.group_ids == ("vault",)
    assert dict(endpoint.addresses) == {declared.vaults[0].uri.split("/")[2]: (PRIVATE_ADDRESS,)}


def test_without_a_network_policy_the_link_says_all_egress_is_allowed(declared: Declarations) -> None:
    open_network = replace(declared, network_policies=(), private_endpoints=())
    links = _declared_chain(open_network)
    network = next(link for link in links if link.name == "network policy")
    assert (network.status, network.right) == ("unverified", "no NetworkPolicy declared: all egress allowed")


def test_private_endpoint_without_its_addresses_is_refused(dev_program: Program) -> None:
    vault = from_program(dev_program).vaults[0]
    silent = _private_endpoint_registration(vault.id, "x", outputs={})
    with pytest.raises(ValueError, match="reports no customDnsConfigs"):
        _with_network(dev_program, [], silent)


def test_policy_with_a_named_port_is_refused(dev_program: Program) -> None:
    with pytest.raises(PolicyError, match="named port 'https'"):
        _with_network(dev_program, [{"ports": [{"port": "https"}]}])


def test_app_reads_through_the_declared_network_policy(twin: Twin, dev_program: Program) -> None:
    declared = _with_network(dev_program, [DNS_RULE, VAULT_RULE, PUBLIC_RULE])
    with run(twin, declared) as app:
        assert app.wait_for(READ, 2), app.log
        assert_clean_exit(app)
    assert twin.proxy.dropped == []
    assert_stayed_on_loopback(twin, app)
    links = trust_chain(declared, app.workload, app.admission, twin.entra.grants, twin.keyvault.reads)
    assert [link.status for link in links] == ["held"] * len(links)
    network = next(link for link in links if link.name == "network policy")
    assert "egress isolated by wi-demo/default-deny, wi-demo/reader-egress" in network.left
    vault = declared.vaults[0].name
    assert network.right == (
        f"allowed: {KUBE_DNS_NEEDS}, {LOCAL_DNS_NEEDS}, Entra ID 443, vault {vault} 443 "
        f"(private endpoint {PRIVATE_ADDRESS}); denied: IMDS 169.254.169.254:80; "
        "public 443 allowed (Entra ID has no fixed address range)"
    )


DROPPED_RULES = {
    "without the DNS rule": (
        [VAULT_RULE, PUBLIC_RULE],
        # The SDK's first request is the vault's challenge, so the vault's name is the first lookup.
        r"\.vault\.azure\.net:443: DNS lookup of \S+ dropped: UDP 53 to 10\.244\.0\.10 \(pod in kube-system\) denied",
        "DNS UDP 53",
    ),
    "without the vault rule": ([DNS_RULE, PUBLIC_RULE], rf"\({re.escape(PRIVATE_ADDRESS)}\) dropped", "vault "),
    "without the public 443 rule": (
        [DNS_RULE, VAULT_RULE],
        r"login\.microsoftonline\.com \(203\.0\.113\.10\) dropped",
        "Entra ID 443",
    ),
}


@pytest.mark.parametrize(("egress", "drop", "need"), DROPPED_RULES.values(), ids=DROPPED_RULES.keys())
def test_a_missing_egress_rule_drops_the_apps_connection_and_breaks_the_link(
    twin: Twin, dev_program: Program, egress: list[dict], drop: str, need: str
) -> None:
    """The app's own error line comes only after the SDK's connection retries; the drop itself is immediate."""
    declared = _with_network(dev_program, egress)
    with run(twin, declared) as app:
        assert _wait(lambda: any(re.search(drop, d) for d in twin.proxy.dropped), HANG_SECONDS), (
            twin.proxy.dropped,
            app.log,
        )
    assert app.count(READ) == 0
    assert not twin.keyvault.reads
    assert_stayed_on_loopback(twin, app)
    broken = first_broken(trust_chain(declared, app.workload, app.admission, twin.entra.grants, twin.keyvault.reads))
    assert broken is not None and broken.name == "network policy"
    assert broken.right.startswith("denied, but needed: ") and need in broken.right, broken.right


def test_a_dns_rule_without_localdns_breaks_the_link_naming_each_localdns_address(dev_program: Program) -> None:
    """On a node with AKS LocalDNS the pod's resolver asks 169.254.10.10/.11, not kube-dns (facts: AKS LocalDNS)."""
    kube_dns_only = {**DNS_RULE, "to": [KUBE_DNS_PEER]}
    broken = first_broken(_declared_chain(_with_network(dev_program, [kube_dns_only, VAULT_RULE, PUBLIC_RULE])))
    assert broken is not None and broken.name == "network policy"
    assert broken.right.startswith(f"denied, but needed: {LOCAL_DNS_NEEDS}; "), broken.right
    assert "denied: IMDS 169.254.169.254:80" in broken.right


def test_policy_that_lets_the_pod_reach_imds_is_a_broken_link(dev_program: Program) -> None:
    imds = {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"protocol": "TCP", "port": 80}]}
    declared = _with_network(dev_program, [DNS_RULE, VAULT_RULE, PUBLIC_RULE, imds])
    links = _declared_chain(declared)
    broken = first_broken(links)
    assert broken is not None and broken.name == "network policy"
    assert "IMDS 169.254.169.254:80 ALLOWED, must be denied" in broken.right


def test_policy_selecting_other_labels_leaves_the_pod_to_default_deny(dev_program: Program) -> None:
    """A Deployment and its policy that disagree on a label: the default-deny still isolates the pod."""
    declared = _with_network(dev_program, [DNS_RULE, VAULT_RULE, PUBLIC_RULE])
    default_deny, workload = declared.network_policies
    typo = replace(
        workload, pod_selector=replace(workload.pod_selector, match_labels={"app.kubernetes.io/instance": "raeder"})
    )
    mutated = replace(declared, network_policies=(default_deny, typo))
    broken = first_broken(_declared_chain(mutated))
    assert broken is not None and broken.name == "network policy"
    assert broken.left.endswith(": egress isolated by wi-demo/default-deny")
    assert broken.right.startswith(f"denied, but needed: {KUBE_DNS_NEEDS}, {LOCAL_DNS_NEEDS}, Entra ID 443")


def test_proxy_drops_the_pods_imds_request_under_the_policy(twin: Twin, dev_program: Program) -> None:
    """What any IMDS client in the pod meets: dropped under the declared policy, answered without one."""
    imds = f"http://{facts.IMDS_ADDRESS}/metadata/identity/oauth2/token?api-version=2018-02-01"
    pod = requests.Session()
    pod.trust_env = False
    pod.proxies = {"http": twin.proxy.pod_url(_only(from_program(dev_program)).pod)}
    twin.configure(_with_network(dev_program, [DNS_RULE, VAULT_RULE, PUBLIC_RULE]))
    with pytest.raises(requests.ConnectionError):
        pod.get(imds, headers={"Metadata": "true"}, timeout=5)
    assert [d.split(": ")[0] for d in twin.proxy.dropped] == [f"{facts.IMDS_ADDRESS}:80"]
    assert twin.proxy.imds_requests == 0

    twin.configure(replace(from_program(dev_program), network_policies=()))
    assert pod.get(imds, headers={"Metadata": "true"}, timeout=5).status_code == 400
    assert twin.proxy.dropped == [] and twin.proxy.imds_requests == 1


# --- faults -----------------------------------------------------------------------------------------------------

FAULTS = {
    "federated credential not propagated (3 requests)": (
        Faults(federation_unpropagated_requests=3),
        "federation_unpropagated_requests",
        r"AADSTS70021\b",
    ),
    "federated credential not propagated (1 s)": (Faults(federation_unpropagated_seconds=1.0), None, r"AADSTS70021\b"),
    "role assignment not propagated (3 GETs)": (
        Faults(rbac_unpropagated_gets=3),
        "rbac_unpropagated_gets",
        r"ForbiddenByRbac",
    ),
    "throttled (2 x 429, Retry-After 1 s)": (Faults(throttled_gets=2), "throttled_gets", None),
    "unavailable (2 x 503)": (Faults(unavailable_gets=2), "unavailable_gets", None),
    "connection resets (2)": (Faults(reset_gets=2), "reset_gets", None),
}


@pytest.mark.parametrize(("faults", "counter", "error"), FAULTS.values(), ids=FAULTS.keys())
def test_app_survives_the_fault_and_reads_after_it(
    twin: Twin, declared: Declarations, faults: Faults, counter: str | None, error: str | None
) -> None:
    with run(twin, declared, faults) as app:
        assert app.wait_for(READ, 3, timeout=HANG_SECONDS), app.log
        assert_clean_exit(app)
    if counter:
        assert twin.faults.used(counter) == getattr(faults, counter)
    if error:
        assert app.count(error) >= 1, app.log
    first_read = next(at for at, line in app.lines if re.search(READ, line))
    assert all(at < first_read for at, line in app.lines if line.count(" ERROR ")), "an error after reading"
    assert_backoff_within_cap(app)
    assert_stayed_on_loopback(twin, app)


def assert_backoff_within_cap(app: App) -> None:
    """Every announced wait, and every observed gap from an error to the next attempt, stays under the cap."""
    cap = load_settings(app.env).backoff_cap
    announced = [float(m.group(1)) for _, line in app.lines if (m := RETRY.search(line))]
    assert all(wait <= cap for wait in announced), (announced, cap)
    for (at, line), (next_at, next_line) in zip(app.lines, app.lines[1:], strict=False):
        if " ERROR " in line and next_line.startswith("Retrieving"):
            assert next_at - at <= cap + 0.5, (line, next_at - at, cap)


def test_app_survives_token_rotation_while_its_old_token_expires(twin: Twin, declared: Declarations) -> None:
    """The kubelet rewrites the token at 80 % of its life; the one the app exchanged expires meanwhile.

    The app needs the service-account token only to get an access token, so it keeps reading. The token's lifetime
    passes on the twin's clock, moved forward here, not in real time: no machine is too slow for it. The lifetime is
    shorter than the access token's (3599 s), so the app's access token outlives the first service-account token.
    (azure-identity re-reads the file at most every 600 s; in a cluster a token keeps >= 720 s of validity after
    rotation, which the twin does not model, so the app is not made to exchange the expired one.)
    """
    lifetime = 1000.0
    with run(twin, declared, Faults(token_lifetime_seconds=lifetime)) as app:
        assert app.wait_for(READ, 1, timeout=HANG_SECONDS), app.log
        token = app.token
        assert token is not None and len(token.tokens) == 1
        first = token.tokens[0]
        for written in (2, 3):  # each move reaches the current token's rotation time
            twin.clock.advance(ROTATE_AT * lifetime)
            assert _wait(lambda: len(token.tokens) >= written, HANG_SECONDS), token.tokens  # noqa: B023
        assert twin.clock.time() > jwt.decode(first, options={"verify_signature": False})["exp"]
        reads = app.count(READ)
        assert app.wait_for(READ, reads + 3, timeout=HANG_SECONDS), app.log
        assert_clean_exit(app)
    assert len(token.tokens) == 3
    assert twin.entra.token_requests == 1
    assert _exchange(twin, app.env, first)["error_codes"] == [700024]
    assert "access_token" in _exchange(twin, app.env, token.tokens[-1])
    assert_stayed_on_loopback(twin, app)


def test_the_kubelet_rotates_a_token_at_80_percent_of_its_life_on_the_twins_clock(tmp_path: Path) -> None:
    """Not before (however long the test waits in real time), at once when the clock gets there."""
    clock = Clock()
    issuer = Issuer("https://issuer.example/tenant/cluster/", new_signing_key(), clock)
    token = ProjectedToken(issuer, tmp_path / "token", "system:serviceaccount:ns:sa", facts.TOKEN_AUDIENCE, 100.0)
    token.start()
    try:
        clock.advance(79.0)
        time.sleep(0.2)
        assert len(token.tokens) == 1
        claims = jwt.decode(token.tokens[0], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 100
        clock.advance(1.0)
        assert _wait(lambda: len(token.tokens) == 2, HANG_SECONDS)
        assert (tmp_path / "token").read_text() == token.tokens[1]
    finally:
        token.stop()
    # The rotation thread woke up to stop (its next rotation is 80 s of the clock away), not left behind.
    assert token._thread is not None and not token._thread.is_alive()


# --- steady state -----------------------------------------------------------------------------------------------


def test_steady_state_is_one_token_one_challenge_and_one_get_per_poll(twin: Twin, declared: Declarations) -> None:
    with run(twin, declared, poll=0.01) as app:
        counts = twin.keyvault.wait_for_reads(100, timeout=30)
        tokens = twin.entra.token_requests
        assert_clean_exit(app)
    assert counts == Counts(challenges=1, gets=100, reads=100), app.log
    assert tokens == 1


# --- helpers ----------------------------------------------------------------------------------------------------


def _only(d: Declarations) -> Workload:
    """The dev stack's one workload."""
    (workload,) = d.workloads
    return workload


def _declared_chain(d: Declarations) -> list[Link]:
    """The chain as declared, before any pod ran: what the services would compare."""
    return trust_chain(d, _only(d), admit(d, _only(d), "token"), [], [])


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _workload_client_id(d: Declarations) -> str:
    return next(i.client_id for i in d.identities if i.name == d.federated_credentials[0].identity_name)


def _exchange(twin: Twin, env: dict[str, str], assertion: str) -> dict:
    """A token request as azure-identity makes it, sent through the twin's proxy like the app's."""
    tenant = env["AZURE_TENANT_ID"]
    response = twin.client.post(
        f"https://{ENTRA_HOST}/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": env["AZURE_CLIENT_ID"],
            "scope": f"{facts.KEY_VAULT_RESOURCE}/.default",
            "client_assertion_type": facts.JWT_BEARER_ASSERTION,
            "client_assertion": assertion,
        },
        timeout=5,
    )
    return response.json()
