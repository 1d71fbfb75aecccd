"""Azure and Kubernetes facts the project depends on, each typed exactly once.

They cannot be learned by trial from a machine without Azure, so each one names the heading of the project's
facts sheet it comes from (Microsoft's and Pulumi's public documentation and the azure-workload-identity source).
Components, settings, tests and the twin import them from here.
"""

from __future__ import annotations

import re
from typing import TypedDict

# --- Workload identity (AKS add-on, mutating webhook) -------------------------------------------------------

#: The webhook mutates only pods that carry this label with value "true" on the pod (template) itself.
WORKLOAD_IDENTITY_USE_LABEL = "azure.workload.identity/use"
#: Service-account annotation naming the user-assigned identity's client id (required).
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
#: Service-account annotation naming the identity's tenant (optional; defaults to the cluster's tenant).
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
#: Audience of the projected token and of every federated credential.
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
#: The authority host the webhook injects for the public cloud.
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com/"
#: The environment variables the webhook injects into each container.
INJECTED_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST")
#: Where an unlabelled pod's DefaultAzureCredential falls back to (the node's instance metadata service).
IMDS_ADDRESS = "169.254.169.254"
#: At most this many federated credentials per user-assigned identity.
MAX_FEDERATED_CREDENTIALS_PER_IDENTITY = 20
#: A federated credential's name: a letter or digit, then 2 to 119 letters, digits, '-' or '_' (ARM template
#: reference, Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials, `name` constraints).
FEDERATED_CREDENTIAL_NAME = r"[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}"


def service_account_subject(namespace: str, name: str) -> str:
    """The subject of a projected service-account token, which a federated credential must match exactly."""
    return f"system:serviceaccount:{namespace}:{name}"


# --- Entra ID token exchange (what azure-identity does inside the pod) -------------------------------------

#: The client_assertion_type of a federated token request.
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# --- Key Vault ---------------------------------------------------------------------------------------------

#: Read-only data-plane role for the workload.
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
#: Read/write role; never given to the workload.
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
#: Full data-plane role; never given to the workload.
KEY_VAULT_ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
#: Management-plane read only: it grants no secret reads.
KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
#: Roles that can read secret values on the data plane.
SECRET_READER_ROLES = frozenset({KEY_VAULT_SECRETS_USER, KEY_VAULT_SECRETS_OFFICER, KEY_VAULT_ADMINISTRATOR})
#: The resource named in Key Vault's 401 bearer challenge, and the audience of its access tokens.
KEY_VAULT_RESOURCE = "https://vault.azure.net"
#: Data-plane RBAC can take this long to apply; requests meanwhile get 403.
RBAC_PROPAGATION_SECONDS = 600
#: Vault names: 3-24 letters, digits and hyphens, starting with a letter.
VAULT_NAME_RULE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")
#: Secret names: 1-127 letters, digits and hyphens.
SECRET_NAME_RULE = re.compile(r"^[A-Za-z0-9-]{1,127}$")
#: The private DNS zone that resolves `<vault>.vault.azure.net` to a private endpoint (through its
#: `privatelink.` CNAME); linked to the virtual network, zone group `vault` (Microsoft Learn, "Azure Private Endpoint
#: private DNS zone values"). ARM writes of secrets still work with the vault's public access off: network rules
#: apply to the data plane only (Microsoft Learn, "Virtual network service endpoints for Azure Key Vault").
KEY_VAULT_PRIVATE_DNS_ZONE = "privatelink.vaultcore.azure.net"
KEY_VAULT_PRIVATE_LINK_GROUP = "vault"
#: Soft-delete retention bounds, in days.
SOFT_DELETE_RETENTION_DAYS = (7, 90)

# --- Container registry and image build --------------------------------------------------------------------

#: Lets the cluster's kubelet identity pull images.
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
#: Registry login servers: `<name>` plus the cloud's suffix (public, China, US Government).
ACR_LOGIN_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")
#: Registry names: 5-50 alphanumerics, no hyphens.
REGISTRY_NAME_RULE = re.compile(r"^[A-Za-z0-9]{5,50}$")

#: Lets a cluster's control plane join nodes to a subnet of the stack's own. With a subnet it did not create, AKS
#: needs the grant before the cluster exists, so the control plane gets a user-assigned identity (Microsoft Learn,
#: "Use a managed identity in AKS": bring your own virtual network).
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"

# --- Role assignments (Key Vault) ----------------------------------------------------------------------------

#: A just-created identity must be named a service principal or ARM may answer PrincipalNotFound; a type that
#: does not match the principal is refused (UnmatchedPrincipalType), and azure-native sends `User` when none is
#: given (its RoleAssignment's default).
SERVICE_PRINCIPAL = "ServicePrincipal"


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    """The subscription-scoped id of a built-in role definition."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


# --- AKS and its kubeconfig ----------------------------------------------------------------------------------

#: Key of the kubelet identity in the cluster's `identityProfile`.
KUBELET_IDENTITY_KEY = "kubeletidentity"
#: Cluster creation typically takes 5-15 minutes; allow up to 30.
CLUSTER_CREATE_TIMEOUT = "30m"
#: Kubernetes RBAC through Azure roles (Microsoft Learn, built-in roles, "Containers"): what the deployer needs to
#: create namespaces and policies when the cluster signs in with Entra ID. A new assignment takes up to 5 minutes
#: to reach the API server (Microsoft Learn, "Use Azure RBAC for Kubernetes authorization", 2026-08).
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
AKS_RBAC_PROPAGATION_SECONDS = 300
#: The kubeconfig format whose user runs kubelogin (facts: Kubeconfig for Entra-only clusters).
KUBECONFIG_EXEC_FORMAT = "exec"
#: The AKS Entra server application every Entra-enabled cluster's tokens are issued for (kubelogin --server-id).
AKS_ENTRA_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"


class AddressSpaces(TypedDict):
    """A cluster network profile's address settings, keyed as the provider's network profile names them."""

    pod_cidr: str
    service_cidr: str
    dns_service_ip: str


#: Overlay pod addresses and service addresses, kept clear of the stack's virtual network (facts: node pools).
CLUSTER_ADDRESS_SPACES = AddressSpaces(pod_cidr="10.244.0.0/16", service_cidr="10.0.0.0/16", dns_service_ip="10.0.0.10")

# --- Pod security ("restricted" profile and common scanners) -------------------------------------------------

#: Non-root high UID/GID the app image creates and the pod runs as.
APP_UID = 10001
#: Kubernetes DNS-1123 label: namespaces and most object names.
DNS1123_LABEL_RULE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: Kubernetes DNS-1123 subdomain: service-account names.
DNS1123_SUBDOMAIN_RULE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
#: Namespace label that makes the API server refuse any pod that is not "restricted".
POD_SECURITY_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
#: Pods in this namespace are never mutated by the webhook.
UNMUTATED_NAMESPACE = "kube-system"

# --- Network policy (Kubernetes NetworkPolicy, enforced by Cilium on AKS; Microsoft Learn "Azure CNI powered by
# --- Cilium" and "Cluster security best practices", 2026) -----------------------------------------------------

#: The label Kubernetes puts on every namespace with its own name, and the labels of the cluster's DNS pods.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
DNS_PORT = 53
HTTPS_PORT = 443
#: Entra ID has no fixed address range a NetworkPolicy could name, and FQDN rules need Advanced Container
#: Networking Services (paid), so the app may reach any public address on 443; private ranges and link-local
#: (IMDS at 169.254.169.254, which would hand out the node's identity) stay closed. The vault's private endpoint
#: is allowed by its own subnet's range.
NON_PUBLIC_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10")
#: AKS LocalDNS (Microsoft Learn, "DNS resolution in AKS" and "Configure LocalDNS", 2026; FACTS "AKS LocalDNS"): on
#: by default on AKS Automatic and optional per node pool elsewhere, a DNS proxy on every node that pods must reach
#: at these two link-local addresses on port 53, UDP and TCP. The rest of link-local (IMDS) stays closed, so the
#: egress policy names each as a /32 on port 53 only. (Cilium's ipBlock cannot select node or pod addresses: if a
#: Cilium cluster counted LocalDNS as the node's own address, the /32s would not match; not checkable offline.)
LOCAL_DNS_ADDRESSES = ("169.254.10.10", "169.254.10.11")


# --- Checked against sources (2026-11) -----------------------------------------------------------------------

#: Azure VM size names: `Standard_<family><vCPUs>[-<active vCPUs>]<features>[_<more>]`, e.g. Standard_D4ds_v5,
#: Standard_E8-4ds_v5 (a constrained size: 4 active vCPUs). The feature letter `d` means a local temp disk.
VM_SIZE_RULE = re.compile(
    r"^Standard_(?P<family>[A-Z]+)(?P<vcpus>[0-9]+)(?:-(?P<active>[0-9]+))?(?P<features>[a-z]*)(?:_(?P<version>[A-Za-z0-9_]+))?$"
)
#: System node pools need at least 4 vCPUs (and 4 GB of memory, which no size name carries; every Azure size
#: with 4 vCPUs has more) and no B-series size (Microsoft Learn, "Manage system node pools in AKS", 2026-04).
SYSTEM_POOL_MIN_VCPUS = 4
SYSTEM_POOL_REFUSED_FAMILY = "B"
#: Nodes per pool, and the pods-per-node range with Azure CNI Overlay (Microsoft Learn, "Azure CNI Overlay"; "AKS
#: quotas and limits"). Production wants at least 50 pods per node.
NODE_POOL_MAX_COUNT = 1000
MAX_PODS_RANGE = (10, 250)
PRODUCTION_MIN_PODS_PER_NODE = 50
#: Availability zones a region can offer.
AVAILABILITY_ZONES = ("1", "2", "3")
#: Azure public-cloud regions, the physical ones `az account list-locations` names. This list was written from
#: Microsoft's published region list without a machine that reaches Azure, so it is not checked against the
#: command: a region Azure has added since, or one missed here, is refused until it is added.
AZURE_REGIONS = frozenset(
    """
    australiacentral australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral brazilsouth
    brazilsoutheast canadacentral canadaeast centralindia centralus chilecentral denmarkeast eastasia eastus eastus2
    francecentral francesouth germanynorth germanywestcentral indonesiacentral israelcentral italynorth japaneast
    japanwest jioindiacentral jioindiawest koreacentral koreasouth malaysiawest mexicocentral newzealandnorth
    northcentralus northeurope norwayeast norwaywest polandcentral qatarcentral southafricanorth southafricawest
    southcentralus southeastasia southindia spaincentral swedencentral swedensouth switzerlandnorth switzerlandwest
    uaecentral uaenorth uksouth ukwest westcentralus westeurope westindia westus westus2 westus3
    """.split()
)
#: Namespaces Kubernetes itself owns: a stack must not claim them.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RESERVED_NAMESPACE_PREFIX = "kube-"
#: The service account Kubernetes creates in every namespace.
DEFAULT_SERVICE_ACCOUNT = "default"

# --- Node pools (Microsoft Learn "Manage system node pools in AKS", "Resize node pools", "Ephemeral OS disk";
# --- pulumi-azure-native docs/resources/containerservice-ManagedCluster.md and gen/replacement.go, 2026) ------

#: A pool's VM size, zones, pods per node, OS disk type and subnet cannot change on an existing pool: AKS answers
#: `PropertyChangeNotAllowed` (FACTS "Resizing a pool"); the supported way is a new pool, then deleting the old one,
#: and a cluster may have several System-mode pools (Microsoft Learn, "Manage system node pools in AKS"). The list
#: lives once, as the pools' name keepers: cluster.py, `rotation_keepers`.
#: A Linux pool's name: 1-12 lowercase letters and digits, starting with a letter (Microsoft Learn, "Create node
#: pools", naming rules; Windows pools allow 6).
LINUX_POOL_NAME_RULE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
#: How the cluster's inline pool list and separate pools behave (pulumi-azure-native and AKS, 2026-12):
#: - AKS needs at least one pool inline to create a cluster; a pool added to the inline list of an existing cluster
#:   is refused ("A new agent pool was introduced. Adding agent pools to an existing cluster is not allowed through
#:   managed cluster operations", pulumi-azure-native#579, #2719, Azure/AKS#4383), and a pool left out of the list
#:   is not deleted (the maintainer's reproduction in pulumi-azure-native#579, 2023-09-28). So the pool a cluster is
#:   created with stays until it is deleted out of band, and every further pool is an `AgentPool` resource.
#: - azure-native sends a cluster update as one PUT of its inputs (`provider/pkg/provider/provider.go`,
#:   defaultUpdate); `agentPoolProfiles` is not one of its maintained sub-resource properties (only arrays whose
#:   items are another resource's body are, `provider/pkg/gen/properties.go`), so nothing merges the live pools in.
#:   A refresh copies the live pools into the stored inputs (provider.go Read, "applyDiff"), and a PUT naming a
#:   pool that was since deleted is refused with the same "new agent pool" error (pulumi-azure-native#2719).
#: - `AgentPool` create first reads the pool and fails with "cannot create already existing resource" when it
#:   exists (provider.go defaultCreate, CanCreate): a separate pool cannot adopt the inline pool by sharing its name.
#: - azure-native replaces an `AgentPool` itself only for `vmSize` and `gpuInstanceProfile`
#:   (`provider/pkg/gen/replacement.go`, forceNewMap) besides its name; zones, pods per node and OS disk type would
#:   be sent as an update, which AKS refuses, so a change to any of them must change the pool's name.
#: - Modifying an inline pool puts every pool of the cluster into the Scaling state (pulumi-azure-native#4264).
#: The name the cluster's first pool has always had, kept so live stacks' clusters keep theirs.
BOOTSTRAP_POOL_NAME = "system"
#: Auto-upgrade channels (Microsoft Learn, "Automatically upgrade node OS images"; FACTS "Upgrade channels"): with
#: the cluster channel `node-image`, AKS refuses any node OS channel but `NodeImage`.
NODE_IMAGE_UPGRADE_CHANNEL = "node-image"
NODE_OS_CHANNEL_WITH_NODE_IMAGE = "NodeImage"
#: Long-term support (Microsoft Learn, "Long-term support for AKS versions", 2025-06: "All supported Kubernetes
#: versions from 1.27 onward are eligible for Long-Term Support"): the Premium tier goes with the LTS plan, so a
#: Premium cluster's version is 1.27 or later. No other version rule: LTS can be enabled on any supported version.
LTS_MIN_KUBERNETES_VERSION = (1, 27)
#: The tier that needs the LTS support plan with it, and the plans (FACTS "Premium tier"; azure-native
#: `KubernetesSupportPlan`, whose default is `KubernetesOfficial`).
PREMIUM_TIER = "Premium"
LTS_SUPPORT_PLAN = "AKSLongTermSupport"
STANDARD_SUPPORT_PLAN = "KubernetesOfficial"
#: The cluster channels that move the Kubernetes version of the control plane and of every pool (Microsoft Learn,
#: "Automatically upgrade an AKS cluster": `patch`, `stable`, `rapid`; `node-image` moves node images only, `none`
#: nothing). After `pulumi refresh` the moved versions are copied into the stored inputs (provider.go Read), and a
#: fixed version sent back is a downgrade AKS refuses or, on old providers, a replacement (pulumi-azure-native#2059).
VERSION_MOVING_UPGRADE_CHANNELS = ("patch", "stable", "rapid")
#: A pool's node image version is read-only in azure-native 3.29 (not among `AgentPool`'s inputs), so the node OS
#: channel moving it never shows as a diff and needs no ignore. An autoscaled pool's `count` is the platform's
#: (FACTS "Autoscaled pools").
#: Ephemeral OS disks (FACTS "Ephemeral OS disk"): AKS's default OS disk is 128 GiB, and it goes on the temp disk only
#: when that holds it; a smaller temp disk with the default size is a validation error. Temp disk per vCPU, in GiB,
#: of the series whose sizes pages give it (Microsoft Learn, "Ddv4 and Ddsv4", "Edv4 and Edsv4", "Ddv5 and Ddsv5",
#: "Edv5 and Edsv5", "Dadsv5", "Eadsv5" series: 75 GiB at 2 vCPUs, 150 at 4, doubling with the vCPUs), keyed by
#: family, feature letters and version as `VM_SIZE_RULE` reads them. A constrained size (E8-4ds_v5) has the temp
#: disk of its full size. Any size not listed keeps a managed OS disk: the rule cannot show its temp disk fits.
EPHEMERAL_OS_DISK_MIN_GIB = 128
TEMP_DISK_GIB_PER_VCPU: dict[tuple[str, str, str], float] = {
    (family, features, version): 37.5
    for family in ("D", "E")
    for features, versions in (("d", ("v4", "v5")), ("ds", ("v4", "v5")), ("ads", ("v5",)))
    for version in versions
}
#: With a user pool, the system pool carries this taint so only critical add-ons run there.
CRITICAL_ADDONS_ONLY_TAINT = "CriticalAddonsOnly=true:NoSchedule"
#: The two planned-maintenance configurations AKS reads: cluster upgrades and node OS upgrades; each window
#: must last at least 4 hours.
MAINTENANCE_CONFIGURATIONS = ("aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule")
MAINTENANCE_WINDOW_HOURS = 4
#: Add-on profile keys: Container Insights (with its workspace's ARM id) and Azure Policy.
MONITORING_ADDON = "omsagent"
MONITORING_WORKSPACE_KEY = "logAnalyticsWorkspaceResourceID"
AZURE_POLICY_ADDON = "azurepolicy"
#: Container Insights signing in with managed identity (FACTS "Container Insights"; Microsoft's onboarding template
#: microsoft/Docker-Provider `scripts/onboarding/aks/onboarding-msi-terraform/main.tf`, which the Learn page "Enable
#: monitoring for AKS clusters" links): the add-on config `useAADAuth: "true"`, a Linux data collection rule whose
#: `ContainerInsights` extension data source and data flow carry the default stream group to the workspace, and an
#: association of that rule with the cluster named `ContainerInsightsExtension`.
MONITORING_AAD_AUTH_KEY = "useAADAuth"
CONTAINER_INSIGHTS_EXTENSION = "ContainerInsights"
CONTAINER_INSIGHTS_DATA_SOURCE = "ContainerInsightsExtension"
CONTAINER_INSIGHTS_STREAMS = ("Microsoft-ContainerInsights-Group-Default",)
CONTAINER_INSIGHTS_ASSOCIATION = "ContainerInsightsExtension"
CONTAINER_INSIGHTS_SETTINGS = {"interval": "1m", "namespaceFilteringMode": "Off", "enableContainerLogV2": True}
#: The add-on's name on the Azure CLI (`az aks enable-addons --addons ...`), for the add-on profile
#: `SECRETS_PROVIDER_ADDON`; AKS reports add-on profile keys in either case, so they are compared case-folded.
SECRETS_PROVIDER_CLI_ADDON = "azure-keyvault-secrets-provider"

# --- Azure built-in roles no workload may hold, and those the CI identities get (Microsoft Learn, "Azure built-in
# --- roles", 2026) ------------------------------------------------------------------------------------------------

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
#: Create and manage every kind of resource, but grant no access.
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
#: Create and delete role assignments, nothing else: narrower than User Access Administrator, which may also
#: manage role definitions, policies and locks (Microsoft.Authorization/*).
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
#: Management-plane rights over a vault, including its access policies: never a workload's.
KEY_VAULT_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
#: Read every resource's configuration, no secrets and no actions.
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
#: `listClusterUserCredential` only: a kubeconfig. On an Entra ID cluster it grants nothing inside the cluster; on
#: one with local accounts the user credential is the cluster's own account.
AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
#: Read-only Kubernetes access through Azure RBAC (Microsoft Learn, "Azure built-in roles for Containers", Azure
#: Kubernetes Service RBAC Reader): most objects, not Secrets, roles or role bindings; what CI's previews get.
AKS_RBAC_READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
#: The only condition version ARM accepts on a role assignment with an Azure ABAC condition (Microsoft Learn, "Azure
#: role assignment condition format and syntax"; the RoleAssignment API's `conditionVersion`).
ROLE_ASSIGNMENT_CONDITION_VERSION = "2.0"

# --- Pulumi project config (pulumi/pulumi sources, 2026-08) -----------------------------------------------------
# The stack's whole config reaches a Python program as one JSON object in the PULUMI_CONFIG environment variable
# (sdk/python/cmd/pulumi-language-python/main.go, constructConfig), which `pulumi.runtime.get_config_env()` reads;
# under test mocks `pulumi.runtime.set_all_config` fills `pulumi.runtime.config.CONFIG` instead. `pulumi.Config`
# has no listing, and Pulumi does not refuse keys the project does not declare, so settings.py lists them itself.
# Since CLI 3.186 a project may declare `type: object` and arrays of objects (sdk/go/common/workspace/project.json,
# pulumi#20129); for an object the CLI checks only that the value is a map (workspace/project.go,
# ValidateConfigValue), and it checks a declared default against the declared type.

# --- Secrets Store CSI driver and its Azure Key Vault provider (workload identity mode) ------------------------
# Sources: Azure/secrets-store-csi-driver-provider-azure (pkg/provider/types/types.go and parameters.go,
# pkg/provider/provider.go, pkg/auth/auth.go; docs "Workload Identity" and "Troubleshooting", 2026-06);
# kubernetes-sigs/secrets-store-csi-driver (cmd/secrets-store-csi-driver/main.go, docs "Secret auto rotation" and
# "Upgrades", 2026-04); Microsoft Learn, "Azure Key Vault provider for Secrets Store CSI Driver ... configuration
# options".

#: The custom resource a pod's CSI volume names, and the CSI driver that mounts it.
SECRET_PROVIDER_CLASS_API_VERSION = "secrets-store.csi.x-k8s.io/v1"
SECRET_PROVIDER_CLASS_KIND = "SecretProviderClass"
SECRETS_STORE_CSI_DRIVER = "secrets-store.csi.k8s.io"
#: The `spec.provider` of a class served by the Azure Key Vault provider.
AZURE_PROVIDER = "azure"
#: The volume attribute that names the class (in the pod's own namespace).
SECRET_PROVIDER_CLASS_ATTRIBUTE = "secretProviderClass"
#: The provider's parameter names. The tenant's is `tenantID`: the provider reads it first and falls back to the
#: older `tenantId`, which it logs as deprecated (parameters.go GetTenantID, issue #857); its docs use `tenantID`.
SPC_USE_POD_IDENTITY = "usePodIdentity"
SPC_CLIENT_ID = "clientID"
SPC_KEYVAULT_NAME = "keyvaultName"
SPC_TENANT_ID = "tenantID"
SPC_DEPRECATED_TENANT_ID = "tenantId"
#: What Go's strconv.ParseBool reads as false: the provider's GetUsePodIdentity trims the value, takes a missing or
#: empty one as false and parses the rest with it (Azure/secrets-store-csi-driver-provider-azure, pkg/provider/types).
GO_FALSE = frozenset({"0", "f", "F", "false", "False", "FALSE"})


def pod_identity_off(value: object) -> bool:
    """Whether the provider reads a class's `usePodIdentity` as false: missing, empty or a Go false spelling. A Go
    true spelling turns pod identity on; anything else (a boolean, an unparseable string) fails the mount."""
    return value is None or (isinstance(value, str) and (value.strip() == "" or value.strip() in GO_FALSE))


SPC_OBJECTS = "objects"
#: An object's type for a Key Vault secret (`key` and `cert` are the others); each is written to a file named after
#: its `objectAlias`, else its `objectName`. An empty objects array mounts nothing and succeeds.
SPC_OBJECT_TYPE_SECRET = "secret"
#: The driver asks the kubelet for a service-account token of the pod's own account with this audience (the
#: CSIDriver's `tokenRequests`), passes it in the `csi.storage.k8s.io/serviceAccount.tokens` attribute as JSON
#: `{audience: {token, expirationTimestamp}}`, and the provider presents it as the client assertion for `clientID`
#: (auth.go DefaultTokenAudience, ParseServiceAccountToken). The provider's pods run on the host network, so the
#: pod's NetworkPolicies do not apply to that exchange or to the Key Vault reads.
CSI_TOKEN_AUDIENCE = TOKEN_AUDIENCE
CSI_SERVICE_ACCOUNT_TOKENS_ATTRIBUTE = "csi.storage.k8s.io/serviceAccount.tokens"
#: AKS add-on profile key of the driver and provider, and its config keys (string values).
SECRETS_PROVIDER_ADDON = "azureKeyvaultSecretsProvider"
SECRET_ROTATION_CONFIG = "enableSecretRotation"
ROTATION_POLL_INTERVAL_CONFIG = "rotationPollInterval"
#: The driver's `--rotation-poll-interval` is a Go `flag.Duration` (time.ParseDuration: a sequence of decimal
#: numbers with units ns, us, µs, ms, s, m, h, e.g. "2m", "90s", "1m30s"), default 2m. Since driver v1.6.0 it is the
#: shortest time between two re-fetches, done on the kubelet's periodic NodePublishVolume (`requiresRepublish`).
DEFAULT_ROTATION_POLL_INTERVAL = "2m"
GO_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
#: Where a pod's own volumes already sit: the webhook's projected token and the Kubernetes API token.
WORKLOAD_IDENTITY_TOKEN_DIR = "/var/run/secrets/azure/tokens"
SERVICE_ACCOUNT_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: What `kubectl describe pod` shows while the provider cannot fetch (the pod stays ContainerCreating, the kubelet
#: retries the mount): an event `Warning FailedMount ... MountVolume.SetUp failed for volume "<volume>" : rpc
#: error: code = Unknown desc = failed to mount secrets store objects for pod <namespace>/<pod>, err: rpc error:
#: code = Unknown desc = failed to mount objects, error: <the provider's error>` (provider docs, Troubleshooting).
FAILED_MOUNT_PREFIX = "MountVolume.SetUp failed for volume"

# --- What a provider replaces (provider sources, 2026-12) ---------------------------------------------------------
#: Inputs whose change makes the provider replace the resource rather than update it, per resource type the program
#: declares, as dotted paths into the registered (camelCase) inputs. The upgrade snapshot (tests/snapshots/) records
#: them, so a release of this package that changes one is caught before it reaches a live stack.
#: - azure-native: the ARM path parameters (resource group and names: they make the resource's id); `location`,
#:   create-only in Azure's common types (`x-ms-mutability: [create, read]`), which azure-native reads as force-new
#:   (`provider/pkg/gen/properties.go`, forceNew); and its own list (`provider/pkg/gen/replacement.go`,
#:   forceNewMap: RoleAssignment principalId and scope; ManagedCluster dnsPrefix, fqdnSubdomain, nodeResourceGroup,
#:   linuxProfile, windowsProfile, diskEncryptionSetID and parts of networkProfile, recorded whole here; AgentPool
#:   vmSize, gpuInstanceProfile; PrivateEndpoint subnet). Create-only properties of nested types do not replace.
#: - pulumi-kubernetes: every kind's `metadata.name` and `metadata.namespace` (KUBERNETES_REPLACEMENT_INPUTS), and
#:   a Deployment's `spec.selector` (`provider/pkg/provider/forcenew.go`).
#: - pulumi-random: every argument of RandomString and RandomPassword, keepers included, replaces (a new value, so
#:   a new physical name where it is a suffix).
#: Resources not listed (components, the Kubernetes provider, image builds, which run again by design) are
#: recorded by URN alone.
REPLACEMENT_INPUTS: dict[str, tuple[str, ...]] = {
    "azure-native:resources:ResourceGroup": ("resourceGroupName", "location"),
    "azure-native:containerservice:ManagedCluster": (
        "resourceGroupName",
        "resourceName",
        "location",
        "dnsPrefix",
        "fqdnSubdomain",
        "nodeResourceGroup",
        "linuxProfile",
        "windowsProfile",
        "diskEncryptionSetID",
        "networkProfile",
    ),
    "azure-native:containerservice:AgentPool": (
        "resourceGroupName",
        "resourceName",
        "agentPoolName",
        "vmSize",
        "gpuInstanceProfile",
    ),
    "azure-native:containerservice:MaintenanceConfiguration": ("resourceGroupName", "resourceName", "configName"),
    "azure-native:containerregistry:Registry": ("resourceGroupName", "registryName", "location"),
    "azure-native:keyvault:Vault": ("resourceGroupName", "vaultName", "location"),
    "azure-native:keyvault:Secret": ("resourceGroupName", "vaultName", "secretName"),
    "azure-native:authorization:RoleAssignment": ("scope", "roleAssignmentName", "principalId"),
    "azure-native:managedidentity:UserAssignedIdentity": ("resourceGroupName", "resourceName", "location"),
    "azure-native:managedidentity:FederatedIdentityCredential": (
        "resourceGroupName",
        "resourceName",
        "federatedIdentityCredentialResourceName",
    ),
    "azure-native:network:VirtualNetwork": ("resourceGroupName", "virtualNetworkName", "location"),
    "azure-native:network:Subnet": ("resourceGroupName", "virtualNetworkName", "subnetName"),
    "azure-native:network:PrivateEndpoint": ("resourceGroupName", "privateEndpointName", "location", "subnet"),
    "azure-native:network:PrivateDnsZoneGroup": ("resourceGroupName", "privateEndpointName", "privateDnsZoneGroupName"),
    "azure-native:privatedns:PrivateZone": ("resourceGroupName", "privateZoneName", "location"),
    "azure-native:privatedns:VirtualNetworkLink": (
        "resourceGroupName",
        "privateZoneName",
        "virtualNetworkLinkName",
        "location",
    ),
    "azure-native:operationalinsights:Workspace": ("resourceGroupName", "workspaceName", "location"),
    "azure-native:monitor:DataCollectionRule": ("resourceGroupName", "dataCollectionRuleName", "location"),
    # An extension resource: its path is its scope's id (`resourceUri`) and its own name.
    "azure-native:monitor:DataCollectionRuleAssociation": ("resourceUri", "associationName"),
    "kubernetes:apps/v1:Deployment": ("metadata.name", "metadata.namespace", "spec.selector"),
    # "" is the whole of the inputs.
    "random:index/randomString:RandomString": ("",),
    "random:index/randomPassword:RandomPassword": ("",),
}
#: What replaces any Kubernetes object, of a kind REPLACEMENT_INPUTS does not list (pulumi-kubernetes, forcenew.go).
KUBERNETES_REPLACEMENT_INPUTS = ("metadata.name", "metadata.namespace")

# --- Key Vault control-plane API versions (FACTS "Key Vault control-plane API retirement"; pulumi-azure-native
# --- sources, 2026-12) -------------------------------------------------------------------------------------------

#: Azure stops serving Key Vault management requests with API versions before this one on this date (Microsoft's
#: announcement, echoed in azure-cli#34020 and azure-powershell#30098).
KEY_VAULT_MIN_API_VERSION = "2026-02-01"
KEY_VAULT_OLD_API_RETIREMENT = "27 February 2027"
#: The API version of azure-native's default `keyvault` module in 3.29, the newest release (versions/v3-spec.yaml:
#: `KeyVault: tracking: "2024-11-01"`; the SDK's Vault and Secret docstrings: "Uses Azure REST API version
#: 2024-11-01"). The same docstrings list 2026-02-01 among the "other available API versions", reachable only through
#: a local package: `pulumi package add azure-native keyvault 2026-02-01`.
AZURE_NATIVE_KEYVAULT_API_VERSION = "2024-11-01"
#: The Key Vault resources this project manages through ARM.
KEY_VAULT_MANAGED_TYPES = ("Vault", "Secret")
#: How an azure-native type token carries its API version: `azure-native:<module>:<Name>` is the default module (the
#: version above); `azure-native:<module>/v<yyyymmdd>[preview]:<Name>` an explicit version (the tokens 3.x keeps as
#: aliases); a local package from `pulumi package add azure-native <module> <version>` is named
#: `azure-native_<module>_v<yyyymmdd>` with tokens `<package>:<module>:<Name>` (provider/pkg/provider/
#: provider_parameterize.go, createSchema and its tests). Once created, every 3.x resource also reports the version
#: it was managed with in its `azureApiVersion` output.
AZURE_NATIVE_TYPE_TOKEN = re.compile(
    r"^azure-native(?:_[a-z0-9]+_v(?P<package>[0-9]{8}[a-z]*))?"
    r":(?P<module>[a-z0-9]+)(?:/v(?P<explicit>[0-9]{8}[a-z]*))?:(?P<name>[A-Za-z0-9]+)$"
)

# --- The secret reader's environment (app/README.md) -------------------------------------------------------------

#: How a workload's pods name what they read: the vault's URI (or its name) and the secret's name. The policy pack
#: compares them with what the pod's identity may read.
VAULT_URL_ENV = "KEY_VAULT_URL"
VAULT_NAME_ENV = "KEY_VAULT_NAME"
SECRET_NAME_ENV = "SECRET_NAME"
#: File mode: the path of the file the reader reads (a file under a CSI volume's mount path).
SECRET_FILE_ENV = "SECRET_FILE"

# --- Image builds without ACR Tasks (2026-12) ---------------------------------------------------------------------
#: The error code ACR answers an `az acr build` with on subscriptions that do not permit ACR Tasks, such as free-trial
#: and free-credit offers (FACTS "ACR Tasks on free-trial / free-credit subscriptions": "ACR Tasks requests for the
#: registry ... are not permitted").
ACR_TASKS_REFUSED = "TasksOperationsNotAllowed"
#: `az acr login --expose-token` exchanges the signed-in Entra identity's token for a registry token (about three
#: hours long) without Docker; a client then signs in with this user name and the token as password (Microsoft Learn,
#: "Authenticate with an Azure container registry", and the ACR/ORAS quickstart: `USER_NAME="00000000-0000-0000-0000-
#: 000000000000"`, `PASSWORD=$(az acr login --name $ACR_NAME --expose-token --output tsv --query accessToken)`). What
#: the token may do follows the identity's roles on the registry: pushing needs AcrPush (ACR_PUSH).
#: pulumi-docker-build ignores a changed password when it diffs an Image's `registries` (provider/internal/image.go,
#: Diff), so a fresh token on each run rebuilds nothing; it also reads the host's Docker credentials
#: (provider/internal/host.go, GetAllCredentials), but only when the provider starts, before the stack's registry
#: exists on a first deploy, so the token is passed explicitly.
ACR_TOKEN_USERNAME = "00000000-0000-0000-0000-000000000000"
