"""Turns a failed read into one line: what failed, the service's own error code, and what to check.

The codes stay greppable (`AADSTS700211`, `Forbidden/ForbiddenByRbac`, `SecretNotFound`, `HTTP 429`), and the
line never carries a token or a secret value: it is built from status codes,
error codes and the services' error messages only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import CredentialUnavailableError

from secret_reader.console import one_line
from secret_reader.facts import (
    AADSTS_ASSERTION_EXPIRED,
    AADSTS_ISSUER_UNREACHABLE,
    AADSTS_NO_FEDERATED_MATCH,
    AADSTS_UNKNOWN_CLIENT,
    AADSTS_UNKNOWN_TENANT,
    CLIENT_ID_ANNOTATION,
    RBAC_PROPAGATION_SECONDS,
    SECRETS_USER_ROLE,
    TENANT_ID_ANNOTATION,
    TENANT_REFUSAL,
    TOKEN_AUDIENCE,
)

_AADSTS = re.compile(r"AADSTS(\d+)")
#: azure-identity's "Microsoft Entra ID error '(<error>) <description>'", then maybe " Content: <body>". The
#: description runs over lines: Entra ID ends it with "\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …".
_ENTRA_ERROR = re.compile(
    r"Microsoft Entra ID error '\((?P<error>[^)]*)\) (?P<description>.*?)'(?=\s+Content:|\s*$)", re.M | re.S
)
#: azure-identity's tenant refusal, without the advice about additionally_allowed_tenants that follows it.
_TENANT_SAID = re.compile(r"The current credential is " + re.escape(TENANT_REFUSAL) + r" \S+?\.(?=\s|$)")
_DETAIL_LIMIT = 300

_ROLE_HINT = (
    f"a new role assignment may still be propagating (up to {RBAC_PROPAGATION_SECONDS // 60} minutes); "
    f"check the identity has {SECRETS_USER_ROLE} on the vault"
)
_TENANT_HINT = (
    "the vault is in another tenant than the identity: AZURE_TENANT_ID comes from the service account's "
    f"{TENANT_ID_ANNOTATION} annotation (or the cluster's tenant when it is absent); it must be the vault's "
    "tenant, the one its Key Vault challenge names"
)
_ENTRA_HINTS = {
    **dict.fromkeys(
        AADSTS_NO_FEDERATED_MATCH,
        "no federated credential matches this pod's token; a new one can take a few minutes to propagate, "
        "otherwise check its issuer equals the cluster's OIDC issuer URL byte for byte (trailing slash "
        "included), its subject is system:serviceaccount:<namespace>:<service account> and its audience "
        f"{TOKEN_AUDIENCE}",
    ),
    AADSTS_UNKNOWN_CLIENT: (
        "the client id is unknown in this tenant; check AZURE_CLIENT_ID (the service account annotation "
        f"{CLIENT_ID_ANNOTATION}) is the identity's client id, not its principal id, and AZURE_TENANT_ID "
        "is its tenant"
    ),
    AADSTS_ISSUER_UNREACHABLE: (
        "Entra ID could not reach the cluster's OIDC issuer; check the cluster has the OIDC issuer enabled "
        "and the federated credential's issuer is that exact URL"
    ),
    AADSTS_UNKNOWN_TENANT: "the tenant is unknown; check AZURE_TENANT_ID (the service account's tenant-id)",
    AADSTS_ASSERTION_EXPIRED: (
        "the projected service-account token has expired; check the token volume is refreshed (kubelet) "
        "and the node's clock"
    ),
}
_KEY_VAULT_HINTS = {
    "ForbiddenByRbac": _ROLE_HINT,
    "ForbiddenByPolicy": "the vault uses access policies; switch it to Azure RBAC (enableRbacAuthorization)",
    "ForbiddenByFirewall": "the vault's network rules reject this cluster's egress address",
    "ForbiddenByConnection": "the vault's network rules reject this connection (private endpoint, firewall)",
    "SecretDisabled": "the secret (version) is disabled; enable it or choose another VERSION_ID",
}


@dataclass(frozen=True)
class Context:
    """What the hints need to know about the deployment."""

    vault_name: str
    secret_name: str
    version: str | None
    #: AZURE_FEDERATED_TOKEN_FILE, the projected service-account token the credential presents.
    token_file: str


def describe(exc: BaseException, context: Context) -> str:
    """One line explaining `exc`, for an operator who sees nothing but the pod's log."""
    message = str(getattr(exc, "message", None) or exc)
    code = _AADSTS.search(message)
    if isinstance(exc, ClientAuthenticationError) and code:
        return _entra(code.group(1), message)
    if isinstance(exc, OSError):  # WorkloadIdentityCredential reading the token file
        return (
            f"Cannot read the projected service-account token AZURE_FEDERATED_TOKEN_FILE={context.token_file} "
            f"({type(exc).__name__}): {_detail(exc.strerror or message)}. In a pod it comes from the projected "
            "volume the webhook adds; outside one, point the variable at a service-account token (app/README.md)."
        )
    if isinstance(exc, CredentialUnavailableError) or (
        isinstance(exc, ClientAuthenticationError) and exc.response is None
    ):
        return _credential(message)
    if isinstance(exc, HttpResponseError) and exc.response is not None and (status := exc.status_code):
        return _key_vault(exc, status, context)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return (
            f"Network error talking to Key Vault ({type(exc).__name__}) after the SDK's retries: "
            f"{_detail(message)}. Check DNS and egress from the pod to {context.vault_name}'s host and to "
            "login.microsoftonline.com (network policies, firewall, proxy)."
        )
    kind = "Azure SDK error" if isinstance(exc, AzureError) else "Unexpected error"
    return f"{kind} ({type(exc).__name__}) reading the secret: {_detail(message)}."


def _entra(code: str, message: str) -> str:
    entra = _ENTRA_ERROR.search(message)
    error = f" ({entra['error']})" if entra else ""
    said = _detail(entra["description"] if entra else message)
    hint = _ENTRA_HINTS.get(code, "check the identity's client id, tenant and federated credential")
    return f"Token request to Microsoft Entra ID failed: AADSTS{code}{error}: {hint}. Entra ID said: {said}"


def _credential(message: str) -> str:
    if TENANT_REFUSAL in message:
        said = _TENANT_SAID.search(message)
        why = _detail(said.group(0) if said else message)
        return f"Token request refused by azure-identity (tenant mismatch): {_TENANT_HINT}. It said: {why}"
    return (
        f"Token request failed (WorkloadIdentityCredential): {_detail(message)}. Check "
        "AZURE_FEDERATED_TOKEN_FILE is readable and the authority host (AZURE_AUTHORITY_HOST) is reachable."
    )


def _key_vault(exc: HttpResponseError, status: int, context: Context) -> str:
    code, inner, said = _key_vault_error(exc)
    codes = "/".join(c for c in (code, inner) if c)
    label = f"HTTP {status} {codes}".rstrip()
    secret = context.secret_name + (f" version {context.version}" if context.version else "")
    if status == 401:
        hint = "Key Vault rejected the token; check the vault is in the identity's tenant (AZURE_TENANT_ID)"
    elif status == 403:
        hint = _KEY_VAULT_HINTS.get(inner or "", _KEY_VAULT_HINTS.get(code or "", _ROLE_HINT))
    elif status == 404:
        hint = f"check SECRET_NAME ({secret}) exists in vault {context.vault_name}"
    elif status == 429:
        hint = "Key Vault throttled this client even after the SDK's retries; raise POLL_INTERVAL_SECONDS"
    elif status >= 500:
        hint = "Key Vault kept failing through the SDK's retries; this is usually transient"
    else:
        hint = "unexpected answer from Key Vault"
    detail = f" Key Vault said: {_detail(said)}" if said else ""
    return f"Key Vault GET secret {secret} failed: {label}: {hint}.{detail}"


def _key_vault_error(exc: HttpResponseError) -> tuple[str | None, str | None, str | None]:
    """Key Vault's `{"error": {"code", "message", "innererror": {"code"}}}`, parsed leniently."""
    if exc.response is None:
        return None, None, None
    try:
        error = json.loads(exc.response.text())["error"]
        inner = error.get("innererror") or {}
        return error.get("code"), inner.get("code"), error.get("message")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, None, None


def _detail(text: str) -> str:
    return one_line(text, _DETAIL_LIMIT)
