"""Workload: one app with an identity of its own, the secrets only it may read, and its pods.

Self-contained on purpose: it depends only on the shared cluster (issuer, provider) and image, and names every
child after itself, so adding, removing or changing one workload never touches another's resources. Its secrets
reach its pods through its own code and the Azure SDK (`sdk`), as files from the Secrets Store CSI driver through
the same identity (`files`, which needs the cluster's add-on), or both.
"""

from typing import Any, Literal, NotRequired, TypedDict

import pulumi

from aks_workload_identity import facts
from aks_workload_identity.files import DEFAULT_MOUNT_PATH, FilesOptions, objects_parameter, secret_provider_class
from aks_workload_identity.identity import FederatedIdentity, FederatedIdentityArgs, RoleGrant
from aks_workload_identity.pod import Probes, SecretsMount, WorkloadPod, WorkloadPodArgs, pods_wait_for
from aks_workload_identity.vault import PrivateAccess, SecretVault, SecretVaultArgs, SharedVault, VaultSecret

#: How a workload's secrets reach it: its own code reads Key Vault (`sdk`), the Secrets Store CSI driver writes
#: them as files into its pods (`files`), or both.
Delivery = Literal["sdk", "files", "both"]
DELIVERIES: tuple[Delivery, ...] = ("sdk", "files", "both")


class WorkloadArgs(TypedDict):
    resource_group_name: pulumi.Input[str]
    """The resource group of the workload's identity and vault."""
    location: pulumi.Input[str]
    """Azure region of the workload's identity and vault."""
    issuer_url: pulumi.Input[str]
    """The cluster's OIDC issuer URL, exactly as the cluster reports it (an `AksOidcCluster`'s `oidc_issuer_url`)."""
    namespace: pulumi.Input[str]
    """Namespace of the service accounts and pods. It must exist: pass the namespace's output (a
    `WorkloadNamespace`'s `name`) to create them after it."""
    service_account_names: list[str]
    """Service accounts federated with the workload's identity, 1 to 20; the pods run as the first."""
    image: pulumi.Input[str]
    """Image reference, pinned by digest (or a tag)."""
    secrets: list[VaultSecret]
    """The workload's secrets: written to its own vault, unless `shared_vault` is given."""
    shared_vault: NotRequired[SharedVault]
    """A vault several workloads share, already holding these secrets: the workload may read each of its own
    secrets there, and nothing else. Without it, the workload gets a vault of its own."""
    env: NotRequired[dict[str, pulumi.Input[str]]]
    """Plain environment of the container; with `sdk` or `both` delivery the workload adds KEY_VAULT_URL, its vault's
    URI (`files` pods never read the vault themselves). Never a secret."""
    probes: NotRequired[Probes]
    """The container's health endpoints; by default the secret reader's (8080, /readyz, /livez)."""
    health_probes: NotRequired[bool]
    """False: no probes, only for a workload with files, whose pods are then Ready once the mount holds its
    secrets (the kubelet starts no container before its volumes are mounted). True by default."""
    delivery: NotRequired[str]
    """`sdk` (the default): the pods get KEY_VAULT_URL and read Key Vault themselves; `files`: the pods get the
    secrets as files through the Secrets Store CSI driver (the cluster needs its add-on); `both`."""
    files: NotRequired[FilesOptions]
    """With `files` or `both`: where the files go, pinned versions, syncing to a Kubernetes Secret."""
    command: NotRequired[list[str]]
    """The container's entrypoint; by default the image's."""
    args: NotRequired[list[str]]
    """The entrypoint's arguments; by default the image's."""
    replicas: NotRequired[int]
    """Number of pods, at least 1; default 1."""
    soft_delete_retention_days: NotRequired[int]
    """Of the workload's own vault: days a deleted vault stays recoverable, 7-90; default 90."""
    purge_protection: NotRequired[bool]
    """Of the workload's own vault: forbid purging it during retention (the default; irreversible once on)."""
    private_access: NotRequired[PrivateAccess]
    """Of the workload's own vault: reach it only through a private endpoint. Public by default."""
    network_policy: NotRequired[bool]
    """Allow the pods exactly the egress a Key Vault reader needs (for a namespace that denies everything else).
    Off by default."""
    private_endpoint_cidrs: NotRequired[list[pulumi.Input[str]]]
    """Address ranges of private endpoints the pods may reach on 443, e.g. a `ClusterNetwork`'s `endpoint_cidr`."""


class Workload(pulumi.ComponentResource):
    """A federated identity, its vault (or its secrets' grants in a shared one), and its Deployment, whose pods
    wait only for this workload's own federated credentials and role assignments, and for what the `depends_on`
    option names (e.g. the AcrPull grant on the registry its image is in), which nothing else of the workload waits
    for."""

    client_id: pulumi.Output[str]
    """The workload identity's client id."""
    vault_uri: pulumi.Output[str]
    """URI of the vault the workload reads (its own or the shared one)."""
    namespace: pulumi.Output[str]
    """Namespace of the pods and service accounts."""
    service_account_name: pulumi.Output[str]
    """The service account the pods run as."""
    deployment_name: pulumi.Output[str]
    """The Deployment's name in its namespace."""
    secret_provider_class: pulumi.Output[str]
    """The name of the SecretProviderClass the pods mount; empty with `sdk` delivery."""

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Every input check first, so a refused workload declares nothing.
        delivery = args.get("delivery", "sdk")
        if delivery not in DELIVERIES:
            raise ValueError(f"delivery {delivery!r}: must be one of {', '.join(DELIVERIES)}")
        if not args.get("health_probes", True) and delivery == "sdk":
            raise ValueError("health_probes False: an sdk workload's readiness is its app's, so it needs its probes")
        files = args.get("files", FilesOptions())
        secret_names = [secret["name"] for secret in args["secrets"]]
        if delivery != "sdk":
            objects_parameter(secret_names, files.get("versions", {}))
        opts, wait_for = pods_wait_for(opts)
        super().__init__("wi:index:Workload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        shared_vault = args.get("shared_vault")
        if shared_vault is None:
            own: SecretVaultArgs = {
                "resource_group_name": args["resource_group_name"],
                "location": args["location"],
                "secrets": args["secrets"],
            }
            # Key by key, so the checker holds each to both TypedDicts.
            if "soft_delete_retention_days" in args:
                own["soft_delete_retention_days"] = args["soft_delete_retention_days"]
            if "purge_protection" in args:
                own["purge_protection"] = args["purge_protection"]
            if "private_access" in args:
                own["private_access"] = args["private_access"]
            vault = SecretVault(name, own, opts=child)
            vault_uri = vault.vault_uri
            grants = [RoleGrant(name="reads-vault", scope=vault.vault_id)]
        else:
            vault_uri = pulumi.Output.from_input(shared_vault["vault_uri"])
            grants = [
                RoleGrant(
                    name=f"reads-secret-{secret['name'].lower()}", scope=shared_vault["secret_ids"][secret["name"]]
                )
                for secret in args["secrets"]
            ]
        identity = FederatedIdentity(
            name,
            FederatedIdentityArgs(
                resource_group_name=args["resource_group_name"],
                location=args["location"],
                issuer_url=args["issuer_url"],
                namespace=args["namespace"],
                service_account_names=args["service_account_names"],
                role_grants=grants,
            ),
            opts=child,
        )
        env = dict(args.get("env", {}))
        if delivery != "files":
            # The one thing an SDK workload's config cannot know: its vault's URI.
            env[facts.VAULT_URL_ENV] = vault_uri
        pods: WorkloadPodArgs = {
            "namespace": identity.namespace,
            "service_account_name": identity.service_account_name,
            "image": args["image"],
            "env": env,
        }
        class_name: pulumi.Output[str] = pulumi.Output.from_input("")
        mounted: list[pulumi.Resource] = []
        if delivery != "sdk":
            spc = secret_provider_class(
                name,
                namespace=identity.namespace,
                client_id=identity.client_id,
                tenant_id=identity.tenant_id,
                vault_uri=vault_uri,
                secret_names=secret_names,
                files=files,
                opts=child,
            )
            # The class's name as the API server has it: whatever takes it waits for the class.
            # CustomResource declares no output attributes; the SDK sets `metadata` on it as it registers.
            metadata: pulumi.Output[Any] = spc.metadata  # pyright: ignore[reportAttributeAccessIssue]
            class_name = metadata.apply(lambda m: m["name"])
            mounted.append(spc)
            pods["secrets_mount"] = SecretsMount(
                class_name=class_name, mount_path=files.get("mount_path", DEFAULT_MOUNT_PATH)
            )
        if "probes" in args:
            pods["probes"] = args["probes"]
        if "health_probes" in args:
            pods["health_probes"] = args["health_probes"]
        if "command" in args:
            pods["command"] = args["command"]
        if "args" in args:
            pods["args"] = args["args"]
        if "replicas" in args:
            pods["replicas"] = args["replicas"]
        if "network_policy" in args:
            pods["network_policy"] = args["network_policy"]
        if "private_endpoint_cidrs" in args:
            pods["private_endpoint_cidrs"] = args["private_endpoint_cidrs"]
        deployment = WorkloadPod(
            name, pods, opts=pulumi.ResourceOptions(parent=self, depends_on=[*identity.trust, *mounted, *wait_for])
        )
        self.client_id = identity.client_id
        self.vault_uri = vault_uri
        self.namespace = deployment.namespace
        self.service_account_name = identity.service_account_name
        self.deployment_name = deployment.deployment_name
        self.secret_provider_class = class_name
        self.register_outputs(
            {
                "client_id": self.client_id,
                "vault_uri": self.vault_uri,
                "namespace": self.namespace,
                "service_account_name": self.service_account_name,
                "deployment_name": self.deployment_name,
                "secret_provider_class": self.secret_provider_class,
            }
        )
