"""The twin's NetworkPolicy evaluator against the semantics the Kubernetes documentation gives.

Each case is a set of policies as the API takes them, a sending pod, a destination and the expected verdict.
Several would pass on a naive evaluator only by accident; their ids say which shortcut they catch.
"""

from __future__ import annotations

from typing import Any

import pytest

from aks_workload_identity import facts
from twin import model
from twin.declared import from_program
from twin.mocks import Program
from twin.netpol import Endpoint, NetworkPolicy, Pod, PolicyError, egress, parse

NS = "wi-demo"
APP = Pod(NS, {"app.kubernetes.io/instance": "reader", "tier": "backend"})
DNS = Endpoint("10.244.0.10", "UDP", 53, Pod("kube-system", {"k8s-app": "kube-dns"}))
DNS_TCP = Endpoint("10.244.0.10", "TCP", 53, DNS.pod)
LOCAL_DNS = Endpoint("10.244.1.7", "UDP", 53, Pod(NS, {"k8s-app": "kube-dns"}))
PUBLIC_443 = Endpoint("203.0.113.10", "TCP", 443)
PUBLIC_80 = Endpoint("203.0.113.10", "TCP", 80)
PRIVATE_443 = Endpoint("10.10.8.4", "TCP", 443)
IMDS = Endpoint("169.254.169.254", "TCP", 80)
IMDS_443 = Endpoint("169.254.169.254", "TCP", 443)
PUBLIC_V6 = Endpoint("2001:db8::1", "TCP", 443)
PRIVATE_EXCEPT = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]


def policy(spec: dict[str, Any], name: str = "p", namespace: str = NS) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def egress_only(*rules: dict[str, Any], selector: dict[str, Any] | None = None) -> dict[str, Any]:
    return policy({"podSelector": selector or {}, "policyTypes": ["Egress"], "egress": list(rules)})


DEFAULT_DENY = policy({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, "default-deny")
TCP_443 = [{"protocol": "TCP", "port": 443}]
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
PUBLIC_ONLY = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_EXCEPT}}], "ports": TCP_443}

CASES: dict[str, tuple[list[dict[str, Any]], Pod, Endpoint, bool]] = {
    "no policy: all egress allowed": ([], APP, IMDS, True),
    "a policy in another namespace does not isolate": (
        [policy({"podSelector": {}, "policyTypes": ["Egress"]}, namespace="other")],
        APP,
        PUBLIC_443,
        True,
    ),
    "an Ingress-only policy does not isolate egress": (
        [policy({"podSelector": {}, "policyTypes": ["Ingress"]})],
        APP,
        IMDS,
        True,
    ),
    "absent policyTypes with egress rules defaults to Egress": (
        [policy({"podSelector": {}, "egress": [{"ports": TCP_443}]})],
        APP,
        IMDS,
        False,
    ),
    "absent policyTypes without egress rules is Ingress only": ([policy({"podSelector": {}})], APP, IMDS, True),
    "default-deny denies everything, DNS included": ([DEFAULT_DENY], APP, DNS, False),
    "policies add up: default-deny plus an allow": ([DEFAULT_DENY, egress_only(PUBLIC_ONLY)], APP, PUBLIC_443, True),
    "a deny-all that does not select the pod does not isolate it": (
        [policy({"podSelector": {"matchLabels": {"tier": "frontend"}}, "policyTypes": ["Egress"]})],
        APP,
        IMDS,
        True,
    ),
    "empty to with ports: any destination on that port": ([egress_only({"ports": TCP_443})], APP, IMDS_443, True),
    "empty to with ports: other ports stay denied": ([egress_only({"ports": TCP_443})], APP, PUBLIC_80, False),
    "to without ports: every port": (
        [egress_only({"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]})],
        APP,
        PUBLIC_80,
        True,
    ),
    "an empty rule allows everything": ([egress_only({})], APP, IMDS, True),
    "podSelector alone means the policy's namespace, not kube-system": (
        [egress_only({"to": [{"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]})],
        APP,
        DNS,
        False,
    ),
    "podSelector alone matches a pod in the policy's namespace": (
        [egress_only({"to": [{"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]})],
        APP,
        LOCAL_DNS,
        True,
    ),
    "namespace and pod selectors in one peer are ANDed": (
        [egress_only({"to": [DNS_PEER]})],
        APP,
        LOCAL_DNS,
        False,
    ),
    "namespace and pod selectors in two peers are ORed": (
        [
            egress_only(
                {"to": [{"namespaceSelector": DNS_PEER["namespaceSelector"]}, {"podSelector": DNS_PEER["podSelector"]}]}
            )
        ],
        APP,
        LOCAL_DNS,
        True,
    ),
    "the metadata.name label is on every namespace": ([egress_only({"to": [DNS_PEER]})], APP, DNS, True),
    "an empty namespaceSelector matches pods anywhere": (
        [egress_only({"to": [{"namespaceSelector": {}}]})],
        APP,
        DNS,
        True,
    ),
    "an empty namespaceSelector matches no address outside the cluster": (
        [egress_only({"to": [{"namespaceSelector": {}}]})],
        APP,
        PUBLIC_443,
        False,
    ),
    "ipBlock except removes IMDS from 0.0.0.0/0": ([egress_only(PUBLIC_ONLY)], APP, IMDS_443, False),
    "ipBlock except removes a private address from 0.0.0.0/0": ([egress_only(PUBLIC_ONLY)], APP, PRIVATE_443, False),
    "ipBlock 0.0.0.0/0 allows a public address": ([egress_only(PUBLIC_ONLY)], APP, PUBLIC_443, True),
    "an IPv4 block does not match an IPv6 address": ([egress_only(PUBLIC_ONLY)], APP, PUBLIC_V6, False),
    "ipBlock is matched against a pod's address too": (
        [egress_only({"to": [{"ipBlock": {"cidr": "10.244.0.0/16"}}]})],
        APP,
        DNS,
        True,
    ),
    "a port without protocol is TCP only": (
        [egress_only({"to": [DNS_PEER], "ports": [{"port": 53}]})],
        APP,
        DNS,
        False,
    ),
    "a protocol without port is every port of it": (
        [egress_only({"ports": [{"protocol": "UDP"}]})],
        APP,
        DNS,
        True,
    ),
    "a port number as Pulumi sends it (443.0) is the port": (
        [egress_only({"ports": [{"port": 443.0}]})],
        APP,
        PUBLIC_443,
        True,
    ),
    "endPort makes a range": ([egress_only({"ports": [{"port": 400, "endPort": 450}]})], APP, PUBLIC_443, True),
    "endPort's range ends there": ([egress_only({"ports": [{"port": 400, "endPort": 442}]})], APP, PUBLIC_443, False),
    "NotIn matches a pod without the key": (
        [
            egress_only(
                {
                    "to": [
                        {
                            "podSelector": {
                                "matchExpressions": [{"key": "k8s-app", "operator": "NotIn", "values": ["x"]}]
                            }
                        }
                    ]
                }
            )
        ],
        APP,
        Endpoint("10.244.1.8", "TCP", 443, Pod(NS, {})),
        True,
    ),
    "In needs the key": (
        [
            egress_only(
                {"to": [{"podSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["x"]}]}}]}
            )
        ],
        APP,
        Endpoint("10.244.1.8", "TCP", 443, Pod(NS, {})),
        False,
    ),
    "In matches a listed value, and only that": (
        [
            egress_only(
                {"to": [{"podSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["x"]}]}}]}
            )
        ],
        APP,
        Endpoint("10.244.1.8", "TCP", 443, Pod(NS, {"k8s-app": "x"})),
        True,
    ),
    "NotIn matches a value it does not list": (
        [
            egress_only(
                {
                    "to": [
                        {
                            "podSelector": {
                                "matchExpressions": [{"key": "k8s-app", "operator": "NotIn", "values": ["x"]}]
                            }
                        }
                    ]
                }
            )
        ],
        APP,
        Endpoint("10.244.1.8", "TCP", 443, Pod(NS, {"k8s-app": "y"})),
        True,
    ),
    "NotIn refuses a listed value": (
        [
            egress_only(
                {
                    "to": [
                        {
                            "podSelector": {
                                "matchExpressions": [{"key": "k8s-app", "operator": "NotIn", "values": ["x"]}]
                            }
                        }
                    ]
                }
            )
        ],
        APP,
        Endpoint("10.244.1.8", "TCP", 443, Pod(NS, {"k8s-app": "x"})),
        False,
    ),
    "matchLabels and matchExpressions are ANDed in the policy's podSelector": (
        [
            egress_only(
                selector={
                    "matchLabels": {"tier": "backend"},
                    "matchExpressions": [{"key": "app.kubernetes.io/instance", "operator": "DoesNotExist"}],
                }
            )
        ],
        APP,
        IMDS,
        True,
    ),
    "Exists selects the pod, and an isolating policy without rules denies": (
        [egress_only(selector={"matchExpressions": [{"key": "tier", "operator": "Exists"}]})],
        APP,
        IMDS,
        False,
    ),
    "namespace and pod selectors in one peer: the right namespace alone is not enough": (
        [egress_only({"to": [DNS_PEER]})],
        APP,
        Endpoint("10.244.0.20", "UDP", 53, Pod("kube-system", {"k8s-app": "metrics-server"})),
        False,
    ),
    "a namespaceSelector matches the namespace's own labels": (
        [egress_only({"to": [{"namespaceSelector": {"matchLabels": {"team": "platform"}}}]})],
        APP,
        Endpoint("10.244.2.5", "TCP", 443, Pod("monitoring", {}, {"team": "platform"})),
        True,
    ),
    "the metadata.name label is the namespace's real name, whatever else it is labelled": (
        [egress_only({"to": [DNS_PEER]})],
        APP,
        Endpoint(
            "10.244.2.5",
            "UDP",
            53,
            Pod("evil", facts.DNS_POD_LABELS, {facts.NAMESPACE_NAME_LABEL: facts.DNS_NAMESPACE}),
        ),
        False,
    ),
    "Exists does not select a pod without the key": (
        [egress_only(selector={"matchExpressions": [{"key": "team", "operator": "Exists"}]})],
        APP,
        IMDS,
        True,
    ),
    "DoesNotExist selects a pod without the key": (
        [egress_only(selector={"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]})],
        APP,
        IMDS,
        False,
    ),
    "an address just outside the cidr is not in the block": (
        [egress_only({"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]})],
        APP,
        Endpoint("203.0.114.0", "TCP", 443),
        False,
    ),
    "an IPv6 block matches an IPv6 address": (
        [egress_only({"to": [{"ipBlock": {"cidr": "::/0"}}]})],
        APP,
        PUBLIC_V6,
        True,
    ),
    "an IPv6 block does not match an IPv4 address": (
        [egress_only({"to": [{"ipBlock": {"cidr": "::/0"}}]})],
        APP,
        PUBLIC_443,
        False,
    ),
    "an IPv6 except removes its range": (
        [egress_only({"to": [{"ipBlock": {"cidr": "::/0", "except": ["2001:db8::/32"]}}]})],
        APP,
        PUBLIC_V6,
        False,
    ),
    # The API server parses `cidr` and `except` leniently (host bits set are masked off, as `net.ParseCIDR` does).
    "a cidr with host bits set is its network": (
        [egress_only({"to": [{"ipBlock": {"cidr": "203.0.113.99/24"}}]})],
        APP,
        PUBLIC_443,
        True,
    ),
    "an except with host bits set removes its network": (
        [egress_only({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.1/16"]}}]})],
        APP,
        IMDS,
        False,
    ),
    # Ports: `port` alone is that port; `endPort` makes the range port..endPort, both ends included; 1 and 65535 are
    # valid port numbers; SCTP is one of the three protocols.
    "a port alone is that port only": (
        [egress_only({"ports": [{"port": 443}]})],
        APP,
        Endpoint(PUBLIC_443.address, "TCP", 444),
        False,
    ),
    "endPort's range starts at port": (
        [egress_only({"ports": [{"port": 443, "endPort": 450}]})],
        APP,
        PUBLIC_443,
        True,
    ),
    "endPort equal to port is that one port": (
        [egress_only({"ports": [{"port": 65535, "endPort": 65535}]})],
        APP,
        Endpoint(PUBLIC_443.address, "TCP", 65535),
        True,
    ),
    "port 1 is a port": ([egress_only({"ports": [{"port": 1}]})], APP, Endpoint(PUBLIC_443.address, "TCP", 1), True),
    "port 65535 is a port": (
        [egress_only({"ports": [{"port": 65535}]})],
        APP,
        Endpoint(PUBLIC_443.address, "TCP", 65535),
        True,
    ),
    "SCTP is a protocol": (
        [egress_only({"ports": [{"protocol": "SCTP", "port": 443}]})],
        APP,
        Endpoint(PUBLIC_443.address, "SCTP", 443),
        True,
    ),
    "a protocol without port is that protocol only": (
        [egress_only({"ports": [{"protocol": "UDP"}]})],
        APP,
        DNS_TCP,
        False,
    ),
}


@pytest.mark.parametrize(("policies", "source", "destination", "allowed"), CASES.values(), ids=CASES.keys())
def test_egress_follows_the_kubernetes_semantics(
    policies: list[dict[str, Any]], source: Pod, destination: Endpoint, allowed: bool
) -> None:
    assert egress([parse(p) for p in policies], source, destination).allowed is allowed


def test_the_verdict_names_the_rule_that_allowed_or_the_policies_that_isolate() -> None:
    policies = [parse(DEFAULT_DENY), parse(egress_only({"to": [DNS_PEER]}, PUBLIC_ONLY))]
    assert egress(policies, APP, PUBLIC_443).reason == f"allowed by {NS}/p egress rule 2"
    assert egress(policies, APP, IMDS).reason == (
        "TCP 80 to 169.254.169.254 denied: isolated by wi-demo/default-deny, wi-demo/p, "
        "and no egress rule of theirs allows it"
    )
    metrics = Endpoint("10.244.0.20", "TCP", 443, Pod("kube-system", {"k8s-app": "metrics-server"}))
    assert egress(policies, APP, metrics).reason == (
        "TCP 443 to 10.244.0.20 (pod in kube-system) denied: isolated by wi-demo/default-deny, wi-demo/p, "
        "and no egress rule of theirs allows it"
    )
    assert egress(policies, Pod("other"), IMDS).reason == (
        "no NetworkPolicy isolates the pod's egress in other: all egress allowed"
    )


def test_a_policy_is_named_by_its_metadata_else_by_the_given_name() -> None:
    """`name` stands in for an auto-named object; a manifest without a namespace lands in `default`."""
    spec = {"podSelector": {}, "policyTypes": ["Egress"]}
    named = parse({"metadata": {"name": "deny", "namespace": NS}, "spec": spec}, name="auto")
    auto = parse({"metadata": {}, "spec": spec}, name="auto-1a2b")
    assert (named.name, named.namespace, str(named)) == ("deny", NS, f"{NS}/deny")
    assert (auto.name, auto.namespace, str(auto)) == ("auto-1a2b", "default", "default/auto-1a2b")
    assert parse({"spec": spec}).name == "?"
    # The default namespace's pods are the ones it isolates.
    assert egress([auto], Pod("default"), IMDS).reason == (
        "TCP 80 to 169.254.169.254 denied: isolated by default/auto-1a2b, and no egress rule of theirs allows it"
    )


# --- the program's own egress policy: the prod stack's NetworkPolicies as the Pulumi program declares them -------

#: AKS LocalDNS (FACTS "AKS LocalDNS"): written out here, so that a slip in facts.py fails too.
LOCALDNS = ("169.254.10.10", "169.254.10.11")
PROGRAM_CASES = {
    **{
        f"LocalDNS {address} {protocol} 53 is allowed": (Endpoint(address, protocol, 53), True)
        for address in LOCALDNS
        for protocol in ("UDP", "TCP")
    },
    "LocalDNS on 443 is denied (the DNS rule opens 53 only)": (Endpoint(LOCALDNS[0], "TCP", 443), False),
    "LocalDNS on 80 is denied": (Endpoint(LOCALDNS[1], "TCP", 80), False),
    "LocalDNS on UDP 54 is denied": (Endpoint(LOCALDNS[0], "UDP", 54), False),
    "the address after LocalDNS is denied on 53 (a /32, not a range)": (Endpoint("169.254.10.12", "UDP", 53), False),
    "the address before LocalDNS is denied on 53": (Endpoint("169.254.10.9", "UDP", 53), False),
    "IMDS on 80 is denied": (IMDS, False),
    "IMDS on 443 is denied (link-local is out of the public rule)": (IMDS_443, False),
    "IMDS on 53 is denied": (Endpoint("169.254.169.254", "UDP", 53), False),
    "kube-dns UDP 53 is allowed": (model.dns("UDP"), True),
    "kube-dns TCP 53 is allowed": (model.dns("TCP"), True),
    "public 443 is allowed": (PUBLIC_443, True),
    "public 80 is denied": (PUBLIC_80, False),
}


@pytest.fixture(scope="module")
def prod_network(prod: Program) -> tuple[tuple[NetworkPolicy, ...], tuple[Pod, ...]]:
    declared = from_program(prod)
    assert declared.network_policies and declared.workloads
    return declared.network_policies, tuple(w.pod for w in declared.workloads)


@pytest.mark.parametrize(("destination", "allowed"), PROGRAM_CASES.values(), ids=PROGRAM_CASES.keys())
def test_the_programs_egress_policy_allows_localdns_on_port_53_only_and_keeps_imds_closed(
    prod_network: tuple[tuple[NetworkPolicy, ...], tuple[Pod, ...]], destination: Endpoint, allowed: bool
) -> None:
    policies, pods = prod_network
    for pod in pods:
        verdict = egress(policies, pod, destination)
        assert verdict.allowed is allowed, verdict.reason


def test_localdns_is_allowed_by_the_dns_rule_as_the_facts_name_it(
    prod_network: tuple[tuple[NetworkPolicy, ...], tuple[Pod, ...]],
) -> None:
    """The same rule that opens kube-dns opens LocalDNS, so neither is open on any port but 53."""
    assert facts.LOCAL_DNS_ADDRESSES == LOCALDNS
    policies, pods = prod_network
    for pod in pods:
        kube_dns = egress(policies, pod, model.dns("UDP")).reason
        assert kube_dns.startswith("allowed by ") and kube_dns.endswith(" egress rule 1"), kube_dns
        for address in LOCALDNS:
            assert egress(policies, pod, Endpoint(address, "TCP", 53)).reason == kube_dns


# Refusals, each message whole: which object, which field, which rule. The rules are the API server's validation as
# the NetworkPolicy documentation and API reference state them: a port is 1-65535; `endPort` needs a numeric `port`
# no greater than it; protocol is TCP, UDP or SCTP; a peer is an ipBlock or selectors, never both; `except`
# ranges lie inside `cidr`; In/NotIn need values, Exists/DoesNotExist take none; `policyTypes` holds Ingress or
# Egress. Named ports the twin refuses rather than guess (a pod's container port would decide).
TO = "NetworkPolicy p egress[0].to[0]"
PORTS = "NetworkPolicy p egress[0].ports[0]"
SELECTOR = "NetworkPolicy p podSelector.matchExpressions[0]"
INVALID = {
    "named port": (
        egress_only({"ports": [{"port": "https"}]}),
        f"{PORTS}: named port 'https' is not supported by the twin; use the port number",
    ),
    "ipBlock with a selector": (
        egress_only({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}, "podSelector": {}}]}),
        f"{TO}: ipBlock may not be combined with podSelector or namespaceSelector",
    ),
    "ipBlock with a namespaceSelector": (
        egress_only({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}, "namespaceSelector": {}}]}),
        f"{TO}: ipBlock may not be combined with podSelector or namespaceSelector",
    ),
    "empty peer": (egress_only({"to": [{}]}), f"{TO}: a peer needs ipBlock, podSelector or namespaceSelector"),
    "ipBlock without cidr": (egress_only({"to": [{"ipBlock": {}}]}), f"{TO}.ipBlock: cidr is required"),
    "cidr that is no network": (
        egress_only({"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}),
        f"{TO}.ipBlock: '10.0.0.0/33' does not appear to be an IPv4 or IPv6 network",
    ),
    "except that is no network": (
        egress_only({"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/x"]}}]}),
        f"{TO}.ipBlock: '10.1.0.0/x' does not appear to be an IPv4 or IPv6 network",
    ),
    "except outside the cidr": (
        egress_only({"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]}),
        f"{TO}.ipBlock: except 192.168.0.0/16 is not inside cidr 10.0.0.0/8",
    ),
    "except of the other IP version": (
        egress_only({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["2001:db8::/32"]}}]}),
        f"{TO}.ipBlock: except 2001:db8::/32 is not inside cidr 0.0.0.0/0",
    ),
    "selector in the second peer of the second rule": (
        egress_only(
            {},
            {
                "to": [
                    {"podSelector": {}},
                    {"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b"]}]}},
                ]
            },
        ),
        "NetworkPolicy p egress[1].to[1].namespaceSelector.matchExpressions[0]: Exists takes no values",
    ),
    "pod selector of a peer": (
        egress_only({"to": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "NotIn"}]}}]}),
        f"{TO}.podSelector.matchExpressions[0]: NotIn needs values",
    ),
    "requirement without a key": (
        egress_only(selector={"matchExpressions": [{"operator": "Exists"}]}),
        f"{SELECTOR}: key is required",
    ),
    "unknown operator": (
        egress_only(selector={"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}),
        f"{SELECTOR}: operator 'Equals' is not one of ('In', 'NotIn', 'Exists', 'DoesNotExist')",
    ),
    "In without values": (
        egress_only(selector={"matchExpressions": [{"key": "a", "operator": "In"}]}),
        f"{SELECTOR}: In needs values",
    ),
    "DoesNotExist with values": (
        egress_only(selector={"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["b"]}]}),
        f"{SELECTOR}: DoesNotExist takes no values",
    ),
    "unknown protocol": (
        egress_only({"ports": [{"protocol": "ICMP"}]}),
        f"{PORTS}: protocol 'ICMP' is not one of TCP, UDP, SCTP",
    ),
    "fractional port": (egress_only({"ports": [{"port": 53.5}]}), f"{PORTS}: port 53.5 is not a whole number"),
    "fractional endPort": (
        egress_only({"ports": [{"port": 53, "endPort": 60.5}]}),
        f"{PORTS}: port 60.5 is not a whole number",
    ),
    "port 0": (egress_only({"ports": [{"port": 0}]}), f"{PORTS}: port 0 is not 1-65535"),
    "port 65536": (egress_only({"ports": [{"port": 65536}]}), f"{PORTS}: port 65536 is not 1-65535"),
    "endPort below port": (
        egress_only({"ports": [{"port": 443, "endPort": 442}]}),
        f"{PORTS}: endPort 442 needs a port at most endPort, and at most 65535",
    ),
    "endPort above 65535": (
        egress_only({"ports": [{"port": 443, "endPort": 65536}]}),
        f"{PORTS}: endPort 65536 needs a port at most endPort, and at most 65535",
    ),
    "endPort without port": (
        egress_only({"ports": [{"endPort": 443}]}),
        f"{PORTS}: endPort 443 needs a port at most endPort, and at most 65535",
    ),
    "unknown policy type": (
        policy({"podSelector": {}, "policyTypes": ["Ingress", "egress"]}),
        "NetworkPolicy p: policyTypes entry 'egress' is not Ingress or Egress",
    ),
    "no podSelector": (
        policy({"policyTypes": ["Egress"]}),
        "NetworkPolicy p: spec.podSelector is required (use {} for every pod in the namespace)",
    ),
}


@pytest.mark.parametrize(("manifest", "message"), INVALID.values(), ids=INVALID.keys())
def test_a_policy_it_cannot_judge_is_refused_with_the_reason(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse(manifest)
    assert str(refused.value) == message
