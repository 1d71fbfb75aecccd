"""The one line an operator sees for a failed read, built from exceptions shaped as azure-core / azure-identity
raise them. The line is the app's contract with the operator, so each test compares it whole."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import CredentialUnavailableError
from secret_reader import facts
from secret_reader.diagnose import Context, describe

CONTEXT = Context("kv-demo", "demo-secret", None, token_file="/var/run/secrets/azure/tokens/azure-identity-token")
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TRACE_LINES = ("Trace ID: 0000", "Correlation ID: 1111", "Timestamp: 2025-01-01 00:00:00Z")
#: How Entra ID ends a description (CRLF before each line), and how the one log line shows it.
TRACE = "".join(f"\r\n{line}" for line in TRACE_LINES)
TRACE_SHOWN = " ".join(TRACE_LINES)
ENTRA_FAILED = "Token request to Microsoft Entra ID failed"
TENANT_HINT = (
    "the vault is in another tenant than the identity: AZURE_TENANT_ID comes from the service account's "
    f"{facts.TENANT_ID_ANNOTATION} annotation (or the cluster's tenant when it is absent); it must be the vault's "
    "tenant, the one its Key Vault challenge names"
)


class FakeResponse:
    """What azure-core reads off an HTTP response: status, reason and body."""

    def __init__(self, status_code: int, reason: str, body: object) -> None:
        self.status_code, self.reason, self._body = status_code, reason, json.dumps(body)

    def text(self) -> str:
        return self._body


def entra_error(error: str, description: str) -> ClientAuthenticationError:
    """As azure-identity's `_raise_for_error` raises a token-endpoint error."""
    body = {"error": error, "error_description": description}
    return ClientAuthenticationError(
        message=f"Microsoft Entra ID error '({error}) {description}'", response=FakeResponse(400, "Bad Request", body)
    )


def test_known_aadsts_code_shows_its_hint_the_error_and_only_the_description() -> None:
    """Kills `_entra`: `said = None`, and `said = _detail(... if (entra) and False ...)` (whole message shown)."""
    description = (
        "AADSTS700211: No matching federated identity record found for presented assertion issuer "
        "'https://oidc.example/abc/'. Please check your federated identity credential."
    )
    assert describe(entra_error("invalid_client", description + TRACE), CONTEXT) == (
        f"{ENTRA_FAILED}: AADSTS700211 (invalid_client): no federated credential matches this pod's token; a new "
        "one can take a few minutes to propagate, otherwise check its issuer equals the cluster's OIDC issuer URL "
        "byte for byte (trailing slash included), its subject is system:serviceaccount:<namespace>:<service "
        f"account> and its audience {facts.TOKEN_AUDIENCE}. Entra ID said: {description} {TRACE_SHOWN}"
    )


def test_unknown_aadsts_code_gets_the_generic_hint() -> None:
    """Kills `_entra`: the default hint of `_ENTRA_HINTS.get` replaced by None, dropped, uppercased or XX-wrapped."""
    description = "AADSTS700027: Client assertion contains an invalid signature."
    assert describe(entra_error("invalid_client", description + TRACE), CONTEXT) == (
        f"{ENTRA_FAILED}: AADSTS700027 (invalid_client): check the identity's client id, tenant and federated "
        f"credential. Entra ID said: {description} {TRACE_SHOWN}"
    )


def test_aadsts_message_not_in_entra_format_has_no_error_part_and_is_shown_whole() -> None:
    """Kills `_entra`: `error = ... else "XXXX"` (an error part where none was parsed)."""
    message = f"Authentication failed: AADSTS90002: Tenant '{TENANT}' not found."
    assert describe(ClientAuthenticationError(message=message + TRACE), CONTEXT) == (
        f"{ENTRA_FAILED}: AADSTS90002: the tenant is unknown; check AZURE_TENANT_ID (the service account's "
        f"tenant-id). Entra ID said: {message} {TRACE_SHOWN}"
    )


def test_tenant_refusal_shows_only_azure_identitys_sentence() -> None:
    """Pins the tenant-mismatch line (no listed mutant; the `said` branch): the advice that follows is cut."""
    message = (
        f"The current credential is not configured to acquire tokens for tenant {TENANT}. To enable acquiring "
        "tokens for this tenant add it to the additionally_allowed_tenants when creating the credential, or add "
        '"*" to additionally_allowed_tenants to allow acquiring tokens for any tenant.'
    )
    assert describe(ClientAuthenticationError(message=message), CONTEXT) == (
        "Token request refused by azure-identity (tenant mismatch): "
        f"{TENANT_HINT}. It said: The current credential is not configured to acquire tokens for tenant {TENANT}."
    )


def test_tenant_refusal_in_other_words_is_shown_whole() -> None:
    """Kills `_credential`: `said.group(0) if (said) or True else message` (crashes when the sentence differs)."""
    message = f"Credential is not configured to acquire tokens for tenant '{TENANT}'\n(additionally_allowed_tenants)"
    assert describe(ClientAuthenticationError(message=message), CONTEXT) == (
        "Token request refused by azure-identity (tenant mismatch): "
        f"{TENANT_HINT}. It said: Credential is not configured to acquire tokens for tenant '{TENANT}' "
        "(additionally_allowed_tenants)"
    )


@pytest.mark.parametrize("error", [ClientAuthenticationError, CredentialUnavailableError])
def test_credential_failure_without_a_response_names_what_to_check(error: type[ClientAuthenticationError]) -> None:
    """Kills `_credential`: the fallback's "AZURE_FEDERATED_TOKEN_FILE is readable ..." uppercased or XX-wrapped."""
    message = "Authentication failed: Failed to resolve 'login.microsoftonline.com'\n([Errno -2] Name or service)"
    assert describe(error(message=message), CONTEXT) == (
        "Token request failed (WorkloadIdentityCredential): Authentication failed: Failed to resolve "
        "'login.microsoftonline.com' ([Errno -2] Name or service). Check AZURE_FEDERATED_TOKEN_FILE is readable "
        "and the authority host (AZURE_AUTHORITY_HOST) is reachable."
    )


def test_key_vault_403_forbidden_by_rbac_names_the_role_and_propagation() -> None:
    """Pins the 403 line (no listed mutant lives here): codes from Key Vault's JSON body, the role hint."""
    body = {
        "error": {
            "code": "Forbidden",
            "message": "Caller is not authorized to perform action on resource.\r\nAction: "
            "'Microsoft.KeyVault/vaults/secrets/getSecret/action'",
            "innererror": {"code": "ForbiddenByRbac"},
        }
    }
    exc = HttpResponseError(response=FakeResponse(403, "Forbidden", body))
    assert describe(exc, CONTEXT) == (
        "Key Vault GET secret demo-secret failed: HTTP 403 Forbidden/ForbiddenByRbac: a new role assignment may "
        f"still be propagating (up to {facts.RBAC_PROPAGATION_SECONDS // 60} minutes); check the identity has "
        f"{facts.SECRETS_USER_ROLE} on the vault. Key Vault said: Caller is not authorized to perform action on "
        "resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'"
    )


@pytest.mark.parametrize(
    ("error", "shown", "hint"),
    [
        (
            {"code": "Forbidden", "innererror": {"code": "ForbiddenByFirewall"}},
            "Forbidden/ForbiddenByFirewall",
            "the vault's network rules reject this cluster's egress address",
        ),
        (
            {"code": "Forbidden", "innererror": {"code": "SecretDisabled"}},
            "Forbidden/SecretDisabled",
            "the secret (version) is disabled; enable it or choose another VERSION_ID",
        ),
        # No inner code: the outer one is looked up.
        (
            {"code": "ForbiddenByConnection"},
            "ForbiddenByConnection",
            "the vault's network rules reject this connection (private endpoint, firewall)",
        ),
        # An inner code the app does not know: the outer one, then the role hint.
        (
            {"code": "ForbiddenByPolicy", "innererror": {"code": "SomethingNew"}},
            "ForbiddenByPolicy/SomethingNew",
            "the vault uses access policies; switch it to Azure RBAC (enableRbacAuthorization)",
        ),
    ],
)
def test_key_vault_403_hint_follows_the_most_specific_code_the_app_knows(error: dict, shown: str, hint: str) -> None:
    """A 403's hint comes from Key Vault's inner code, else its outer code; only a code the app does not know at
    either level gets the role hint (the test above)."""
    exc = HttpResponseError(response=FakeResponse(403, "Forbidden", {"error": {**error, "message": "Denied."}}))
    assert describe(exc, CONTEXT) == (
        f"Key Vault GET secret demo-secret failed: HTTP 403 {shown}: {hint}. Key Vault said: Denied."
    )


def test_key_vault_404_names_the_secret_version_and_vault() -> None:
    """Pins the 404 line (no listed mutant lives here): the secret, its version and the vault."""
    body = {"error": {"code": "SecretNotFound", "message": "A secret with (name/id) demo-secret/abc was not found."}}
    context = Context("kv-demo", "demo-secret", "abc", token_file=CONTEXT.token_file)
    exc = ResourceNotFoundError(response=FakeResponse(404, "Not Found", body))
    assert describe(exc, context) == (
        "Key Vault GET secret demo-secret version abc failed: HTTP 404 SecretNotFound: check SECRET_NAME "
        "(demo-secret version abc) exists in vault kv-demo. Key Vault said: A secret with (name/id) demo-secret/abc "
        "was not found."
    )


def test_key_vault_429_after_the_sdks_retries_says_to_poll_less_often() -> None:
    body = {"error": {"code": "Throttled", "message": "Request was not processed because too many requests."}}
    exc = HttpResponseError(response=FakeResponse(429, "Too Many Requests", body))
    assert describe(exc, CONTEXT) == (
        "Key Vault GET secret demo-secret failed: HTTP 429 Throttled: Key Vault throttled this client even after "
        "the SDK's retries; raise POLL_INTERVAL_SECONDS. Key Vault said: Request was not processed because too many "
        "requests."
    )


def test_any_other_failure_is_named_by_its_kind_and_type() -> None:
    assert describe(AzureError("odd"), CONTEXT) == "Azure SDK error (AzureError) reading the secret: odd."
    assert describe(KeyError("x"), CONTEXT) == "Unexpected error (KeyError) reading the secret: 'x'."


@pytest.mark.parametrize(
    ("status", "reason", "hint"),
    [
        (
            401,
            "Unauthorized",
            "Key Vault rejected the token; check the vault is in the identity's tenant (AZURE_TENANT_ID)",
        ),
        (500, "InternalServerError", "Key Vault kept failing through the SDK's retries; this is usually transient"),
        (503, "ServiceUnavailable", "Key Vault kept failing through the SDK's retries; this is usually transient"),
        (499, "ClientClosedRequest", "unexpected answer from Key Vault"),
        (400, "BadParameter", "unexpected answer from Key Vault"),
    ],
)
def test_key_vault_failures_by_status_name_what_to_check(status: int, reason: str, hint: str) -> None:
    """Each remaining status gets its own hint: 500 is the first the SDK's retries count as the service failing."""
    exc = HttpResponseError(response=FakeResponse(status, reason, {"error": {"code": reason, "message": "Said."}}))
    assert describe(exc, CONTEXT) == (
        f"Key Vault GET secret demo-secret failed: HTTP {status} {reason}: {hint}. Key Vault said: Said."
    )
