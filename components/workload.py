"""WorkloadPod: the secret-reader Deployment, labelled for workload identity and locked down."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import facts

#: How long a rollout may take before the Deployment (and `pulumi up`) fails: data-plane RBAC alone can take
#: 10 minutes (facts: Key Vault), then the image pull and the first successful read.
ROLLOUT_SECONDS = facts.RBAC_PROPAGATION_SECONDS + 600
#: The app's health endpoints (its /readyz is 200 only after a recent successful read).
READINESS_PATH = "/readyz"
LIVENESS_PATH = "/livez"


@dataclass(frozen=True)
class WorkloadPodArgs:
    namespace: pulumi.Input[str]
    #: The federated service account the pods run as.
    service_account_name: pulumi.Input[str]
    #: Image reference, pinned by tag or digest.
    image: pulumi.Input[str]
    #: The vault's `vaultUri` output.
    vault_uri: pulumi.Input[str]
    secret_name: str
    #: A secret version to pin; None reads the latest.
    version_id: str | None = None
    #: Print the secret's value in the log instead of a mask.
    reveal_secret: bool = False
    replicas: int = 1
    health_port: int = 8080
    #: Resources the pods need in place before they start (federated credentials, role assignments, AcrPull).
    wait_for: Sequence[pulumi.Resource] = field(default_factory=tuple)
    #: Allow the pods exactly the egress the app needs (for a namespace that denies everything else): DNS, and
    #: HTTPS to public addresses (Entra ID) and to `private_endpoint_cidrs` (the vault's private endpoint).
    network_policy: bool = False
    private_endpoint_cidrs: Sequence[str] = ()


class WorkloadPod(pulumi.ComponentResource):
    """Pods that read the secret through workload identity; `pulumi up` waits until one has really read it.

    The webhook injects credentials only into pods whose own template carries the use label (facts: Workload
    identity); the readiness probe is the app's /readyz, so the rollout completes only after a successful read.
    Kubernetes objects use the `kubernetes` provider passed in `opts.providers`.
    """

    deployment_name: pulumi.Output[str]
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadPodArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:WorkloadPod", name, None, opts)
        if args.replicas < 1:
            raise ValueError(f"replicas {args.replicas}: must be at least 1")

        selector = {"app.kubernetes.io/name": "secret-reader", "app.kubernetes.io/instance": name}
        env = [
            {"name": "KEY_VAULT_URL", "value": args.vault_uri},
            {"name": "SECRET_NAME", "value": args.secret_name},
            {"name": "REVEAL_SECRET", "value": str(args.reveal_secret).lower()},
            {"name": "HEALTH_PORT", "value": str(args.health_port)},
        ]
        if args.version_id:
            env.append({"name": "VERSION_ID", "value": args.version_id})

        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"namespace": args.namespace, "labels": selector},
            spec={
                "replicas": args.replicas,
                "selector": {"match_labels": selector},
                "progress_deadline_seconds": ROLLOUT_SECONDS,
                "template": {
                    "metadata": {"labels": {**selector, facts.WORKLOAD_IDENTITY_USE_LABEL: "true"}},
                    "spec": _pod_spec(args, env),
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.wait_for),
                custom_timeouts=pulumi.CustomTimeouts(create=f"{ROLLOUT_SECONDS}s", update=f"{ROLLOUT_SECONDS}s"),
            ),
        )

        if args.network_policy:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-egress",
                metadata={"name": f"{name}-egress", "namespace": args.namespace},
                spec=egress_policy(selector, args.private_endpoint_cidrs),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.deployment_name = deployment.metadata.name
        self.namespace = deployment.metadata.namespace
        self.register_outputs({"deployment_name": self.deployment_name, "namespace": self.namespace})


def _pod_spec(args: WorkloadPodArgs, env: list[dict[str, pulumi.Input[str]]]) -> dict:
    """The "restricted" Pod Security profile, with what common scanners also ask for (facts: Pod security)."""
    probe = {"port": "health"}
    return {
        "service_account_name": args.service_account_name,
        # The webhook's projected token is its own volume; the Kubernetes API token is not needed.
        "automount_service_account_token": False,
        "termination_grace_period_seconds": 10,
        "node_selector": {"kubernetes.io/os": "linux"},
        "security_context": {
            "run_as_non_root": True,
            "run_as_user": facts.APP_UID,
            "run_as_group": facts.APP_UID,
            "fs_group": facts.APP_UID,
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "secret-reader",
                "image": args.image,
                "env": env,
                "ports": [{"name": "health", "container_port": args.health_port}],
                "readiness_probe": {
                    "http_get": {**probe, "path": READINESS_PATH},
                    "period_seconds": 5,
                    "failure_threshold": 3,
                },
                "liveness_probe": {
                    "http_get": {**probe, "path": LIVENESS_PATH},
                    "initial_delay_seconds": 10,
                    "period_seconds": 10,
                    "failure_threshold": 3,
                },
                "resources": {
                    "requests": {"cpu": "50m", "memory": "96Mi"},
                    "limits": {"cpu": "250m", "memory": "192Mi"},
                },
                "security_context": {
                    "allow_privilege_escalation": False,
                    "read_only_root_filesystem": True,
                    "run_as_non_root": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "16Mi"}}],
    }


def egress_policy(selector: dict[str, str], private_cidrs: Sequence[str]) -> dict:
    """The app's egress and nothing more (facts: Network policy): DNS to the cluster's DNS pods, HTTPS to public
    addresses (Entra ID) and to the private endpoints' ranges (the vault)."""
    https = [{"protocol": "TCP", "port": facts.HTTPS_PORT}]
    rules: list[dict] = [
        {
            "to": [
                {
                    "namespace_selector": {"match_labels": {facts.NAMESPACE_NAME_LABEL: facts.DNS_NAMESPACE}},
                    "pod_selector": {"match_labels": facts.DNS_POD_LABELS},
                }
            ],
            "ports": [{"protocol": "UDP", "port": facts.DNS_PORT}, {"protocol": "TCP", "port": facts.DNS_PORT}],
        },
        {"to": [{"ip_block": {"cidr": "0.0.0.0/0", "except": list(facts.NON_PUBLIC_RANGES)}}], "ports": https},
    ]
    if private_cidrs:
        rules.append({"to": [{"ip_block": {"cidr": cidr}} for cidr in private_cidrs], "ports": https})
    return {"pod_selector": {"match_labels": selector}, "policy_types": ["Egress"], "egress": rules}
