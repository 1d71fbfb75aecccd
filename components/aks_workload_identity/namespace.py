"""WorkloadNamespace: a namespace that admits only "restricted" pods and, with network policy on, no traffic at all
until a workload's own policy allows it."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from aks_workload_identity import facts


class WorkloadNamespaceArgs(TypedDict):
    name: pulumi.Input[str]
    """The namespace's name (a DNS-1123 label of your own, not default or kube-*)."""
    network_policy: NotRequired[bool]
    """Deny all ingress and egress of every pod in it (the default), so each workload allows exactly what it needs."""


class WorkloadNamespace(pulumi.ComponentResource):
    """A namespace that admits only "restricted" pods and, with network policy on, no traffic at all until a
    workload's own policy allows it. Kubernetes objects use the `kubernetes` provider passed in `opts.providers`."""

    name: pulumi.Output[str]
    """The namespace's name, known once it exists: pass it on to order what goes into the namespace after it."""

    def __init__(self, name: str, args: WorkloadNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:WorkloadNamespace", name, None, opts)
        # The pod-security label makes the cluster itself refuse any pod here that is not "restricted".
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args["name"], "labels": {facts.POD_SECURITY_ENFORCE_LABEL: "restricted"}},
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.get("network_policy", True):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-default-deny",
                metadata={"name": "default-deny", "namespace": namespace.metadata.name},
                spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.name = namespace.metadata.name
        self.register_outputs({"name": self.name})
