"""WorkloadPod: any app's Deployment, labelled for workload identity, locked down, and allowed only the
egress a Key Vault reader needs."""

import copy
from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from aks_workload_identity import facts

#: How long a rollout may take before the Deployment (and `pulumi up`) fails: data-plane RBAC alone can take
#: 10 minutes (facts: Key Vault), then the image pull and the first successful read.
ROLLOUT_SECONDS = facts.RBAC_PROPAGATION_SECONDS + 600


class Probes(TypedDict):
    """The container's HTTP health endpoints. Readiness decides when a rollout (and `pulumi up`) is done, so it
    should mean "the app really works", as the secret reader's /readyz (a recent successful read)."""

    port: NotRequired[int]
    """The port both endpoints listen on; default 8080."""
    readiness_path: NotRequired[str]
    """Path of the readiness endpoint; default `/readyz`."""
    liveness_path: NotRequired[str]
    """Path of the liveness endpoint; default `/livez`."""


class ResolvedProbes(TypedDict):
    """`Probes` with every setting left out at its default."""

    port: int
    readiness_path: str
    liveness_path: str


#: What a probe setting is when not given: the secret reader's endpoints.
PROBE_DEFAULTS = ResolvedProbes(port=8080, readiness_path="/readyz", liveness_path="/livez")
#: The container's one writable place (an emptyDir) under its read-only root filesystem.
SCRATCH_MOUNT_PATH = "/tmp"


class SecretsMount(TypedDict):
    """The workload's SecretProviderClass, mounted read-only into the container."""

    class_name: pulumi.Input[str]
    """The class's name, in the pods' namespace."""
    mount_path: str
    """Absolute path of the mount in the container."""


class WorkloadPodArgs(TypedDict):
    namespace: pulumi.Input[str]
    """Namespace of the Deployment, the one its service account is in."""
    service_account_name: pulumi.Input[str]
    """The federated service account the pods run as (a `FederatedIdentity`'s `service_account_name`)."""
    image: pulumi.Input[str]
    """Image reference, pinned by digest (or a tag)."""
    env: NotRequired[dict[str, pulumi.Input[str]]]
    """Plain environment of the container; values may be outputs (e.g. a vault's URI). Never put a secret here: the
    app reads its secrets from Key Vault with its identity."""
    probes: NotRequired[Probes]
    """The container's health endpoints; by default the secret reader's (8080, /readyz, /livez)."""
    health_probes: NotRequired[bool]
    """False: no probes, so a pod is Ready once its container runs, which with `secrets_mount` means once the
    mount holds the secrets (the kubelet starts no container before its volumes are mounted). True by default."""
    command: NotRequired[list[str]]
    """The container's entrypoint; by default the image's."""
    args: NotRequired[list[str]]
    """The entrypoint's arguments; by default the image's."""
    secrets_mount: NotRequired[SecretsMount]
    """Mount this SecretProviderClass read-only through the Secrets Store CSI driver. None by default."""
    replicas: NotRequired[int]
    """Number of pods, at least 1; default 1."""
    network_policy: NotRequired[bool]
    """Allow the pods exactly the egress a Key Vault reader needs, for a namespace that denies everything else: DNS,
    and HTTPS to public addresses (Entra ID) and to `private_endpoint_cidrs`. Off by default."""
    private_endpoint_cidrs: NotRequired[list[pulumi.Input[str]]]
    """Address ranges of private endpoints the pods may reach on 443, e.g. a `ClusterNetwork`'s `endpoint_cidr`."""


def pods_wait_for(
    opts: pulumi.ResourceOptions | None,
) -> tuple[pulumi.ResourceOptions | None, list[pulumi.Resource]]:
    """Splits a workload component's `depends_on` off its options: it is what the pods need before they start (the
    AcrPull grant on their image's registry, say), so the component hands it to its Deployment alone.

    Left on the component, it would hold back every child (identity, vault, policies) until those resources exist,
    and the AcrPull grant exists only once the cluster does. A `depends_on` that is itself an output stays on the
    component.
    """
    if opts is None or opts.depends_on is None:
        return opts, []
    wait_for = opts.depends_on
    if isinstance(wait_for, pulumi.Resource):
        resources = [wait_for]
    elif isinstance(wait_for, Sequence):
        resources = [r for r in wait_for if isinstance(r, pulumi.Resource)]
        if len(resources) < len(wait_for):
            return opts, []
    else:
        return opts, []
    own = copy.copy(opts)
    own.depends_on = None
    return own, resources


class WorkloadPod(pulumi.ComponentResource):
    """A Deployment whose pods the workload-identity webhook injects credentials into, under the "restricted" Pod
    Security profile; `pulumi up` waits until its readiness probe passes.

    The webhook injects credentials only into pods whose own template carries the use label (facts: Workload
    identity). Kubernetes objects use the `kubernetes` provider passed in `opts.providers`. The `depends_on` option
    is what the pods need before they start (federated credentials, role assignments, the AcrPull grant): the
    Deployment waits for it, and the egress policy does not.
    """

    deployment_name: pulumi.Output[str]
    """The Deployment's name in its namespace (auto-named)."""
    namespace: pulumi.Output[str]
    """The Deployment's namespace."""

    def __init__(self, name: str, args: WorkloadPodArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        opts, wait_for = pods_wait_for(opts)
        # Named WorkloadDeployment until 0.2: the alias keeps a live stack's URNs, so the upgrade replaces nothing.
        renamed = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="wi:index:WorkloadDeployment")])
        super().__init__("wi:index:WorkloadPod", name, None, pulumi.ResourceOptions.merge(opts, renamed))
        replicas = args.get("replicas", 1)
        if replicas < 1:
            raise ValueError(f"replicas {replicas}: must be at least 1")
        private_cidrs = list(args.get("private_endpoint_cidrs", []))

        selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"namespace": args["namespace"], "labels": selector},
            spec={
                "replicas": replicas,
                "selector": {"match_labels": selector},
                "progress_deadline_seconds": ROLLOUT_SECONDS,
                "template": {
                    "metadata": {"labels": {**selector, facts.WORKLOAD_IDENTITY_USE_LABEL: "true"}},
                    "spec": _pod_spec(name, args),
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=wait_for,
                custom_timeouts=pulumi.CustomTimeouts(create=f"{ROLLOUT_SECONDS}s", update=f"{ROLLOUT_SECONDS}s"),
            ),
        )
        if args.get("network_policy", False):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-egress",
                metadata={"name": f"{name}-egress", "namespace": args["namespace"]},
                spec=egress_policy(selector, private_cidrs),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.deployment_name = deployment.metadata.name
        self.namespace = deployment.metadata.namespace
        self.register_outputs({"deployment_name": self.deployment_name, "namespace": self.namespace})


def _pod_spec(name: str, args: WorkloadPodArgs) -> k8s.core.v1.PodSpecArgsDict:
    """The "restricted" Pod Security profile, with what common scanners also ask for (facts: Pod security). A CSI
    volume is among the volume types that profile allows."""
    container: k8s.core.v1.ContainerArgsDict = {
        "name": name,
        "image": args["image"],
        "env": [{"name": key, "value": value} for key, value in args.get("env", {}).items()],
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
    }
    mounts: list[k8s.core.v1.VolumeMountArgsDict] = [{"name": "tmp", "mount_path": SCRATCH_MOUNT_PATH}]
    volumes: list[k8s.core.v1.VolumeArgsDict] = [{"name": "tmp", "empty_dir": {"size_limit": "16Mi"}}]
    if "command" in args:
        container["command"] = args["command"]
    if "args" in args:
        container["args"] = args["args"]
    if args.get("health_probes", True):
        checks = _probes({**PROBE_DEFAULTS, **args.get("probes", {})})
        container["ports"] = checks["ports"]
        container["readiness_probe"] = checks["readiness_probe"]
        container["liveness_probe"] = checks["liveness_probe"]
    if (mount := args.get("secrets_mount")) is not None:
        mounts.append({"name": SECRETS_VOLUME, "mount_path": mount["mount_path"], "read_only": True})
        volumes.append(
            {
                "name": SECRETS_VOLUME,
                "csi": {
                    "driver": facts.SECRETS_STORE_CSI_DRIVER,
                    "read_only": True,
                    "volume_attributes": {facts.SECRET_PROVIDER_CLASS_ATTRIBUTE: mount["class_name"]},
                },
            }
        )
    container["volume_mounts"] = mounts
    return {
        "service_account_name": args["service_account_name"],
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
        "containers": [container],
        "volumes": volumes,
    }


#: The pod's name for the CSI volume of its SecretProviderClass.
SECRETS_VOLUME = "secrets-store"


class _HealthChecks(TypedDict):
    ports: list[k8s.core.v1.ContainerPortArgsDict]
    readiness_probe: k8s.core.v1.ProbeArgsDict
    liveness_probe: k8s.core.v1.ProbeArgsDict


def _probes(probes: ResolvedProbes) -> _HealthChecks:
    """The health port and both HTTP probes; readiness decides when a rollout (and `pulumi up`) is done."""
    probe: k8s.core.v1.HTTPGetActionArgsDict = {"port": "health"}
    return {
        "ports": [{"name": "health", "container_port": probes["port"]}],
        "readiness_probe": {
            "http_get": {**probe, "path": probes["readiness_path"]},
            "period_seconds": 5,
            "failure_threshold": 3,
        },
        "liveness_probe": {
            "http_get": {**probe, "path": probes["liveness_path"]},
            "initial_delay_seconds": 10,
            "period_seconds": 10,
            "failure_threshold": 3,
        },
    }


def egress_policy(
    selector: dict[str, str], private_cidrs: Sequence[pulumi.Input[str]]
) -> k8s.networking.v1.NetworkPolicySpecArgsDict:
    """The app's egress and nothing more (facts: Network policy): DNS to the cluster's DNS pods and to the node's
    LocalDNS addresses (port 53 only), HTTPS to public addresses (Entra ID) and to the private endpoints' ranges
    (the vault). Link-local stays closed on every other address and port: IMDS would hand out the node's identity."""
    https: list[k8s.networking.v1.NetworkPolicyPortArgsDict] = [{"protocol": "TCP", "port": facts.HTTPS_PORT}]
    dns_servers: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = [
        {
            "namespace_selector": {"match_labels": {facts.NAMESPACE_NAME_LABEL: facts.DNS_NAMESPACE}},
            "pod_selector": {"match_labels": facts.DNS_POD_LABELS},
        },
        *({"ip_block": {"cidr": f"{address}/32"}} for address in facts.LOCAL_DNS_ADDRESSES),
    ]
    rules: list[k8s.networking.v1.NetworkPolicyEgressRuleArgsDict] = [
        {
            "to": dns_servers,
            "ports": [{"protocol": "UDP", "port": facts.DNS_PORT}, {"protocol": "TCP", "port": facts.DNS_PORT}],
        },
        {"to": [{"ip_block": {"cidr": "0.0.0.0/0", "except_": list(facts.NON_PUBLIC_RANGES)}}], "ports": https},
    ]
    if private_cidrs:
        rules.append({"to": [{"ip_block": {"cidr": cidr}} for cidr in private_cidrs], "ports": https})
    return {"pod_selector": {"match_labels": selector}, "policy_types": ["Egress"], "egress": rules}
