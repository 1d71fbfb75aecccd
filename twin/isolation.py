"""The isolation proof: no workload's pod can read another workload's secret or sign in as its identity.

For every ordered pair (A, B) of a stack's workloads, two attempts, each made the way a real client makes it:

- Key Vault: A's real app runs in a pod of A (A's service account, so A's injected identity and projected token,
  and A's NetworkPolicies), its env pointed at B's secret (B's `KEY_VAULT_URL` and `SECRET_NAME`). It signs in as
  A and asks B's vault (or the shared vault) for B's secret. It holds when Key Vault answers 403
  `ForbiddenByRbac`: A's identity has no role on that secret.
- Entra ID: the projected service-account token the twin's kubelet wrote into that pod of A is presented, as
  azure-identity presents it and through the pod's own way out, as the client assertion for B's identity (B's
  client id). It holds when Entra ID refuses with AADSTS700211 (no credential of B's identity trusts the
  assertion's issuer) or AADSTS70021 (none matches A's subject) (facts: Workload identity).

A workload whose app reads its secret as a file (the Secrets Store CSI driver's mount) signs in through the
driver, not itself, so its pod of A mounts A's own SecretProviderClass changed the same two ways, as far as the
driver and provider go: naming B's vault and secret (held when the mount fails with Key Vault's 403
`ForbiddenByRbac`), and naming B's client id (held when it fails with AADSTS700211 or AADSTS70021). A mount that
succeeds would hold B's secret: a `BREAK`. B's secret is the one B's app reads: from its env, or for a files
workload the first object of its class.

A secret served or an access token issued is a `BREAK`; any other answer (another error, a dropped connection,
no answer in time) leaves the attempt `unproven`, since it shows nothing about B's grants. The pairs run side
by side on one configured twin, each in a pod of its own.
"""

from __future__ import annotations

import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import requests

from aks_workload_identity import facts
from aks_workload_identity.files import objects_parameter
from twin import csi
from twin.keyvault import Read
from twin.model import SECRET_NAME_ENV, Declarations, Vault, Workload
from twin.run import App, Twin
from twin.webhook import PodRejected, admit

HELD, BREAK, UNPROVEN = "held", "BREAK", "unproven"
#: Key Vault's inner error code for a caller without a role that reads the secret.
RBAC_REFUSAL = "ForbiddenByRbac"
#: Entra ID's codes for an assertion no federated credential of the identity matches.
NO_MATCHING_FEDERATION = frozenset({700211, 70021})
VAULT, IDENTITY = "vault", "identity"


@dataclass(frozen=True)
class Attempt:
    """One pod of `reader` reaching for what belongs to `owner`, and what came back."""

    reader: str
    owner: str
    #: VAULT (the owner's secret) or IDENTITY (the owner's identity).
    kind: str
    #: What was asked for, e.g. `orders-x1/db-password` or `orders-identity-x2`.
    target: str
    #: What came back, e.g. `403 Forbidden/ForbiddenByRbac`, `AADSTS70021`, `200 secret served`.
    outcome: str
    verdict: str


@dataclass(frozen=True)
class Proof:
    attempts: tuple[Attempt, ...]

    @property
    def holds(self) -> bool:
        return all(a.verdict == HELD for a in self.attempts)

    @property
    def breaks(self) -> list[Attempt]:
        return [a for a in self.attempts if a.verdict == BREAK]

    @property
    def unproven(self) -> list[Attempt]:
        return [a for a in self.attempts if a.verdict == UNPROVEN]

    def attempt(self, reader: str, owner: str, kind: str) -> Attempt:
        return next(a for a in self.attempts if (a.reader, a.owner, a.kind) == (reader, owner, kind))


def prove(twin: Twin, timeout: float = 15.0, poll_interval: float = 0.5) -> Proof:
    """Both attempts for every ordered pair of the configured twin's workloads, side by side.

    `timeout` bounds the wait for Key Vault's answer to each pair's app; `poll_interval` is that app's, which
    only paces its retries after the first refusal.
    """
    declarations = twin.declarations
    assert declarations is not None, "configure() first"
    pairs = [(a, b) for a in declarations.workloads for b in declarations.workloads if a.name != b.name]
    if not pairs:
        return Proof(())
    with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
        done = pool.map(
            lambda pair: _pair(twin, declarations, *pair, timeout=timeout, poll_interval=poll_interval), pairs
        )
        return Proof(tuple(attempt for both in done for attempt in both))


def _pair(
    twin: Twin, declarations: Declarations, a: Workload, b: Workload, timeout: float, poll_interval: float
) -> tuple[Attempt, Attempt]:
    if facts.SECRET_FILE_ENV in a.env and csi.volumes_of(declarations, a):
        return _files_pair(twin, declarations, a, b)
    vault, secret_name = _owned(declarations, b)
    vault_url = vault.uri if vault else b.vault_url
    probe = replace(a, env={**a.env, facts.VAULT_URL_ENV: vault_url, SECRET_NAME_ENV: secret_name})
    try:
        app = twin.launch(poll_interval, workload=probe)
    except PodRejected as rejected:
        return (
            Attempt(a.name, b.name, VAULT, b.secret_name, f"pod refused: {rejected}", UNPROVEN),
            Attempt(a.name, b.name, IDENTITY, b.name, f"pod refused: {rejected}", UNPROVEN),
        )
    with app:
        return _vault_attempt(twin, declarations, app, b, timeout), _identity_attempt(twin, declarations, app, b)


def _owned(declarations: Declarations, b: Workload) -> tuple[Vault | None, str]:
    """B's vault and the secret its app reads: from its env, or for a files workload its class's first object."""
    if b.vault_url:
        return declarations.vault_at(b.vault_url), b.secret_name
    volumes = csi.volumes_of(declarations, b)
    spc = csi.class_of(declarations, b.namespace, volumes[0].class_name) if volumes else None
    if spc is None:
        return None, ""
    vault = next((v for v in declarations.vaults if v.name.lower() == spc.vault_name.lower()), None)
    names = [obj["objectName"] for obj in spc.objects()]
    return vault, names[0] if names else ""


def _files_pair(twin: Twin, declarations: Declarations, a: Workload, b: Workload) -> tuple[Attempt, Attempt]:
    """A's pod mounting A's class changed to name B's secret, then B's identity (the module's docstring)."""
    volume = csi.volumes_of(declarations, a)[0]
    spc = csi.class_of(declarations, a.namespace, volume.class_name)
    vault, secret_name = _owned(declarations, b)
    identity_target = next(
        (i.name for i in declarations.identities if i.client_id == _client_id(declarations, b)), b.name
    )
    if spc is None or vault is None:
        missing = "A's class is not declared" if spc is None else "B's vault is not declared"
        return (
            Attempt(a.name, b.name, VAULT, secret_name, missing, UNPROVEN),
            Attempt(a.name, b.name, IDENTITY, identity_target, missing, UNPROVEN),
        )
    objects = objects_parameter([secret_name], {})
    asks_secret = replace(
        spc, parameters={**spc.parameters, facts.SPC_KEYVAULT_NAME: vault.name, facts.SPC_OBJECTS: objects}
    )
    asks_identity = replace(spc, parameters={**spc.parameters, facts.SPC_CLIENT_ID: _client_id(declarations, b)})
    return (
        _mount_attempt(twin, a, b, VAULT, f"{vault.name}/{secret_name}", asks_secret, ("403", RBAC_REFUSAL)),
        _mount_attempt(twin, a, b, IDENTITY, identity_target, asks_identity, None),
    )


def _mount_attempt(
    twin: Twin,
    a: Workload,
    b: Workload,
    kind: str,
    target: str,
    spc: csi.SecretProviderClass,
    refusal: tuple[str, str] | None,
) -> Attempt:
    """Mounts `spc` into a pod of A; held when the mount fails with `refusal` (status, inner code), or with no
    matching federation when `refusal` is None."""
    pod_dir = Path(tempfile.mkdtemp(prefix=f"probe-{a.name}-", dir=twin.workdir))
    try:
        mount = twin.secrets_store.mount(a, pod_dir, spc)
    except csi.MountFailed as failed:
        codes = [int(code) for code in re.findall(r"AADSTS(\d+)", failed.error)]
        if refusal is None:
            matched = [code for code in codes if code in NO_MATCHING_FEDERATION]
            outcome = f"mount failed: AADSTS{matched[0]}" if matched else f"mount failed: {failed.error}"
            return Attempt(a.name, b.name, kind, target, outcome, HELD if matched else UNPROVEN)
        answer = re.search(r"RESPONSE (\d+): (\S+)", failed.error)
        held = answer is not None and answer[1] == refusal[0] and answer[2].endswith(refusal[1])
        outcome = f"mount failed: {answer[1]} {answer[2]}" if answer else f"mount failed: {failed.error}"
        return Attempt(a.name, b.name, kind, target, outcome, HELD if held else UNPROVEN)
    assert mount is not None
    twin.secrets_store.unmount(mount)
    return Attempt(a.name, b.name, kind, target, f"mounted: {sorted(mount.objects)} in A's pod", BREAK)


def _vault_attempt(twin: Twin, declarations: Declarations, app: App, b: Workload, timeout: float) -> Attempt:
    def attempt(target: str, outcome: str, verdict: str) -> Attempt:
        return Attempt(app.workload.name, b.name, VAULT, target, outcome, verdict)

    vault, secret_name = _owned(declarations, b)
    if vault is None:
        return attempt(f"{b.vault_url}/{b.secret_name}", "no declared vault has that URI", UNPROVEN)
    target = f"{vault.name}/{secret_name}"
    client_id = app.env.get("AZURE_CLIENT_ID", "")
    if not client_id:
        return attempt(target, f"the pod has no workload identity: {app.admission.reason}", UNPROVEN)
    answer = twin.keyvault.wait_for_answer(client_id, vault, secret_name, app.started, timeout)
    if answer is None:
        return attempt(target, f"no answer in {timeout:g} s; the app's last line: {app.last_line}", UNPROVEN)
    if isinstance(answer, Read):
        return attempt(target, f"200 secret served (role assignment {answer.assignment.name})", BREAK)
    outcome = f"{answer.status} {answer.code}"
    return attempt(target, outcome, HELD if answer.inner == RBAC_REFUSAL else UNPROVEN)


def _identity_attempt(twin: Twin, declarations: Declarations, app: App, b: Workload) -> Attempt:
    client_id = _client_id(declarations, b)
    target = next(
        (i.name for i in declarations.identities if i.client_id == client_id), f"client {client_id or '(none)'}"
    )

    def attempt(outcome: str, verdict: str) -> Attempt:
        return Attempt(app.workload.name, b.name, IDENTITY, target, outcome, verdict)

    if app.token is None or not client_id:
        return attempt("no projected token in the pod, or no client id for the owner", UNPROVEN)
    tenant = app.env.get("AZURE_TENANT_ID", declarations.cluster.tenant_id)
    authority = app.env.get("AZURE_AUTHORITY_HOST", facts.DEFAULT_AUTHORITY_HOST)
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "scope": f"{facts.KEY_VAULT_RESOURCE}/.default",
        "client_assertion_type": facts.JWT_BEARER_ASSERTION,
        "client_assertion": app.token.tokens[-1],
    }
    try:
        with twin.pod_client(app.workload) as pod:
            response = pod.post(f"{authority.rstrip('/')}/{tenant}/oauth2/v2.0/token", data=form, timeout=10)
        body = response.json()
    except (requests.RequestException, ValueError) as error:
        return attempt(f"no answer: {type(error).__name__}", UNPROVEN)
    if response.status_code == 200 and "access_token" in body:
        return attempt("access token issued", BREAK)
    codes = [code for code in body.get("error_codes", []) if code in NO_MATCHING_FEDERATION]
    outcome = f"AADSTS{codes[0]}" if codes else f"HTTP {response.status_code} {body.get('error_codes')}"
    return attempt(outcome, HELD if codes else UNPROVEN)


def _client_id(declarations: Declarations, pod: Workload) -> str:
    """The client id a pod of the workload signs in with: its container's own, else the webhook's injection."""
    try:
        injected = admit(declarations, pod, "").env
    except PodRejected:
        injected = {}
    return pod.env.get("AZURE_CLIENT_ID") or injected.get("AZURE_CLIENT_ID", "")


def render(proof: Proof) -> str:
    """One line per ordered pair (Key Vault, then Entra ID), and the count."""
    pairs = sorted({(a.reader, a.owner) for a in proof.attempts})
    width = max((len(reader) + len(owner) for reader, owner in pairs), default=0) + 4
    lines = [
        "Isolation: a pod of each workload asks Key Vault for each other workload's secret, and Entra ID for its "
        "identity with its own token:"
    ]
    for reader, owner in pairs:
        vault, identity = proof.attempt(reader, owner, VAULT), proof.attempt(reader, owner, IDENTITY)
        verdicts = {vault.verdict, identity.verdict}
        verdict = BREAK if BREAK in verdicts else UNPROVEN if UNPROVEN in verdicts else HELD
        lines.append(
            f"  {f'{reader} -> {owner}':<{width}} {verdict:<8} secret {vault.target}: {vault.outcome}; "
            f"identity {identity.target}: {identity.outcome}"
        )
    held = sum(a.verdict == HELD for a in proof.attempts)
    lines.append(
        f"{held} of {len(proof.attempts)} refusals held over {len(pairs)} ordered pairs"
        + (f"; {len(proof.breaks)} BREAK(S): isolation is broken." if proof.breaks else ".")
    )
    return "\n".join(lines)
