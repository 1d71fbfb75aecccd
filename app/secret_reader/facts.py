"""Azure and Kubernetes facts the app depends on, each typed once, under the heading of the facts sheet.

The image ships without the Pulumi project, so it cannot import the components' `facts.py`. A fact both modules
hold has the same name and value in each, and a test checks every such name. The app's own tuning (retries, timeouts,
backoff) lives in the module that uses it, not here.
"""

from __future__ import annotations

import re

# --- Key Vault ----------------------------------------------------------------------------------------------

#: Vault names: 3-24 letters, digits and hyphens, starting with a letter.
VAULT_NAME_RULE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")
#: Secret names: 1-127 letters, digits and hyphens.
SECRET_NAME_RULE = re.compile(r"^[A-Za-z0-9-]{1,127}$")
#: A secret version id is 32 hex digits (the last segment of the secret's id).
SECRET_VERSION_RULE = re.compile(r"^[0-9A-Fa-f]{32}$")
#: Public-cloud data-plane suffix; sovereign clouds use others ("use the vault's vaultUri output").
PUBLIC_VAULT_SUFFIX = "vault.azure.net"
#: Suffixes of the clouds that exist; any other `vault.<domain>` is accepted as a plausible new cloud.
KNOWN_VAULT_SUFFIXES = (PUBLIC_VAULT_SUFFIX, "vault.azure.cn", "vault.usgovcloudapi.net")
#: Read-only data-plane role the workload needs.
SECRETS_USER_ROLE = "Key Vault Secrets User"
#: Data-plane RBAC can take this long to apply; requests meanwhile get 403.
RBAC_PROPAGATION_SECONDS = 600

# --- Workload identity (AKS add-on, mutating webhook) -------------------------------------------------------

#: The variables WorkloadIdentityCredential needs; the webhook injects them into every container of a labelled
#: pod, AZURE_CLIENT_ID only when the service account has the client-id annotation. The app uses nothing else:
#: without them it refuses to start rather than fall back to the node's identity (IMDS), which holds AcrPull.
WORKLOAD_IDENTITY_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")
#: Injected too, optional: the Entra ID authority (azure-identity defaults to the public cloud's).
AUTHORITY_HOST_ENV = "AZURE_AUTHORITY_HOST"
#: The authority host the webhook injects for the public cloud, and azure-identity's default.
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com/"
#: The webhook mutates only pods that carry this label with value "true" on the pod (template) itself.
WORKLOAD_IDENTITY_USE_LABEL = "azure.workload.identity/use"
#: Service-account annotation naming the identity's client id.
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
#: Service-account annotation naming the identity's tenant (optional; defaults to the cluster's tenant).
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
#: Audience of the projected token and of every federated credential.
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
#: Pods in this namespace are never mutated by the webhook.
UNMUTATED_NAMESPACE = "kube-system"

# --- The secret reader's environment (app/README.md) -------------------------------------------------------

#: File mode: the path of the file the reader reads (a file under a CSI volume's mount path).
SECRET_FILE_ENV = "SECRET_FILE"

# --- Throttling (why the loop may retry every poll interval until its first read; reader.py) ----------------
#
# Key Vault: about 4,000 secret GETs per 10 s per vault, then 429 with Retry-After. A replica retrying every
# 5 s makes at most 2 GETs (one answered by the challenge) per 4.5 s.
# Entra ID publishes no fixed rate for client-credential token requests; it answers an app that asks too often
# (in practice: one that does not cache tokens) with 429 and `Retry-After: 60` (Microsoft Learn, MSAL.NET
# "Understanding client and server throttling"). azure-identity caches a token for its lifetime, so a running
# replica asks about once an hour; before its first token it asks once per poll interval (12 a minute at 5 s),
# and only while the federated credential propagates: a failed exchange issues nothing to cache.

# --- Entra ID token exchange (what azure-identity does inside the pod) -------------------------------------

#: azure-identity refuses, without asking Entra ID, a token for a tenant other than AZURE_TENANT_ID (here: the
#: tenant named in Key Vault's 401 challenge, that is the vault's tenant); its message contains this.
TENANT_REFUSAL = "not configured to acquire tokens for tenant"

# --- Entra ID error codes (Workload identity; Entra ID token exchange) ---------------------------------

#: No federated credential matches the presented token (propagating, or issuer/subject mismatch).
AADSTS_NO_FEDERATED_MATCH = frozenset({"70021", "700211"})
#: The client id is unknown in the tenant.
AADSTS_UNKNOWN_CLIENT = "700016"
#: Entra could not fetch the cluster's OIDC issuer documents.
AADSTS_ISSUER_UNREACHABLE = "90061"
#: The tenant id is unknown.
AADSTS_UNKNOWN_TENANT = "90002"
#: The projected service-account token has expired or is not yet valid.
AADSTS_ASSERTION_EXPIRED = "700024"
