"""Key Vault's data plane for the vaults the program declares: challenge, token check, RBAC, secret GETs.

A request without a token gets the 401 bearer challenge naming the vault's tenant and resource; the SDK checks
that the challenge's resource matches the vault's domain, fetches a token, and retries. A token must be signed
by the twin's Entra key, be for `https://vault.azure.net`, unexpired, and from the vault's tenant. Then the
network: a vault whose public network access is disabled answers only requests that reached it at one of its
private endpoints' addresses (`Request.address`); any other gets 403 `ForbiddenByConnection` (the caller is
known by then, since trusted Azure services may be let through). The RBAC decision uses only the role
assignments the program declares: a role that can read secrets, for the token's `oid`, on the secret, its vault,
or a parent scope (facts: Key Vault). ARM ids compare case-insensitively. Every authenticated request that is
not served is kept as a `Refusal`, every served one as a `Read`.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from aks_workload_identity import facts
from twin.entra import token_issuer
from twin.faults import FaultState
from twin.issuer import Clock
from twin.messages import RESET, Request, Response, json_response
from twin.model import Declarations, RoleAssignment, Secret, Vault, vault_private_addresses

GET_SECRET_ACTION = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
#: What a vault with public network access disabled answers a request that did not come through a private
#: endpoint (inner code ForbiddenByConnection). Azure's wording varies with the vault's `bypass` setting.
PUBLIC_ACCESS_DISABLED = (
    "Public network access is disabled and request is not from a trusted service nor via an approved private link."
)
SECRET_PATH = re.compile(r"^/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?$")


@dataclass(frozen=True)
class Read:
    """Evidence of one successful read: which assignment let which principal read which secret."""

    vault: Vault
    secret: Secret
    assignment: RoleAssignment
    principal_id: str
    client_id: str
    #: When it was served (`time.monotonic()`).
    at: float = field(default_factory=time.monotonic, compare=False)


@dataclass(frozen=True)
class Refusal:
    """Evidence of one authenticated request that was not served: who asked for what, and the error answered."""

    vault: Vault
    secret_name: str
    principal_id: str
    client_id: str
    status: int
    error: str
    message: str
    #: The inner error code, when there is one (ForbiddenByRbac, ForbiddenByConnection, ...).
    inner: str = ""
    #: When it was answered (`time.monotonic()`).
    at: float = field(default_factory=time.monotonic, compare=False)

    @property
    def code(self) -> str:
        """As the SDK's message shows it: `Forbidden/ForbiddenByRbac`, `SecretNotFound`."""
        return f"{self.error}/{self.inner}" if self.inner else self.error


@dataclass(frozen=True)
class Counts:
    challenges: int
    #: Requests that carried a token (whatever the answer).
    gets: int
    #: Secret values served.
    reads: int


class KeyVault:
    def __init__(
        self,
        declarations: Declarations,
        entra_key: rsa.RSAPrivateKey,
        authority_host: str,
        faults: FaultState,
        clock: Clock | None = None,
    ) -> None:
        self.declarations = declarations
        #: The clock Entra ID dates its access tokens by (`twin.issuer.Clock`).
        self._clock = clock or Clock()
        self._entra_public_key = entra_key.public_key()
        self._authority_host = authority_host
        self._faults = faults
        # A condition, so a waiter can take a snapshot of the counters the moment the n-th read is served.
        self._lock = threading.Condition()
        self.vaults = {v.uri.split("/")[2].lower(): v for v in declarations.vaults}
        self.challenges = 0
        self.gets = 0
        self.reads: list[Read] = []
        self.refusals: list[Refusal] = []

    @property
    def hosts(self) -> set[str]:
        return set(self.vaults)

    def handle(self, request: Request) -> Response:
        vault = self.vaults[request.host.lower()]
        match = SECRET_PATH.match(request.path)
        if request.method != "GET" or match is None:
            return _kv_error(400, "BadParameter", f"The twin serves only GET /secrets/{{name}}; got {request.path}")
        if "api-version" not in request.params():
            return _kv_error(400, "BadParameter", "The request URI must contain an api-version.")

        authorization = request.header("Authorization") or ""
        if not authorization.startswith("Bearer "):
            with self._lock:
                self.challenges += 1
            return self._unauthorized(vault, "AKV10000: Request is missing a Bearer or PoP token.")
        with self._lock:
            self.gets += 1
        if self._faults.take("reset_gets"):
            return RESET
        if self._faults.take("unavailable_gets"):
            return _kv_error(503, "ServiceUnavailable", "The service is temporarily unavailable.")
        if self._faults.take("throttled_gets"):
            return _kv_error(
                429,
                "Throttled",
                "Request was not allowed because the application made too many requests.",
                {"Retry-After": str(self._faults.options.retry_after_seconds)},
            )

        try:
            claims = jwt.decode(
                authorization.removeprefix("Bearer "),
                self._entra_public_key,
                algorithms=["RS256"],
                audience=[facts.KEY_VAULT_RESOURCE, facts.KEY_VAULT_RESOURCE + "/"],
                issuer=token_issuer(vault.tenant_id),
                # Times are checked below, by the twin's clock rather than PyJWT's.
                options={
                    "require": ["exp", "oid", "tid"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            now = self._clock.time()
            if not claims.get("nbf", now) <= now < claims["exp"]:
                raise jwt.ExpiredSignatureError("the token is expired or not yet valid")
        except jwt.InvalidAudienceError:
            return self._unauthorized(vault, f"AKV10022: Invalid audience. Expected {facts.KEY_VAULT_RESOURCE}.")
        except jwt.InvalidIssuerError:
            return self._unauthorized(
                vault, f"AKV10032: Invalid issuer. Expected one of {token_issuer(vault.tenant_id)}."
            )
        except jwt.PyJWTError as e:
            return self._unauthorized(vault, f"Token validation failed: {e}")

        decision = self._decide(vault, claims, request.address, match["name"], match["version"] or "")
        if isinstance(decision, Refusal):
            with self._lock:
                self.refusals.append(decision)
                self._lock.notify_all()
            return _kv_error(decision.status, decision.error, decision.message, inner=decision.inner)
        with self._lock:
            self.reads.append(decision)
            self._lock.notify_all()
        secret = decision.secret
        created = int(self._clock.time()) - 60
        return json_response(
            200,
            {
                "value": secret.value,
                "id": f"{vault.uri.rstrip('/')}/secrets/{secret.name}/{secret.version}",
                "attributes": {
                    "enabled": True,
                    "created": created,
                    "updated": created,
                    "recoveryLevel": "Recoverable+Purgeable",
                    "recoverableDays": 7,
                },
                "tags": {},
            },
        )

    def wait_for_reads(self, count: int, timeout: float) -> Counts | None:
        """The counters as they stand when the `count`-th read is served (None on timeout).

        They are read under the lock that every request takes to count itself, so no later request slips in.
        """
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.reads) >= count, timeout):
                return None
            return Counts(self.challenges, self.gets, len(self.reads))

    def wait_for_answer(
        self, client_id: str, vault: Vault, secret_name: str, since: float, timeout: float
    ) -> Read | Refusal | None:
        """The first answer, served or refused, given at or after `since` (monotonic) to `client_id` asking
        `vault` for `secret_name`; None when there is none within `timeout` seconds."""

        def answer() -> Read | Refusal | None:
            served = (r for r in self.reads if (r.client_id, r.vault.name, r.secret.name.lower()) == asked)
            refused = (r for r in self.refusals if (r.client_id, r.vault.name, r.secret_name.lower()) == asked)
            return min((r for r in (*served, *refused) if r.at >= since), key=lambda r: r.at, default=None)

        asked = (client_id, vault.name, secret_name.lower())
        with self._lock:
            return self._lock.wait_for(answer, timeout)

    def _decide(self, vault: Vault, claims: dict, address: str, name: str, version: str) -> Read | Refusal:
        """After authentication, in order: the network, the permission model, RBAC, the secret itself."""

        def refuse(status: int, error: str, message: str, inner: str = "") -> Refusal:
            return Refusal(vault, name, claims["oid"], claims.get("appid", ""), status, error, message, inner)

        if not vault.public_network_access and address not in vault_private_addresses(self.declarations, vault):
            return refuse(403, "Forbidden", PUBLIC_ACCESS_DISABLED, "ForbiddenByConnection")
        if not vault.rbac:
            # The access-policy model: the program declares no access policies (facts: Key Vault).
            message = (
                f"The user, group or application 'appid={claims.get('appid', '')};oid={claims['oid']}' does not "
                f"have secrets get permission on key vault '{vault.name};location=twin'."
            )
            return refuse(403, "Forbidden", message, "ForbiddenByPolicy")
        resource_id = f"{vault.id}/secrets/{name}"
        assignment = authorizing_assignment(self.declarations, claims["oid"], resource_id)
        if assignment is None or self._faults.rbac_unpropagated():
            return refuse(403, "Forbidden", _rbac_message(vault, claims, resource_id), "ForbiddenByRbac")
        secret = next(
            (s for s in self.declarations.secrets if s.vault_name == vault.name and s.name.lower() == name.lower()),
            None,
        )
        if secret is None or version not in ("", secret.version):
            shown = f"{name}/{version}" if version else name
            return refuse(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {shown} was not found in this key vault. If you recently deleted this "
                "secret you may be able to recover it using the correct recovery command. For help resolving this "
                "issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
            )
        return Read(vault, secret, assignment, claims["oid"], claims.get("appid", ""))

    def _unauthorized(self, vault: Vault, message: str) -> Response:
        authority = f"{self._authority_host.rstrip('/')}/{vault.tenant_id}"
        challenge = f'Bearer authorization="{authority}", resource="{facts.KEY_VAULT_RESOURCE}"'
        return _kv_error(401, "Unauthorized", message, {"WWW-Authenticate": challenge})


def _rbac_message(vault: Vault, claims: dict, resource_id: str) -> str:
    return "\r\n".join(
        [
            "Caller is not authorized to perform action on resource.",
            "If role assignments, deny assignments or role definitions were changed recently, please observe "
            "propagation time.",
            f"Caller: appid={claims.get('appid', '')};oid={claims['oid']};iss={claims.get('iss', '')}",
            f"Action: '{GET_SECRET_ACTION}'",
            f"Resource: '{resource_id.lower()}'",
            "Assignment: (not found)",
            "DenyAssignmentId: null",
            "DecisionReason: null ",
            f"Vault: {vault.name};location=twin",
            "",
        ]
    )


def authorizing_assignment(declarations: Declarations, principal_id: str, resource_id: str) -> RoleAssignment | None:
    """An assignment of a reading role to this principal on the resource or any scope above it."""
    target = resource_id.lower()
    for assignment in declarations.role_assignments:
        scope = assignment.scope.rstrip("/").lower()
        covers = target == scope or target.startswith(scope + "/")
        reads = assignment.role in facts.SECRET_READER_ROLES
        if assignment.principal_id.lower() == principal_id.lower() and covers and reads:
            return assignment
    return None


def _kv_error(status: int, code: str, message: str, headers: dict[str, str] | None = None, inner: str = "") -> Response:
    error: dict = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return json_response(status, {"error": error}, headers)
