"""The twin's NetworkPolicy evaluator against the semantics the Kubernetes documentation gives.

Each case is a set of policies as the API takes them, a sending pod, a destination and the expected verdict.
Several would pass on a naive evaluator only by accident; their ids say which shortcut they catch.
"""

from __future__ import annotations

from typing import Any

import pytest

from twin.netpol import Endpoint, Pod, PolicyError, egress, parse

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
}


@pytest.mark.parametrize(("policies", "source", "destination", "allowed"), CASES.values(), ids=CASES.keys())
def test_egress_follows_the_kubernetes_semantics(
    policies: list[dict[str, Any]], source: Pod, destination: Endpoint, allowed: bool
) -> None:
    assert egress([parse(p) for p in policies], source, destination).allowed is allowed


def test_the_verdict_names_the_rule_that_allowed_or_the_policies_that_isolate() -> None:
    policies = [parse(DEFAULT_DENY), parse(egress_only({"to": [DNS_PEER]}, PUBLIC_ONLY))]
    assert egress(policies, APP, PUBLIC_443).reason == f"allowed by {NS}/p egress rule 2"
    denied = egress(policies, APP, IMDS).reason
    assert denied.startswith("TCP 80 to 169.254.169.254 denied: isolated by wi-demo/default-deny, wi-demo/p")


INVALID = {
    "named port": (egress_only({"ports": [{"port": "https"}]}), "named port 'https' is not supported"),
    "ipBlock with a selector": (
        egress_only({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}, "podSelector": {}}]}),
        "ipBlock may not be combined",
    ),
    "empty peer": (egress_only({"to": [{}]}), "a peer needs ipBlock, podSelector or namespaceSelector"),
    "except outside the cidr": (
        egress_only({"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]}),
        "except 192.168.0.0/16 is not inside cidr 10.0.0.0/8",
    ),
    "unknown operator": (
        egress_only(selector={"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}),
        "operator 'Equals'",
    ),
    "In without values": (
        egress_only(selector={"matchExpressions": [{"key": "a", "operator": "In"}]}),
        "In needs values",
    ),
    "unknown protocol": (egress_only({"ports": [{"protocol": "ICMP"}]}), "protocol 'ICMP'"),
    "fractional port": (egress_only({"ports": [{"port": 53.5}]}), "port 53.5 is not a whole number"),
    "no podSelector": (policy({"policyTypes": ["Egress"]}), "spec.podSelector is required"),
}


@pytest.mark.parametrize(("manifest", "message"), INVALID.values(), ids=INVALID.keys())
def test_a_policy_it_cannot_judge_is_refused_with_the_reason(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse(manifest)
