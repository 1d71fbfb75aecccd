"""Azure and Kubernetes facts the project depends on, each typed exactly once.

They cannot be learned by trial from a machine without Azure, so each one names the heading of the project's
facts sheet it comes from (Microsoft's and Pulumi's public documentation and the azure-workload-identity source).
Components, settings, tests and the twin import them from here.
"""

from __future__ import annotations

import re

# --- Workload identity (AKS add-on, mutating webhook) -------------------------------------------------------

#: The webhook mutates only pods that carry this label with value "true" on the pod (template) itself.
WORKLOAD_IDENTITY_USE_LABEL = "azure.workload.identity/use"
#: Service-account annotation naming the user-assigned identity's client id (required).
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
#: Service-account annotation naming the identity's tenant (optional; defaults to the cluster's tenant).
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
#: Audience of the projected token and of every federated credential.
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
#: Where the webhook mounts the projected service-account token in each container.
INJECTED_TOKEN_FILE = "/var/run/secrets/azure/tokens/azure-identity-token"
#: The authority host the webhook injects for the public cloud.
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com/"
#: The environment variables the webhook injects into each container.
INJECTED_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST")
#: Where an unlabelled pod's DefaultAzureCredential falls back to (the node's instance metadata service).
IMDS_ADDRESS = "169.254.169.254"
#: At most this many federated credentials per user-assigned identity.
MAX_FEDERATED_CREDENTIALS_PER_IDENTITY = 20


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
#: Soft-delete retention bounds, in days.
SOFT_DELETE_RETENTION_DAYS = (7, 90)

# --- Container registry and image build --------------------------------------------------------------------

#: Lets the cluster's kubelet identity pull images.
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
#: Registry names: 5-50 alphanumerics, no hyphens.
REGISTRY_NAME_RULE = re.compile(r"^[A-Za-z0-9]{5,50}$")

# --- Role assignments (Key Vault) ----------------------------------------------------------------------------

#: A just-created identity must be named a service principal or ARM may answer PrincipalNotFound.
SERVICE_PRINCIPAL = "ServicePrincipal"


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    """The subscription-scoped id of a built-in role definition."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


# --- AKS and its kubeconfig ----------------------------------------------------------------------------------

#: Key of the kubelet identity in the cluster's `identityProfile`.
KUBELET_IDENTITY_KEY = "kubeletidentity"
#: Cluster creation typically takes 5-15 minutes; allow up to 30.
CLUSTER_CREATE_TIMEOUT = "30m"

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
