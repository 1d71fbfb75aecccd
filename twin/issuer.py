"""The cluster's OIDC issuer and the kubelet's projected service-account token.

AKS publishes, at the issuer URL the cluster reports (a URL with a path, ending in "/"), an OpenID discovery
document and the JWKS of the key that signs service-account tokens. Entra ID fetches both to check the
assertion a pod presents. The kubelet writes that token into the pod's projected volume and rewrites it when
80 % of its lifetime has passed (facts: Workload identity).

Token times (issue, expiry, rotation) read a `Clock` that Entra ID and Key Vault share, so a test can let a token's
lifetime pass by moving the clock instead of waiting for it, however busy the machine is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from aks_workload_identity import facts
from twin.messages import Request, Response, json_response

DISCOVERY_PATH = ".well-known/openid-configuration"
JWKS_PATH = "openid/v1/jwks"
#: The kubelet refreshes a projected token once this share of its lifetime has passed.
ROTATE_AT = 0.8


class Clock:
    """The twin's wall clock in epoch seconds: real time plus an offset that only moves forward (`advance`)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._moved = threading.Condition()

    def time(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Lets `seconds` pass at once; every `wait_until` looks at the clock again."""
        with self._moved:
            self._offset += seconds
            self._moved.notify_all()

    def wait_until(self, when: float, stopped: threading.Event) -> bool:
        """Blocks until the clock reads `when` (True), or until `stopped` is set and `wake` called (False)."""
        with self._moved:
            while not stopped.is_set():
                left = when - self.time()
                if left <= 0:
                    return True
                self._moved.wait(left)
        return False

    def wake(self) -> None:
        with self._moved:
            self._moved.notify_all()


def new_signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_id(key: rsa.RSAPrivateKey) -> str:
    """Kubernetes' kid: the base64url SHA-256 of the public key's DER encoding."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class Issuer:
    """Serves discovery and JWKS under the issuer URL, and mints tokens whose `iss` is that URL."""

    def __init__(self, issuer_url: str, key: rsa.RSAPrivateKey, clock: Clock | None = None) -> None:
        self.url = issuer_url
        self.clock = clock or Clock()
        self.host = urlsplit(issuer_url).hostname or ""
        self._base_path = urlsplit(issuer_url).path
        self._key = key
        self.kid = key_id(key)
        self.discovery_requests = 0
        self.jwks_requests = 0

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + JWKS_PATH,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**jwk, "use": "sig", "alg": "RS256", "kid": self.kid}]}

    def mint(self, subject: str, audience: str = facts.TOKEN_AUDIENCE, lifetime: float = 3600) -> str:
        """A projected service-account token, as the kube-apiserver signs it for the kubelet (whole seconds; valid
        for at least `lifetime`)."""
        now = int(self.clock.time())
        claims = {
            "iss": self.url,
            "sub": subject,
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now + math.ceil(lifetime),
            "kubernetes.io": {"namespace": subject.split(":")[2], "serviceaccount": {"name": subject.split(":")[3]}},
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def handle(self, request: Request) -> Response:
        if request.method != "GET":
            return Response(405)
        if request.path == self._base_path + DISCOVERY_PATH:
            self.discovery_requests += 1
            return json_response(200, self.discovery())
        if request.path == self._base_path + JWKS_PATH:
            self.jwks_requests += 1
            return json_response(200, self.jwks())
        return Response(404, b"404 page not found\n", {"Content-Type": "text/plain"})


class ProjectedToken:
    """The kubelet's side: keeps a fresh token for one service account in the pod's token file."""

    def __init__(self, issuer: Issuer, path: Path, subject: str, audience: str, lifetime: float) -> None:
        self.issuer = issuer
        self.path = path
        self.subject = subject
        self.audience = audience
        self.lifetime = lifetime
        #: Every token written, oldest first.
        self.tokens: list[str] = []
        self._written_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self) -> str:
        """Mints a token and replaces the file atomically, as the kubelet's atomic writer does."""
        self._written_at = self.issuer.clock.time()
        token = self.issuer.mint(self.subject, self.audience, self.lifetime)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(token, encoding="utf-8")
        os.replace(tmp, self.path)
        self.tokens.append(token)
        return token

    def start(self) -> None:
        self.write()
        self._thread = threading.Thread(target=self._rotate, name="kubelet-token", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.issuer.clock.wake()
        if self._thread:
            self._thread.join(timeout=5)

    def _rotate(self) -> None:
        while self.issuer.clock.wait_until(self._written_at + self.lifetime * ROTATE_AT, self._stop):
            self.write()
