"""Azure facts the app depends on, each typed once, under the heading of the facts sheet it comes from.

The image ships without the Pulumi project, so it cannot import `components/facts.py`; tests check that the
rules both modules share still agree.
"""

from __future__ import annotations

import re

from azure.core.pipeline.policies import RetryMode

# --- Key Vault ----------------------------------------------------------------------------------------------

#: Vault names: 3-24 letters, digits and hyphens, starting with a letter.
VAULT_NAME_RULE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")
#: Secret names: 1-127 letters, digits and hyphens.
SECRET_NAME_RULE = re.compile(r"^[A-Za-z0-9-]{1,127}$")
#: A secret version id is 32 hex digits (the last segment of the secret's id).
SECRET_VERSION_RULE = re.compile(r"^[0-9A-Fa-f]{32}$")
#: Public-cloud data-plane suffix; sovereign clouds use others ("use the vault's vaultUri output").
PUBLIC_VAULT_SUFFIX = "vault.azure.net"
#: Suffixes of the clouds we know; any other `vault.<domain>` is accepted as a plausible new cloud.
KNOWN_VAULT_SUFFIXES = (
    PUBLIC_VAULT_SUFFIX,
    "vault.azure.cn",
    "vault.usgovcloudapi.net",
    "vault.microsoftazure.de",
)
#: Read-only data-plane role the workload needs.
SECRETS_USER_ROLE = "Key Vault Secrets User"
#: Data-plane RBAC can take this long to apply; requests meanwhile get 403.
RBAC_PROPAGATION_MINUTES = 10
#: The walkthrough's SecretClient retry policy (exponential, 2 s factor, 16 s cap, 5 retries), in azure-core's
#: RetryPolicy keywords. azure-core retries 408, 429 and 5xx only, never 401/403, so the app's loop must
#: survive those itself. azure-core retries the first failure at once, then waits 4, 8, 16, 16 s.
SDK_RETRY_POLICY: dict[str, object] = {
    "retry_mode": RetryMode.Exponential,
    "retry_backoff_factor": 2,
    "retry_backoff_max": 16,
    "retry_total": 5,
    "retry_connect": 5,
    "retry_read": 5,
    "retry_status": 5,
}
#: Transport timeouts (seconds) so a silent network cannot hang a poll: 6 attempts x (10 + 30) s plus the
#: backoffs above stay under REQUEST_STALL_SECONDS.
SDK_TIMEOUTS = {"connection_timeout": 10, "read_timeout": 30}
#: A single poll (token, challenge, GET, SDK retries) that takes longer than this counts as stalled.
REQUEST_STALL_SECONDS = 300.0

# --- Workload identity (AKS add-on, mutating webhook) -------------------------------------------------------

#: What the webhook injects; without them DefaultAzureCredential falls back to IMDS.
WORKLOAD_IDENTITY_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")
#: The webhook mutates only pods carrying this label on the pod (template) itself.
WORKLOAD_IDENTITY_USE_LABEL = 'azure.workload.identity/use: "true"'
#: Service-account annotation naming the identity's client id.
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
#: Audience of the projected token and of every federated credential.
TOKEN_AUDIENCE = "api://AzureADTokenExchange"

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
