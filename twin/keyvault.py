"""Key Vault's data plane for the vaults the program declares: challenge, token check, RBAC, secret GETs.

A request without a token gets the 401 bearer challenge naming the vault's tenant and resource; the SDK checks
that the challenge's resource matches the vault's domain, fetches a token, and retries. A token must be signed
by the twin's Entra key, be for `https://vault.azure.net`, unexpired, and from the vault's tenant. The RBAC
decision uses only the role assignments the program declares: a role that can read secrets, for the token's
`oid`, on the secret, its vault, or a parent scope (facts: Key Vault). ARM ids compare case-insensitively.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from aks_workload_identity import facts
from twin.entra import token_issuer
from twin.faults import FaultState
from twin.messages import RESET, Request, Response, json_response
from twin.model import Declarations, RoleAssignment, Secret, Vault

GET_SECRET_ACTION = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
SECRET_PATH = re.compile(r"^/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?$")


@dataclass(frozen=True)
class Read:
    """Evidence of one successful read: which assignment let which principal read which secret."""

    vault: Vault
    secret: Secret
    assignment: RoleAssignment
    principal_id: str
    client_id: str


@dataclass(frozen=True)
class Counts:
    challenges: int
    #: Requests that carried a token (whatever the answer).
    gets: int
    #: Secret values served.
    reads: int


class KeyVault:
    def __init__(
        self, declarations: Declarations, entra_key: rsa.RSAPrivateKey, authority_host: str, faults: FaultState
    ) -> None:
        self.declarations = declarations
        self._entra_public_key = entra_key.public_key()
        self._authority_host = authority_host
        self._faults = faults
        # A condition, so a waiter can take a snapshot of the counters the moment the n-th read is served.
        self._lock = threading.Condition()
        self.vaults = {v.uri.split("/")[2].lower(): v for v in declarations.vaults}
        self.challenges = 0
        self.gets = 0
        self.reads: list[Read] = []

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
                options={"require": ["exp", "oid", "tid"]},
            )
        except jwt.InvalidAudienceError:
            return self._unauthorized(vault, f"AKV10022: Invalid audience. Expected {facts.KEY_VAULT_RESOURCE}.")
        except jwt.InvalidIssuerError:
            return self._unauthorized(
                vault, f"AKV10032: Invalid issuer. Expected one of {token_issuer(vault.tenant_id)}."
            )
        except jwt.PyJWTError as e:
            return self._unauthorized(vault, f"Token validation failed: {e}")

        name, version = match["name"], match["version"] or ""
        resource_id = f"{vault.id}/secrets/{name}"
        if not vault.rbac:
            # The access-policy model: the program declares no access policies (facts: Key Vault).
            return json_response(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": f"The user, group or application 'appid={claims.get('appid', '')};"
                        f"oid={claims['oid']}' does not have secrets get permission on key vault "
                        f"'{vault.name};location=twin'.",
                        "innererror": {"code": "ForbiddenByPolicy"},
                    }
                },
            )
        assignment = self._authorizing_assignment(claims["oid"], resource_id)
        if assignment is None or self._faults.rbac_unpropagated():
            return self._forbidden(vault, claims, resource_id)

        secret = next(
            (s for s in self.declarations.secrets if s.vault_name == vault.name and s.name.lower() == name.lower()),
            None,
        )
        if secret is None or version not in ("", secret.version):
            shown = f"{name}/{version}" if version else name
            return _kv_error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {shown} was not found in this key vault. If you recently deleted this "
                "secret you may be able to recover it using the correct recovery command. For help resolving this "
                "issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
            )
        with self._lock:
            self.reads.append(Read(vault, secret, assignment, claims["oid"], claims.get("appid", "")))
            self._lock.notify_all()
        created = int(time.time()) - 60
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

    def _authorizing_assignment(self, principal_id: str, resource_id: str) -> RoleAssignment | None:
        return authorizing_assignment(self.declarations, principal_id, resource_id)

    def _unauthorized(self, vault: Vault, message: str) -> Response:
        authority = f"{self._authority_host.rstrip('/')}/{vault.tenant_id}"
        challenge = f'Bearer authorization="{authority}", resource="{facts.KEY_VAULT_RESOURCE}"'
        return _kv_error(401, "Unauthorized", message, {"WWW-Authenticate": challenge})

    @staticmethod
    def _forbidden(vault: Vault, claims: dict, resource_id: str) -> Response:
        message = "\r\n".join(
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
        return json_response(
            403, {"error": {"code": "Forbidden", "message": message, "innererror": {"code": "ForbiddenByRbac"}}}
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


def _kv_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}}, headers)
