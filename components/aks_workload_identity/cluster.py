"""AksOidcCluster: an AKS cluster whose service-account tokens Entra ID can trust, hardened as its profile asks."""

import base64
import re
from typing import NotRequired, TypedDict

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml
from pulumi_azure_native import authorization, containerservice, managedidentity, monitor, operationalinsights

from aks_workload_identity import facts
from aks_workload_identity.roles import assign_role


class NodePool(TypedDict):
    """A node pool's VM size and node count; with `max_count` the autoscaler moves between `count` and it."""

    vm_size: NotRequired[str]
    """The VM size, e.g. `Standard_D4ds_v5` (the default). A size whose temp disk holds AKS's 128 GiB OS disk
    (facts: TEMP_DISK_GIB_PER_VCPU) gets ephemeral OS disks, any other a managed one. A system pool needs at least
    4 vCPUs and no B-series size."""
    count: NotRequired[int]
    """Nodes, or the autoscaler's minimum; default 1. Changes in place."""
    max_count: NotRequired[int]
    """The autoscaler's maximum; without it the pool has a fixed size. With it the node count is the autoscaler's:
    `pulumi up` never sends it back. Changes in place."""


class MaintenanceWindow(TypedDict):
    """The weekly window (UTC) in which AKS applies cluster and node OS upgrades."""

    day: NotRequired[pulumi.Input[str]]
    """Weekday the window starts on; default Sunday."""
    start_time: NotRequired[pulumi.Input[str]]
    """UTC start of the 4-hour window, `HH:MM`; default `00:00`."""


class ClusterProfile(TypedDict):
    """Everything about the cluster a stack chooses; what is left out is the secure choice that costs nothing."""

    system_pool: NotRequired[NodePool]
    """The system pool; by default one Standard_D4ds_v5 node. Changing its VM size (and so its OS disk type), the
    zones or the pods per node rotates it: a new System pool under a new name, then the old one is deleted; the
    cluster, its issuer and every grant stay."""
    user_pool: NotRequired[NodePool]
    """A pool for workloads; the system pool is then tainted for critical add-ons only. It rotates like the system
    pool. None by default."""
    zones: NotRequired[list[str]]
    """Availability zones of both pools, from 1, 2, 3; none by default. A change rotates both pools."""
    max_pods: NotRequired[int]
    """Pods per node, 10-250 (Azure CNI Overlay); default 110. A change rotates both pools."""
    kubernetes_version: NotRequired[pulumi.Input[str]]
    """AKS version such as `1.33`; by default the region's default. With an upgrade channel that moves versions
    (`patch`, `stable`, `rapid`) AKS owns the version after creation and a change here is not sent; with `none` or
    `node-image` the profile's pools are pinned to it too, and a change upgrades the control plane, then those
    pools, in place (not the bootstrap pool: the cluster's pool list is ignored after creation)."""
    tier: NotRequired[pulumi.Input[str]]
    """`Free` (the default), `Standard` (uptime SLA, billed) or `Premium` (with AKS long-term support, which AKS
    requires with it). Changes in place."""
    upgrade_channel: NotRequired[str]
    """Cluster auto-upgrade: `none`, `patch` (the default), `stable`, `rapid` or `node-image` (which needs the node
    OS channel `NodeImage`). Changes in place."""
    node_os_upgrade_channel: NotRequired[str]
    """Node OS upgrades: `None`, `Unmanaged`, `NodeImage` (the default) or `SecurityPatch`. Changes in place."""
    maintenance_window: NotRequired[MaintenanceWindow | None]
    """When upgrades happen; by default Sundays from 00:00 UTC. In Python, None leaves the schedule to AKS."""
    entra_rbac: NotRequired[bool]
    """Entra ID sign-in with Azure RBAC for Kubernetes, local accounts off (the default); the deploy then signs in
    with kubelogin."""
    admin_group_object_ids: NotRequired[list[str]]
    """Entra group object ids whose members are cluster admins; none by default."""
    kubelogin_mode: NotRequired[str]
    """kubelogin's non-interactive login: `azurecli` (a developer's `az login`, the default) or `workloadidentity`
    (CI)."""
    deployer_principal_type: NotRequired[pulumi.Input[str]]
    """What signs in for `pulumi up`: `User` (the default) or `ServicePrincipal` (CI). It gets Azure Kubernetes
    Service RBAC Cluster Admin, and ARM refuses an assignment whose principal type is wrong."""
    deployer_object_id: NotRequired[pulumi.Input[str]]
    """The object id of what runs `pulumi up` (the one deploy identity); empty (the default) means whoever signs in,
    read with getClientConfig. Name it when previews run as another identity (CI), or each preview would show the
    grant replaced."""
    authorized_ip_ranges: NotRequired[list[str]]
    """IPv4 CIDRs allowed to reach the API server; empty (the default) means any."""
    monitoring: NotRequired[bool]
    """Container Insights into a Log Analytics workspace of the cluster's own (billed per GB), signing in with
    managed identity through a data collection rule; off by default."""
    azure_policy: NotRequired[bool]
    """The Azure Policy add-on; off by default."""
    secrets_provider: NotRequired[bool]
    """The Secrets Store CSI driver add-on with its Azure Key Vault provider, rotating what it mounts; off by
    default."""
    secret_rotation_poll_interval: NotRequired[str]
    """How often the CSI driver re-reads mounted secrets, a Go duration such as `2m` (the default)."""


class ResolvedPool(TypedDict):
    """`NodePool` with every setting left out at its default."""

    vm_size: str
    count: int
    max_count: NotRequired[int]


class ResolvedWindow(TypedDict):
    """`MaintenanceWindow` with every setting left out at its default."""

    day: pulumi.Input[str]
    start_time: pulumi.Input[str]


class ResolvedProfile(TypedDict):
    """`ClusterProfile` with every setting that has a default at it."""

    system_pool: NotRequired[NodePool]
    user_pool: NotRequired[NodePool]
    zones: list[str]
    max_pods: int
    kubernetes_version: NotRequired[pulumi.Input[str]]
    tier: pulumi.Input[str]
    upgrade_channel: str
    node_os_upgrade_channel: str
    maintenance_window: MaintenanceWindow | None
    entra_rbac: bool
    admin_group_object_ids: list[str]
    kubelogin_mode: str
    deployer_principal_type: pulumi.Input[str]
    deployer_object_id: pulumi.Input[str]
    authorized_ip_ranges: list[str]
    monitoring: bool
    azure_policy: bool
    secrets_provider: bool
    secret_rotation_poll_interval: str


#: What a node pool, window or profile setting is when not given: the secure choice that costs nothing.
POOL_DEFAULTS = ResolvedPool(vm_size="Standard_D4ds_v5", count=1)
WINDOW_DEFAULTS = ResolvedWindow(day="Sunday", start_time="00:00")
PROFILE_DEFAULTS = ResolvedProfile(
    zones=[],
    max_pods=110,
    tier="Free",
    upgrade_channel="patch",
    node_os_upgrade_channel="NodeImage",
    maintenance_window=MaintenanceWindow(**WINDOW_DEFAULTS),
    entra_rbac=True,
    admin_group_object_ids=[],
    kubelogin_mode="azurecli",
    deployer_principal_type="User",
    deployer_object_id="",
    authorized_ip_ranges=[],
    monitoring=False,
    azure_policy=False,
    secrets_provider=False,
    secret_rotation_poll_interval=facts.DEFAULT_ROTATION_POLL_INTERVAL,
)
#: The pool a created cluster starts with, inline (facts: BOOTSTRAP_POOL_NAME): one node of the default size, for
#: critical add-ons only. Every pool the profile describes is an AgentPool beside it.
BOOTSTRAP_POOL = ResolvedPool(vm_size=POOL_DEFAULTS["vm_size"], count=1)


class ExistingCluster(TypedDict):
    """A cluster the stack does not manage, as `read_existing_cluster` found it."""

    resource_group_name: pulumi.Input[str]
    """The cluster's resource group."""
    name: pulumi.Input[str]
    """The cluster's name."""
    oidc_issuer_url: pulumi.Input[str]
    """Its OIDC issuer URL, exactly as AKS reports it."""
    kubelet_object_id: pulumi.Input[str]
    """Object id of its kubelet identity, which gets AcrPull."""
    entra: bool
    """Whether it signs in with Entra ID (its kubeconfig then runs kubelogin)."""
    secrets_provider: NotRequired[bool]
    """Whether its Secrets Store CSI driver add-on (Azure Key Vault provider) is on; `read_existing_cluster` always
    says."""


class ClusterNotReady(pulumi.RunError):
    """An existing cluster lacks what workload identity needs; nothing has been declared."""


def read_existing_cluster(
    resource_group_name: str, name: str, *, need_secrets_provider: bool = False
) -> ExistingCluster:
    """Reads a cluster through the provider's own invoke and refuses one that cannot federate its pods, or, when
    `need_secrets_provider`, one whose Secrets Store CSI driver add-on is off.

    Synchronous on purpose: it runs before anything is declared, so a refusal changes nothing.
    """
    found = containerservice.get_managed_cluster(resource_group_name=resource_group_name, resource_name=name)
    issuer = found.oidc_issuer_profile
    workload_identity = found.security_profile.workload_identity if found.security_profile else None
    missing = []
    if not (issuer and issuer.enabled and issuer.issuer_url):
        missing.append(("the OIDC issuer", "--enable-oidc-issuer"))
    if not (workload_identity and workload_identity.enabled):
        missing.append(("workload identity", "--enable-workload-identity"))
    if missing:
        raise ClusterNotReady(
            f"existing cluster {resource_group_name}/{name} has "
            + " and ".join(what for what, _ in missing)
            + " turned off; turn "
            + ("them" if len(missing) > 1 else "it")
            + f" on with: az aks update -g {resource_group_name} -n {name} "
            + " ".join(flag for _, flag in missing)
        )
    kubelet = (found.identity_profile or {}).get(facts.KUBELET_IDENTITY_KEY)
    if kubelet is None or not kubelet.object_id:
        raise ClusterNotReady(f"existing cluster {resource_group_name}/{name} reports no kubelet identity")
    # AKS reports add-on profile keys in either case (facts: SECRETS_PROVIDER_CLI_ADDON).
    addons = {key.casefold(): addon for key, addon in (found.addon_profiles or {}).items()}
    secrets_addon = addons.get(facts.SECRETS_PROVIDER_ADDON.casefold())
    secrets_provider = bool(secrets_addon and secrets_addon.enabled)
    if need_secrets_provider and not secrets_provider:
        raise ClusterNotReady(
            f"existing cluster {resource_group_name}/{name} has the Secrets Store CSI driver add-on turned off; "
            f"turn it on with: az aks enable-addons -g {resource_group_name} -n {name} "
            f"--addons {facts.SECRETS_PROVIDER_CLI_ADDON}"
        )
    assert issuer is not None and issuer.issuer_url is not None
    return ExistingCluster(
        resource_group_name=resource_group_name,
        name=name,
        oidc_issuer_url=issuer.issuer_url,
        kubelet_object_id=kubelet.object_id,
        entra=found.aad_profile is not None,
        secrets_provider=secrets_provider,
    )


class AksOidcClusterArgs(TypedDict):
    resource_group_name: pulumi.Input[str]
    """The resource group of the cluster and of what it needs (its identity, its log workspace)."""
    location: pulumi.Input[str]
    """Azure region of the cluster."""
    profile: NotRequired[ClusterProfile]
    """Pools, tier, upgrades, sign-in and add-ons; what is left out is the secure choice that costs nothing."""
    existing: NotRequired[ExistingCluster]
    """Use this cluster instead of creating one: only the AcrPull grants and the provider are declared."""
    node_subnet_id: NotRequired[pulumi.Input[str]]
    """Subnet for the nodes (pods get overlay addresses, not subnet ones); without it AKS makes a network."""
    acr_pull_registries: NotRequired[dict[str, pulumi.Input[str]]]
    """Registries the kubelet identity may pull from (AcrPull): label -> ARM id. The label names the grant."""


class AksOidcCluster(pulumi.ComponentResource):
    """A managed cluster with the OIDC issuer and the Workload Identity add-on, and a provider to reach it.

    The control plane has a system-assigned identity; AcrPull goes to the kubelet identity, which is the one that
    pulls images (facts: Container registry and image build). Networking is Azure CNI Overlay with the Cilium
    dataplane, which enforces Kubernetes NetworkPolicies.

    Pools. A pool's VM size, zones, pods per node and OS disk type cannot change in place, so a change must bring a
    new pool under a new name, created before the old one is deleted, while the cluster (its name, issuer, kubelet
    identity and so every credential and grant) stays. The cluster's own pool list cannot do that: AKS refuses a pool
    added to an existing cluster's list and ignores one left out of it, and azure-native sends the list as it stands
    (facts: BOOTSTRAP_POOL_NAME). So the cluster is created with one small inline System pool, the bootstrap pool,
    and its pool list is in `ignore_changes` from then on; the profile's system pool and user pool are System- and
    User-mode `AgentPool` resources named by a `RandomString` whose keepers are the settings AKS cannot change, with
    `delete_before_replace=False`. The bootstrap pool cannot share a name with them (azure-native's AgentPool create
    fails on an existing pool) nor be deleted by the stack, so it stays: one node, tainted for critical add-ons.
    Deleting it out of band would leave the cluster's stored pool list naming a pool that is gone, and AKS would
    refuse the next change to the cluster until a `pulumi refresh`.
    """

    cluster_name: pulumi.Output[str]
    """The cluster's name in its resource group."""
    oidc_issuer_url: pulumi.Output[str]
    """The issuer exactly as AKS reports it, trailing slash included: federated credentials must match it byte for
    byte."""
    kubelet_object_id: pulumi.Output[str]
    """Object id of the kubelet identity, the one that pulls images."""

    def __init__(self, name: str, args: AksOidcClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        profile = resolve_profile(args.get("profile", {}))
        _check_channels(profile)
        super().__init__("wi:index:AksOidcCluster", name, None, opts)
        existing = args.get("existing")
        if existing:
            self.cluster_name = pulumi.Output.from_input(existing["name"])
            self.oidc_issuer_url = pulumi.Output.from_input(existing["oidc_issuer_url"])
            self.kubelet_object_id = pulumi.Output.from_input(existing["kubelet_object_id"])
            # Its owners already gave the deployer access: the provider signs in as for a created cluster.
            self._k8s_provider = self._kubernetes_provider(
                name,
                existing["resource_group_name"],
                self.cluster_name,
                existing["entra"],
                profile["kubelogin_mode"],
                [],
                [],
            )
        else:
            self._create(name, args, profile)
        self._acr_pulls: dict[str, pulumi.Resource] = {
            label: assign_role(
                f"{name}-acr-pull-{label}",
                role=facts.ACR_PULL,
                principal_id=self.kubelet_object_id,
                scope=registry_id,
                parent=self,
            )
            for label, registry_id in sorted(args.get("acr_pull_registries", {}).items())
        }
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "oidc_issuer_url": self.oidc_issuer_url,
                "kubelet_object_id": self.kubelet_object_id,
            }
        )

    @property
    def provider(self) -> k8s.Provider:
        """Python only: the Kubernetes provider for this cluster; pass it to components that declare Kubernetes
        objects (`opts.providers`). Its kubeconfig (user credentials, secret) is never exported."""
        return self._k8s_provider

    @property
    def acr_pulls(self) -> dict[str, pulumi.Resource]:
        """Python only: the AcrPull grants by registry label. A workload pulling from one must wait for its grant
        (put it in the workload's `depends_on`)."""
        return self._acr_pulls

    def _create(self, name: str, args: AksOidcClusterArgs, profile: ResolvedProfile) -> None:
        child = pulumi.ResourceOptions(parent=self)
        node_subnet_id = args.get("node_subnet_id")
        versions_move = profile["upgrade_channel"] in facts.VERSION_MOVING_UPGRADE_CHANNELS

        addons: dict[str, containerservice.ManagedClusterAddonProfileArgsDict] = {}
        workspace = None
        if profile["monitoring"]:
            workspace = operationalinsights.Workspace(
                f"{name}-logs",
                resource_group_name=args["resource_group_name"],
                location=args["location"],
                sku={"name": operationalinsights.WorkspaceSkuNameEnum.PER_GB2018},
                retention_in_days=30,
                opts=child,
            )
            # Managed identity, not the workspace key (facts: MONITORING_AAD_AUTH_KEY); the rule below says what goes
            # where.
            addons[facts.MONITORING_ADDON] = {
                "enabled": True,
                "config": {facts.MONITORING_WORKSPACE_KEY: workspace.id, facts.MONITORING_AAD_AUTH_KEY: "true"},
            }
        if profile["azure_policy"]:
            addons[facts.AZURE_POLICY_ADDON] = {"enabled": True}
        if profile["secrets_provider"]:
            addons[facts.SECRETS_PROVIDER_ADDON] = {
                "enabled": True,
                "config": {
                    facts.SECRET_ROTATION_CONFIG: "true",
                    facts.ROTATION_POLL_INTERVAL_CONFIG: profile["secret_rotation_poll_interval"],
                },
            }

        # With a subnet of the stack's own, the control plane must be allowed to join nodes to it before the cluster
        # exists, which only a user-assigned identity can be (facts: Network Contributor).
        identity: containerservice.ManagedClusterIdentityArgsDict = {
            "type": containerservice.ResourceIdentityType.SYSTEM_ASSIGNED
        }
        subnet_access: list[pulumi.Resource] = []
        if node_subnet_id is not None:
            control_plane = managedidentity.UserAssignedIdentity(
                f"{name}-control-plane",
                resource_group_name=args["resource_group_name"],
                location=args["location"],
                opts=child,
            )
            identity = {
                "type": containerservice.ResourceIdentityType.USER_ASSIGNED,
                "user_assigned_identities": [control_plane.id],
            }
            subnet_access.append(
                assign_role(
                    f"{name}-control-plane-network",
                    role=facts.NETWORK_CONTRIBUTOR,
                    principal_id=control_plane.principal_id,
                    scope=node_subnet_id,
                    parent=self,
                )
            )

        # The inline pool list is what AKS creates the cluster with, and nothing more: an existing cluster refuses a
        # pool added to it and ignores one left out (facts: BOOTSTRAP_POOL_NAME). So changes to the list are ignored
        # after creation. Ignoring does not keep it from naming a pool that rotated away: a refresh copies the live
        # pools into the stored list and the next update sends that list back, which AKS refuses once one of those
        # pools is gone. Deploying with `pulumi up --refresh` reads the list as it is right before the update.
        ignored = ["agentPoolProfiles"]
        if versions_move:
            ignored.append("kubernetesVersion")
        cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=args["resource_group_name"],
            location=args["location"],
            dns_prefix=_dns_prefix(name),
            kubernetes_version=profile.get("kubernetes_version"),
            sku={"name": containerservice.ManagedClusterSKUName.BASE, "tier": profile["tier"]},
            # AKS refuses Premium without long-term support, and LTS without Premium (facts: PREMIUM_TIER).
            support_plan=pulumi.Output.from_input(profile["tier"]).apply(_support_plan),
            identity=identity,
            agent_pool_profiles=[
                {
                    "name": facts.BOOTSTRAP_POOL_NAME,
                    "mode": containerservice.AgentPoolMode.SYSTEM,
                    **_pool(BOOTSTRAP_POOL, [], PROFILE_DEFAULTS["max_pods"], node_subnet_id),
                    "node_taints": [facts.CRITICAL_ADDONS_ONLY_TAINT],
                }
            ],
            network_profile={
                "network_plugin": containerservice.NetworkPlugin.AZURE,
                "network_plugin_mode": containerservice.NetworkPluginMode.OVERLAY,
                "network_dataplane": containerservice.NetworkDataplane.CILIUM,
                "network_policy": containerservice.NetworkPolicy.CILIUM,
                **facts.CLUSTER_ADDRESS_SPACES,
            },
            oidc_issuer_profile={"enabled": True},
            security_profile={"workload_identity": {"enabled": True}},
            aad_profile=(
                {
                    "managed": True,
                    "enable_azure_rbac": True,
                    "admin_group_object_ids": list(profile["admin_group_object_ids"]) or None,
                }
                if profile["entra_rbac"]
                else None
            ),
            # Kubernetes RBAC is AKS's default; sent explicitly so that neither a reader nor a scanner (Checkov's
            # CKV_AZURE_5) has to know that, with or without Entra ID.
            enable_rbac=True,
            disable_local_accounts=profile["entra_rbac"],
            api_server_access_profile=(
                {"authorized_ip_ranges": list(profile["authorized_ip_ranges"])}
                if profile["authorized_ip_ranges"]
                else None
            ),
            auto_upgrade_profile={
                "upgrade_channel": profile["upgrade_channel"],
                "node_os_upgrade_channel": profile["node_os_upgrade_channel"],
            },
            addon_profiles=addons or None,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=subnet_access,
                ignore_changes=ignored,
                custom_timeouts=pulumi.CustomTimeouts(
                    create=facts.CLUSTER_CREATE_TIMEOUT,
                    update=facts.CLUSTER_CREATE_TIMEOUT,
                    delete=facts.CLUSTER_CREATE_TIMEOUT,
                ),
            ),
        )

        user_pool = profile.get("user_pool")
        pools = [("system", "sys", containerservice.AgentPoolMode.SYSTEM, profile.get("system_pool", {}))]
        if user_pool is not None:
            pools.append(("user", "user", containerservice.AgentPoolMode.USER, user_pool))
        # Workloads cannot run on the bootstrap pool (tainted), so Kubernetes objects wait for these.
        node_pools: list[pulumi.Resource] = []
        for role, prefix, mode, pool in pools:
            settings = _pool(_pool_settings(pool), profile["zones"], profile["max_pods"], node_subnet_id)
            # A new name whenever AKS could not change the pool in place, so the new pool exists before the old
            # one goes.
            suffix = random.RandomString(
                f"{name}-{role}-pool-suffix",
                length=POOL_SUFFIX_LENGTH,
                special=False,
                upper=False,
                keepers=rotation_keepers(settings),
                opts=child,
            )
            # What the platform moves after creation (facts: VERSION_MOVING_UPGRADE_CHANNELS, Autoscaled pools).
            owned = ["count"] if settings["enable_auto_scaling"] else []
            if versions_move:
                owned.append("orchestratorVersion")
            agent_pool = containerservice.AgentPool(
                f"{name}-{role}-pool",
                resource_group_name=args["resource_group_name"],
                resource_name_=cluster.name,
                agent_pool_name=pulumi.Output.concat(prefix, suffix.result),
                mode=mode,
                **settings,
                # The nodes follow the control plane's version where the stack, not AKS, moves it.
                orchestrator_version=None if versions_move else profile.get("kubernetes_version"),
                # With a user pool, only critical add-ons run on the system pool (facts: node pools).
                node_taints=(
                    [facts.CRITICAL_ADDONS_ONLY_TAINT]
                    if mode == containerservice.AgentPoolMode.SYSTEM and user_pool is not None
                    else None
                ),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    ignore_changes=owned,
                    # Create the new pool before deleting the old one (facts: Delete-before-replace).
                    delete_before_replace=False,
                ),
            )
            node_pools.append(agent_pool)

        if profile["maintenance_window"] is not None:
            window: ResolvedWindow = {**WINDOW_DEFAULTS, **profile["maintenance_window"]}
            for config_name in facts.MAINTENANCE_CONFIGURATIONS:
                containerservice.MaintenanceConfiguration(
                    f"{name}-{config_name}",
                    resource_group_name=args["resource_group_name"],
                    resource_name_=cluster.name,
                    config_name=config_name,
                    maintenance_window={
                        "schedule": {"weekly": {"day_of_week": window["day"], "interval_weeks": 1}},
                        "duration_hours": facts.MAINTENANCE_WINDOW_HOURS,
                        "start_time": window["start_time"],
                        "utc_offset": "+00:00",
                    },
                    # Replaced only with its cluster, under the new cluster's id (facts: Delete-before-replace).
                    opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
                )

        if workspace is not None:
            self._container_insights(name, args, workspace, cluster)

        self.cluster_name = cluster.name
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(
            lambda p: _required(p.issuer_url if p else None, "issuer")
        )
        self.kubelet_object_id = cluster.identity_profile.apply(
            lambda p: _required(p[facts.KUBELET_IDENTITY_KEY].object_id if p else None, "kubelet identity")
        )

        access: list[pulumi.CustomResource] = []
        if profile["entra_rbac"]:
            # The deployer creates namespaces and policies: it needs a cluster-wide Kubernetes role, which takes
            # minutes to reach the API server; everything on the cluster waits until it has.
            deployer = profile["deployer_object_id"] or (
                authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self)).object_id
            )
            grant = assign_role(
                f"{name}-deployer-cluster-admin",
                role=facts.AKS_RBAC_CLUSTER_ADMIN,
                principal_id=deployer,
                principal_type=profile["deployer_principal_type"],
                scope=cluster.id,
                parent=self,
            )
            access.append(grant)
        self._k8s_provider = self._kubernetes_provider(
            name,
            args["resource_group_name"],
            cluster.name,
            profile["entra_rbac"],
            profile["kubelogin_mode"],
            access,
            node_pools,
        )

    def _container_insights(
        self,
        name: str,
        args: AksOidcClusterArgs,
        workspace: operationalinsights.Workspace,
        cluster: containerservice.ManagedCluster,
    ) -> None:
        """The data collection rule Container Insights signs in to with managed identity, and its association with
        the cluster (facts: CONTAINER_INSIGHTS_EXTENSION)."""
        destination = "workspace"
        streams = list(facts.CONTAINER_INSIGHTS_STREAMS)
        rule = monitor.DataCollectionRule(
            f"{name}-insights",
            resource_group_name=args["resource_group_name"],
            location=args["location"],
            kind=monitor.KnownDataCollectionRuleResourceKind.LINUX,
            data_sources={
                "extensions": [
                    {
                        "name": facts.CONTAINER_INSIGHTS_DATA_SOURCE,
                        "extension_name": facts.CONTAINER_INSIGHTS_EXTENSION,
                        "streams": streams,
                        "extension_settings": {"dataCollectionSettings": dict(facts.CONTAINER_INSIGHTS_SETTINGS)},
                    }
                ]
            },
            destinations={"log_analytics": [{"name": destination, "workspace_resource_id": workspace.id}]},
            data_flows=[{"streams": streams, "destinations": [destination]}],
            opts=pulumi.ResourceOptions(parent=self),
        )
        monitor.DataCollectionRuleAssociation(
            f"{name}-insights-association",
            association_name=facts.CONTAINER_INSIGHTS_ASSOCIATION,
            resource_uri=cluster.id,
            data_collection_rule_id=rule.id,
            # Replaced only with its cluster, under the new cluster's id (facts: Delete-before-replace).
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )

    def _kubernetes_provider(
        self,
        name: str,
        resource_group_name: pulumi.Input[str],
        cluster_name: pulumi.Input[str],
        entra: bool,
        kubelogin_mode: str,
        access: list[pulumi.CustomResource],
        node_pools: list[pulumi.Resource],
    ) -> k8s.Provider:
        """A provider from the cluster's user credentials (secret, never exported); for an Entra cluster, in exec
        format with kubelogin signing in unattended, and only once `access` grants have reached the API server and
        `node_pools`, where workloads run, exist."""
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=resource_group_name,
            resource_name=cluster_name,
            format=facts.KUBECONFIG_EXEC_FORMAT if entra else None,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs.apply(lambda configs: base64.b64decode(configs[0].value).decode())
        )
        if entra:
            kubeconfig = kubeconfig.apply(lambda text: unattended_kubeconfig(text, kubelogin_mode))
        # The grant's id as a trigger is the wait's dependency on it (the SDK adds every resource an input comes from
        # to the resource's dependencies: pulumi/runtime/resource.py, prepare_resource) and runs the wait again when
        # the grant is replaced.
        waits: list[pulumi.Resource] = [
            command.local.Command(
                f"{name}-await-access",
                create=AWAIT_ACCESS_SCRIPT,
                environment={"KUBECONFIG_DATA": kubeconfig, "INTERVAL": str(ACCESS_POLL_SECONDS)},
                triggers=[grant.id],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for grant in access
        ]
        # delete_unreachable lets `pulumi destroy` finish when the cluster is already gone.
        return k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            delete_unreachable=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*waits, *node_pools]),
        )


#: How often, and how many times, the deploy asks the API server whether its Kubernetes role has arrived: up to
#: twice the time Azure gives a new assignment (facts: AKS_RBAC_PROPAGATION_SECONDS).
ACCESS_POLL_SECONDS = 10
ACCESS_POLLS = 2 * facts.AKS_RBAC_PROPAGATION_SECONDS // ACCESS_POLL_SECONDS
AWAIT_ACCESS_SCRIPT = f"""set -eu
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '%s' "$KUBECONFIG_DATA" > "$config"
attempt=1
while [ "$attempt" -le {ACCESS_POLLS} ]; do
  if kubectl --kubeconfig "$config" auth can-i create namespaces >/dev/null 2>&1; then exit 0; fi
  echo "waiting for the deployer's Kubernetes role to reach the API server ($attempt of {ACCESS_POLLS})" >&2
  attempt=$((attempt + 1))
  sleep "$INTERVAL"
done
echo "the deployer's Kubernetes role did not reach the API server in time: check kubectl and kubelogin work" >&2
exit 1
"""


def resolve_profile(profile: ClusterProfile) -> ResolvedProfile:
    """The profile with every setting left out at its default: what the cluster gets."""
    return {**PROFILE_DEFAULTS, **profile}


def _pool_settings(pool: NodePool) -> ResolvedPool:
    """The pool with every setting left out at its default."""
    return {**POOL_DEFAULTS, **pool}


class _PoolSettings(TypedDict):
    """What the bootstrap pool (a profile inside the cluster) and the profile's pools (`AgentPool`s) share: the
    checker holds each key to both."""

    vm_size: str
    count: int
    enable_auto_scaling: bool
    min_count: int | None
    max_count: int | None
    max_pods: int
    availability_zones: list[str] | None
    os_disk_type: containerservice.OSDiskType
    os_type: containerservice.OSType
    type: containerservice.AgentPoolType
    vnet_subnet_id: pulumi.Input[str] | None


def rotation_keepers(pool: _PoolSettings) -> dict[str, pulumi.Input[str]]:
    """The settings AKS cannot change on an existing pool (facts: Resizing a pool), as the keepers of the pool's
    name suffix, so a change to any of them names a new pool: VM size, zones, pods per node, OS disk type. The one
    list of them. The subnet, which AKS cannot change either, is not one: a new pool would not help, because a
    cluster's nodes cannot leave the network it was created with (a new node subnet means a new stack)."""
    return {
        "vm_size": pool["vm_size"],
        "zones": ",".join(pool["availability_zones"] or []),
        "max_pods": str(pool["max_pods"]),
        "os_disk_type": pool["os_disk_type"].value,
    }


#: A pool's name is its role's prefix and this many random lowercase letters and digits: `sys` + 6 and `user` + 6 stay
#: within a Linux pool name's 12 characters (facts: LINUX_POOL_NAME_RULE).
POOL_SUFFIX_LENGTH = 6


def _pool(pool: ResolvedPool, zones: list[str], max_pods: int, subnet_id: pulumi.Input[str] | None) -> _PoolSettings:
    """The settings every pool of the cluster has."""
    max_count = pool.get("max_count")
    autoscale = max_count is not None
    return {
        "vm_size": pool["vm_size"],
        "count": pool["count"],
        "enable_auto_scaling": autoscale,
        "min_count": pool["count"] if autoscale else None,
        "max_count": max_count,
        "max_pods": max_pods,
        "availability_zones": list(zones) or None,
        "os_disk_type": os_disk_type(pool["vm_size"]),
        "os_type": containerservice.OSType.LINUX,
        "type": containerservice.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
        "vnet_subnet_id": subnet_id,
    }


def temp_disk_gib(vm_size: str) -> float | None:
    """The size's temp disk in GiB where facts.TEMP_DISK_GIB_PER_VCPU knows its series, else None."""
    size = facts.VM_SIZE_RULE.match(vm_size)
    if size is None:
        return None
    per_vcpu = facts.TEMP_DISK_GIB_PER_VCPU.get((size["family"], size["features"], size["version"] or ""))
    # A constrained size (E8-4ds_v5) has the temp disk of its full size, whose vCPUs the name gives first.
    return None if per_vcpu is None else per_vcpu * int(size["vcpus"])


def os_disk_type(vm_size: str) -> containerservice.OSDiskType:
    """Ephemeral only where the temp disk is known to hold AKS's default OS disk (facts: EPHEMERAL_OS_DISK_MIN_GIB):
    AKS refuses an ephemeral disk that does not fit, so anything the rule cannot show keeps a managed disk."""
    temp = temp_disk_gib(vm_size)
    if temp is not None and temp >= facts.EPHEMERAL_OS_DISK_MIN_GIB:
        return containerservice.OSDiskType.EPHEMERAL
    return containerservice.OSDiskType.MANAGED


def _support_plan(tier: str) -> str:
    """Long-term support with Premium, the community's support otherwise (facts: PREMIUM_TIER)."""
    return facts.LTS_SUPPORT_PLAN if tier == facts.PREMIUM_TIER else facts.STANDARD_SUPPORT_PLAN


def channels_refused(upgrade_channel: str, node_os_upgrade_channel: str) -> bool:
    """The one channel combination AKS refuses: any node OS channel but `NodeImage` with the cluster channel
    `node-image` (facts: NODE_IMAGE_UPGRADE_CHANNEL). The settings and the component both ask this."""
    return (
        upgrade_channel == facts.NODE_IMAGE_UPGRADE_CHANNEL
        and node_os_upgrade_channel != facts.NODE_OS_CHANNEL_WITH_NODE_IMAGE
    )


def _check_channels(profile: ResolvedProfile) -> None:
    """Refuses the channel combination AKS refuses, before anything exists."""
    channel, os_channel = profile["upgrade_channel"], profile["node_os_upgrade_channel"]
    if channels_refused(channel, os_channel):
        raise ValueError(
            f"node_os_upgrade_channel {os_channel!r} with upgrade_channel {channel!r}: AKS accepts only "
            f"{facts.NODE_OS_CHANNEL_WITH_NODE_IMAGE!r} with that cluster channel"
        )


def unattended_kubeconfig(kubeconfig: str, login: str) -> str:
    """The exec-format kubeconfig with kubelogin switched from its interactive device-code login to `login`.

    AKS returns `kubelogin get-token --login devicecode ...` (facts: Kubeconfig for Entra-only clusters); a
    deploy cannot answer a device code, so `--login` becomes `azurecli` or `workloadidentity`, keeping
    `--server-id`. Both modes take the tenant and client from the login itself, so those arguments go.
    """
    config = yaml.safe_load(kubeconfig)
    for user in config.get("users", []):
        exec_ = user.get("user", {}).get("exec")
        if not exec_:
            continue
        args = list(exec_.get("args", []))
        server_id = args[args.index("--server-id") + 1] if "--server-id" in args else facts.AKS_ENTRA_SERVER_ID
        exec_["args"] = ["get-token", "--login", login, "--server-id", server_id]
    return yaml.safe_dump(config, sort_keys=False)


def _required(value: str | None, what: str) -> str:
    if not value:
        raise ValueError(f"the cluster reports no {what}")
    return value


def _dns_prefix(name: str) -> str:
    """AKS DNS prefix: 1-54 letters, digits and '-', starting and ending with a letter or digit."""
    return re.sub(r"[^A-Za-z0-9-]", "-", name)[:54].strip("-") or "aks"
