"""Entra ID's token endpoint, as it answers a workload-identity token exchange.

`POST https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token` with a client assertion (the projected
service-account token) is checked in this order, each failure answered with Entra's own error JSON and code:

1. the tenant in the path exists (AADSTS90002), the form carries an assertion and a `/.default` scope;
2. `client_id` names an identity in that tenant (AADSTS700016);
3. a federated credential on that identity trusts the assertion's issuer (AADSTS700211). Entra looks only at
   issuers the identity already trusts, so it never fetches an unknown issuer's discovery document;
4. the credential has propagated (the `Faults` window, AADSTS70021; facts: Workload identity);
5. the issuer's discovery document and JWKS can be fetched over HTTPS (AADSTS90061);
6. the signature verifies against that JWKS (AADSTS700027) and the assertion is within its validity (AADSTS700024);
7. a credential matches issuer, subject and audience exactly, byte for byte (AADSTS70021).

Then it issues a signed access token for the requested resource. Errors use HTTP 400 throughout (facts: Entra ID
token exchange).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from aks_workload_identity import facts
from twin.faults import FaultState
from twin.issuer import DISCOVERY_PATH, Clock, key_id
from twin.messages import Request, Response, json_response
from twin.model import Declarations, FederatedCredential, Identity

HOST = urlsplit(facts.DEFAULT_AUTHORITY_HOST).hostname or ""
DOCS = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
#: Lifetime of the access tokens the twin issues, as Entra's `expires_in`.
ACCESS_TOKEN_LIFETIME = 3599


def token_issuer(tenant_id: str) -> str:
    """The `iss` of a v1 access token, the kind Key Vault is issued."""
    return f"https://sts.windows.net/{tenant_id}/"


class EntraError(Exception):
    def __init__(self, code: int, error: str, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.code = code
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Grant:
    """Evidence of one successful exchange: which identity and which credential the assertion matched."""

    identity: Identity
    credential: FederatedCredential
    issuer: str
    subject: str
    audience: str
    resource: str


class Entra:
    def __init__(
        self,
        declarations: Declarations,
        key: rsa.RSAPrivateKey,
        fetch_json: Callable[[str], dict],
        faults: FaultState,
        clock: Clock | None = None,
    ) -> None:
        self.declarations = declarations
        self.key = key
        #: The cluster's clock (`twin.issuer`), by which assertions expire and access tokens are dated.
        self._clock = clock or Clock()
        self.kid = key_id(key)
        self._fetch_json = fetch_json
        self._faults = faults
        self._lock = threading.Lock()
        self.token_requests = 0
        self.errors: list[int] = []
        self.grants: list[Grant] = []

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 4 or parts[1:] != ["oauth2", "v2.0", "token"]:
            return json_response(404, {"error": "not_found", "error_description": f"no route {request.path}"})
        with self._lock:
            self.token_requests += 1
        form = request.form()
        try:
            grant = self._exchange(parts[0], form)
        except EntraError as e:
            with self._lock:
                self.errors.append(e.code)
            return self._error(e)
        with self._lock:
            self.grants.append(grant)
        return json_response(200, self._access_token(grant))

    def _exchange(self, tenant: str, form: dict[str, str]) -> Grant:
        """The checks in the order of the module's docstring; the first that fails is the answer."""
        # 1. The tenant and the form.
        tenants = {i.tenant_id for i in self.declarations.identities} | {self.declarations.cluster.tenant_id}
        if tenant not in tenants:
            raise EntraError(90002, "invalid_request", f"Tenant '{tenant}' not found.")
        for field in ("client_id", "client_assertion", "client_assertion_type", "scope"):
            if not form.get(field):
                raise EntraError(
                    900144, "invalid_request", f"The request body must contain the following parameter: '{field}'."
                )
        assertion_type = form["client_assertion_type"]
        if form.get("grant_type") != "client_credentials" or assertion_type != facts.JWT_BEARER_ASSERTION:
            raise EntraError(70003, "unsupported_grant_type", "The app requested an unsupported grant type.")
        scope = form["scope"]
        if not scope.endswith("/.default"):
            raise EntraError(
                1002012,
                "invalid_scope",
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        # 2. The identity, by client id, in this tenant.
        client_id = form["client_id"]
        identity = next(
            (i for i in self.declarations.identities if i.client_id == client_id and i.tenant_id == tenant), None
        )
        if identity is None:
            raise EntraError(
                700016,
                "unauthorized_client",
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can "
                "happen if the application has not been installed by the administrator of the tenant or consented "
                "to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
            )
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as e:
            raise EntraError(50027, "invalid_request", f"JWT token is invalid or malformed. {e}") from e
        issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
        audiences = claims.get("aud", [])
        audiences = [audiences] if isinstance(audiences, str) else list(audiences)

        # 3. Only the issuers this identity already trusts are ever contacted.
        credentials = [
            c
            for c in self.declarations.federated_credentials
            if c.identity_name == identity.name and c.resource_group == identity.resource_group
        ]
        # Byte for byte, trailing slash included (facts: Workload identity).
        trusting = [c for c in credentials if c.issuer == issuer]
        if not trusting:
            raise EntraError(
                700211,
                "invalid_client",
                f"No matching federated identity record found for presented assertion issuer '{issuer}'. Please "
                "check your federated identity credential Subject, Audience and Issuer against the presented "
                f"assertion. {DOCS}",
            )
        # 4. A credential still propagating answers as if it did not exist yet.
        if self._faults.federation_unpropagated():
            raise self._no_match(issuer, subject, audiences)

        # 5. and 6. The issuer's keys, the signature, the validity window.
        jwks = self._issuer_keys(issuer)
        key = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
        try:
            if key is None:
                raise jwt.InvalidSignatureError(f"no key with kid {header.get('kid')!r} in the issuer's JWKS")
            jwt.decode(
                assertion,
                jwt.PyJWK(key).key,
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError as e:
            raise EntraError(700027, "invalid_client", f"Client assertion failed signature validation. {e}") from e
        now = int(self._clock.time())
        if not claims.get("nbf", 0) <= now < claims.get("exp", 0):
            raise EntraError(
                700024,
                "invalid_client",
                f"Client assertion is not within its valid time range. Current time: {_iso(now)}, assertion valid "
                f"from {_iso(claims.get('nbf', 0))}, expiry time of assertion {_iso(claims.get('exp', 0))}. "
                "Review the documentation at "
                "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
            )
        # 7. Subject and audience, exactly.
        match = next(
            (c for c in trusting if c.subject == subject and any(a in c.audiences for a in audiences)),
            None,
        )
        if match is None:
            raise self._no_match(issuer, subject, audiences)
        return Grant(
            identity,
            match,
            issuer,
            subject,
            next(a for a in audiences if a in match.audiences),
            scope.removesuffix("/.default"),
        )

    def _issuer_keys(self, issuer: str) -> dict:
        """Discovery, then JWKS, over HTTPS: the way Entra reaches the cluster's issuer."""
        try:
            discovery = self._fetch_json(issuer + DISCOVERY_PATH)
            if discovery.get("issuer") != issuer:
                raise ValueError(f"discovery names issuer {discovery.get('issuer')!r}")
            return self._fetch_json(discovery["jwks_uri"])
        except Exception as e:
            raise EntraError(90061, "invalid_request", f"Request to External OIDC endpoint failed. {e}") from e

    @staticmethod
    def _no_match(issuer: str, subject: str, audiences: list[str]) -> EntraError:
        return EntraError(
            70021,
            "invalid_client",
            "No matching federated identity record found for presented assertion. "
            f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. "
            f"Assertion Audience: '{','.join(audiences)}'. {DOCS}",
        )

    def _access_token(self, grant: Grant) -> dict:
        now = int(self._clock.time())
        identity = grant.identity
        claims = {
            "aud": grant.resource,
            "iss": token_issuer(identity.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_LIFETIME,
            "appid": identity.client_id,
            "azp": identity.client_id,
            "oid": identity.principal_id,
            "sub": identity.principal_id,
            "tid": identity.tenant_id,
            "idtyp": "app",
            "ver": "1.0",
            "xms_mirid": identity.id,
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": token,
        }

    @staticmethod
    def _error(e: EntraError) -> Response:
        timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        return json_response(
            400,
            {
                "error": e.error,
                # Entra ID breaks the description's lines with CRLF (see app/secret_reader/diagnose.py).
                "error_description": f"AADSTS{e.code}: {e.description}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                "error_codes": [e.code],
                "timestamp": timestamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"https://login.microsoftonline.com/error?code={e.code}",
            },
        )


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
