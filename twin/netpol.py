"""Kubernetes NetworkPolicy (`networking.k8s.io/v1`) egress, judged as the API documents it.

The rules, from the Kubernetes documentation ("Network Policies") and the v1 API reference:

- A policy selects pods in its own namespace by `podSelector`; an empty selector selects every pod there.
- A pod is isolated for egress when some policy selecting it has `Egress` in `policyTypes`. When `policyTypes`
  is absent, the API server defaults it to `Ingress`, plus `Egress` only if the policy has egress rules; so a
  policy with only ingress types never restricts egress. A pod no policy isolates may send anywhere.
- An isolated pod may send a packet only if some egress rule of some policy selecting it allows it: policies
  add up, none subtracts. A rule allows a packet when one of its `to` peers matches the destination and one of
  its `ports` matches the protocol and port; an empty or absent `to` matches every destination, an empty or
  absent `ports` every port.
- A peer is an `ipBlock` (`cidr` minus its `except` ranges), or selectors: `podSelector` alone means pods in the
  policy's own namespace; `namespaceSelector` alone means every pod in the selected namespaces; both in one peer
  means the selected pods in the selected namespaces (AND). Selectors match pods only, never an address outside
  the cluster. `ipBlock` is matched against the destination address, pods' included (the documentation warns
  that pod addresses are ephemeral; the twin's pods have fixed ones).
- A port has `protocol` (TCP, UDP or SCTP; default TCP), `port` (absent: every port of the protocol) and
  `endPort` (a range from `port`). Named ports (`port: https`) name a destination pod's container port; this
  evaluator refuses them with `PolicyError` rather than guessing.
- Label selectors: `matchLabels` and every `matchExpressions` requirement must hold (AND); `In` (the key is
  present with one of the values), `NotIn` (absent, or present with none of the values), `Exists`,
  `DoesNotExist`. An empty selector matches everything.
- Every namespace carries the label `kubernetes.io/metadata.name: <its name>` (set by the API server).

Ingress is not modelled: the twin's app only sends.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PROTOCOLS = ("TCP", "UDP", "SCTP")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
INGRESS, EGRESS = "Ingress", "Egress"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PolicyError(ValueError):
    """A policy this evaluator cannot judge: invalid as the API server would refuse it, or not supported."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels  # DoesNotExist


@dataclass(frozen=True)
class Selector:
    """A label selector; the empty one matches every set of labels."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )


@dataclass(frozen=True)
class IPBlock:
    cidr: Network
    excepted: tuple[Network, ...] = ()

    def contains(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        if ip not in self.cidr:  # never across IP versions
            return False
        return not any(ip in block for block in self.excepted)


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    #: The namespace's labels; `kubernetes.io/metadata.name` is always added (the API server sets it).
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    def all_namespace_labels(self) -> dict[str, str]:
        return {**self.namespace_labels, NAMESPACE_NAME_LABEL: self.namespace}


@dataclass(frozen=True)
class Peer:
    ip_block: IPBlock | None = None
    namespace_selector: Selector | None = None
    pod_selector: Selector | None = None

    def matches(self, destination: Endpoint, policy_namespace: str) -> bool:
        if self.ip_block is not None:
            return self.ip_block.contains(destination.address)
        pod = destination.pod
        if pod is None:  # selectors name pods; an address outside the cluster is no pod
            return False
        if self.namespace_selector is None:
            in_namespace = pod.namespace == policy_namespace
        else:
            in_namespace = self.namespace_selector.matches(pod.all_namespace_labels())
        return in_namespace and (self.pod_selector is None or self.pod_selector.matches(pod.labels))


@dataclass(frozen=True)
class Port:
    protocol: str = "TCP"
    #: None: every port of the protocol.
    port: int | None = None
    end_port: int | None = None

    def matches(self, protocol: str, port: int) -> bool:
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        return self.port <= port <= (self.end_port if self.end_port is not None else self.port)


@dataclass(frozen=True)
class EgressRule:
    #: Empty: every destination.
    to: tuple[Peer, ...] = ()
    #: Empty: every port.
    ports: tuple[Port, ...] = ()

    def allows(self, destination: Endpoint, policy_namespace: str) -> bool:
        to_ok = not self.to or any(peer.matches(destination, policy_namespace) for peer in self.to)
        port_ok = not self.ports or any(p.matches(destination.protocol, destination.port) for p in self.ports)
        return to_ok and port_ok


@dataclass(frozen=True)
class NetworkPolicy:
    name: str
    namespace: str
    pod_selector: Selector
    #: After the API server's defaulting (see `parse`).
    policy_types: tuple[str, ...]
    egress: tuple[EgressRule, ...] = ()

    def selects(self, pod: Pod) -> bool:
        return pod.namespace == self.namespace and self.pod_selector.matches(pod.labels)

    def isolates_egress(self, pod: Pod) -> bool:
        return EGRESS in self.policy_types and self.selects(pod)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Endpoint:
    """Where a packet goes: an address, a protocol and port, and the pod behind the address if it is one."""

    address: str
    protocol: str
    port: int
    pod: Pod | None = None

    def __str__(self) -> str:
        where = f"{self.address} (pod in {self.pod.namespace})" if self.pod else self.address
        return f"{self.protocol} {self.port} to {where}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    #: One line: which policy and rule allowed it, or which policies isolate the pod.
    reason: str


def egress(policies: Iterable[NetworkPolicy], source: Pod, destination: Endpoint) -> Verdict:
    """Whether `source` may send to `destination` under `policies` (all of the cluster's; others are ignored)."""
    isolating = [p for p in policies if p.isolates_egress(source)]
    if not isolating:
        return Verdict(True, f"no NetworkPolicy isolates the pod's egress in {source.namespace}: all egress allowed")
    for policy in isolating:
        for number, rule in enumerate(policy.egress, 1):
            if rule.allows(destination, policy.namespace):
                return Verdict(True, f"allowed by {policy} egress rule {number}")
    names = ", ".join(str(p) for p in isolating)
    return Verdict(False, f"{destination} denied: isolated by {names}, and no egress rule of theirs allows it")


# --- the object as Kubernetes stores it (camelCase), as the program declares it -------------------------------


def parse(manifest: Mapping[str, Any], name: str | None = None) -> NetworkPolicy:
    """A `NetworkPolicy` object (`metadata`, `spec`); `name` stands in when the metadata has none (auto-naming)."""
    metadata = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    policy_name = metadata.get("name") or name or "?"
    where = f"NetworkPolicy {policy_name}"
    if "podSelector" not in spec:
        raise PolicyError(f"{where}: spec.podSelector is required (use {{}} for every pod in the namespace)")
    egress_rules = tuple(_rule(r, f"{where} egress[{i}]") for i, r in enumerate(spec.get("egress") or ()))
    types = spec.get("policyTypes")
    if types is None:  # the API server's default
        types = [INGRESS, EGRESS] if egress_rules else [INGRESS]
    for policy_type in types:
        if policy_type not in (INGRESS, EGRESS):
            raise PolicyError(f"{where}: policyTypes entry {policy_type!r} is not Ingress or Egress")
    return NetworkPolicy(
        name=policy_name,
        namespace=metadata.get("namespace") or "default",
        pod_selector=_selector(spec["podSelector"], f"{where} podSelector"),
        policy_types=tuple(types),
        egress=egress_rules,
    )


def _rule(rule: Mapping[str, Any], where: str) -> EgressRule:
    return EgressRule(
        to=tuple(_peer(p, f"{where}.to[{i}]") for i, p in enumerate(rule.get("to") or ())),
        ports=tuple(_port(p, f"{where}.ports[{i}]") for i, p in enumerate(rule.get("ports") or ())),
    )


def _peer(peer: Mapping[str, Any], where: str) -> Peer:
    ip_block = peer.get("ipBlock")
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if ip_block is not None and (pods is not None or namespaces is not None):
        raise PolicyError(f"{where}: ipBlock may not be combined with podSelector or namespaceSelector")
    if ip_block is not None:
        return Peer(ip_block=_ip_block(ip_block, where))
    if pods is None and namespaces is None:
        raise PolicyError(f"{where}: a peer needs ipBlock, podSelector or namespaceSelector")
    return Peer(
        namespace_selector=None if namespaces is None else _selector(namespaces, f"{where}.namespaceSelector"),
        pod_selector=None if pods is None else _selector(pods, f"{where}.podSelector"),
    )


def _ip_block(block: Mapping[str, Any], where: str) -> IPBlock:
    if "cidr" not in block:
        raise PolicyError(f"{where}.ipBlock: cidr is required")
    try:
        cidr = ipaddress.ip_network(block["cidr"], strict=False)
        excepted = tuple(ipaddress.ip_network(e, strict=False) for e in block.get("except") or ())
    except ValueError as error:
        raise PolicyError(f"{where}.ipBlock: {error}") from None
    for excluded in excepted:
        # Same version once past the first test; the stubs cannot tie the two networks' types together.
        if excluded.version != cidr.version or not excluded.subnet_of(cidr):  # pyright: ignore[reportArgumentType]
            raise PolicyError(f"{where}.ipBlock: except {excluded} is not inside cidr {cidr}")
    return IPBlock(cidr, excepted)


def _port(port: Mapping[str, Any], where: str) -> Port:
    protocol = port.get("protocol") or "TCP"
    if protocol not in PROTOCOLS:
        raise PolicyError(f"{where}: protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    number, end = port.get("port"), port.get("endPort")
    if isinstance(number, str):
        raise PolicyError(f"{where}: named port {number!r} is not supported by the twin; use the port number")
    # Whole numbers may arrive as floats (53.0): Pulumi's wire format has only one number type.
    for value in (number, end):
        if value is not None and value != int(value):
            raise PolicyError(f"{where}: port {value} is not a whole number")
    if number is not None and not 1 <= int(number) <= 65535:
        raise PolicyError(f"{where}: port {number} is not 1-65535")
    if end is not None and (number is None or not int(number) <= int(end) <= 65535):
        raise PolicyError(f"{where}: endPort {end} needs a port at most endPort, and at most 65535")
    return Port(protocol, None if number is None else int(number), None if end is None else int(end))


def _selector(selector: Mapping[str, Any] | None, where: str) -> Selector:
    selector = selector or {}
    requirements = []
    for i, expression in enumerate(selector.get("matchExpressions") or ()):
        key, operator, values = expression.get("key"), expression.get("operator"), tuple(expression.get("values") or ())
        if not key:
            raise PolicyError(f"{where}.matchExpressions[{i}]: key is required")
        if operator not in OPERATORS:
            raise PolicyError(f"{where}.matchExpressions[{i}]: operator {operator!r} is not one of {OPERATORS}")
        if operator in ("In", "NotIn") and not values:
            raise PolicyError(f"{where}.matchExpressions[{i}]: {operator} needs values")
        if operator in ("Exists", "DoesNotExist") and values:
            raise PolicyError(f"{where}.matchExpressions[{i}]: {operator} takes no values")
        requirements.append(Requirement(key, operator, values))
    return Selector(dict(selector.get("matchLabels") or {}), tuple(requirements))
