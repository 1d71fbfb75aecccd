"""The Secrets Store CSI driver and its Azure Key Vault provider, as they serve a pod's secrets as files.

Modelled on the driver's and the provider's source and docs (facts: Secrets Store CSI driver). When the kubelet
mounts a pod's CSI volume (`SecretsStore.mount`), before any container starts:

1. the driver finds the volume's SecretProviderClass in the pod's namespace and asks the kubelet for a token of the
   pod's own service account with audience `api://AzureADTokenExchange` (the twin's issuer mints it);
2. the provider reads the class's parameters (`usePodIdentity`, `clientID`, `keyvaultName`, `tenantID` or the
   older `tenantId`, `objects`), presents that token to Entra ID as the client assertion for `clientID` (the same
   federated-credential checks as a pod's own sign-in), and GETs each object from Key Vault with the access token;
3. the driver writes one file per object, named after it, into the mount (a directory under the pod's folder).

Any failure fails the mount: the pod stays ContainerCreating and the kubelet's `FailedMount` event carries the
provider's error (`MountFailed`, whose message is that event). The provider runs on the node's network, so the
pod's NetworkPolicies do not apply to it; the cluster's DNS does (a private endpoint is reached as from a node).
Rotation (`republish`) re-runs steps 1-3 for a mounted volume and rewrites the files whose content changed; a
failed rotation keeps the old files, as the driver does.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import yaml

from aks_workload_identity import facts
from twin.chain import BROKEN, HELD, UNVERIFIED, Link
from twin.keyvault import authorizing_assignment
from twin.model import Declarations, Secret, Workload
from twin.netpol import Pod
from twin.webhook import DEFAULT_SERVICE_ACCOUNT, PodRejected

if TYPE_CHECKING:
    from twin.run import Twin

#: The provider's pods: in kube-system on the host network, so no workload's NetworkPolicy selects them.
PROVIDER_POD = Pod(facts.UNMUTATED_NAMESPACE, {"app": "secrets-store-provider-azure"})
#: The public cloud's data-plane suffix, from the resource Key Vault's tokens are for (`cloudName` left empty).
VAULT_SUFFIX = urlsplit(facts.KEY_VAULT_RESOURCE).hostname or ""
#: The API version the provider's Key Vault client sends (any 7.x is served the same).
API_VERSION = "7.4"
#: Lifetime of the token the kubelet hands the driver (the CSIDriver's tokenRequests set none: the default hour).
CSI_TOKEN_LIFETIME = 3600.0


@dataclass(frozen=True)
class SecretProviderClass:
    name: str
    namespace: str
    provider: str
    #: `spec.parameters`, string to string.
    parameters: Mapping[str, str]
    #: Names of the Kubernetes Secrets `secretObjects` would sync the files into.
    synced_secrets: tuple[str, ...] = ()

    @property
    def client_id(self) -> str:
        return self.parameters.get(facts.SPC_CLIENT_ID, "").strip()

    @property
    def vault_name(self) -> str:
        return self.parameters.get(facts.SPC_KEYVAULT_NAME, "").strip()

    @property
    def tenant_id(self) -> str:
        """As the provider reads it: `tenantID`, else the deprecated `tenantId`."""
        tenant = self.parameters.get(facts.SPC_TENANT_ID, "").strip()
        return tenant or self.parameters.get(facts.SPC_DEPRECATED_TENANT_ID, "").strip()

    def objects(self) -> list[dict[str, str]]:
        """The `objects` parameter as the provider parses it: YAML `array:` of YAML strings, each with an
        `objectName`; ValueError if not."""
        text = self.parameters.get(facts.SPC_OBJECTS, "").strip()
        if not text:
            raise ValueError("objects is not set")
        try:
            items = (yaml.safe_load(text) or {}).get("array") or []
            objects = [{k: str(v) for k, v in (yaml.safe_load(item) or {}).items()} for item in items]
        except (yaml.YAMLError, AttributeError, TypeError) as error:
            raise ValueError(f"failed to yaml unmarshal objects, error: {error}") from None
        for obj in objects:
            if obj.get("objectType", "") != facts.SPC_OBJECT_TYPE_SECRET:
                raise ValueError(f"the twin serves objectType secret only, not {obj.get('objectType')!r}")
            if not obj.get("objectName", "").strip():
                raise ValueError(f"object name is not set in {obj}: every object needs an objectName")
        return objects


@dataclass(frozen=True)
class CsiVolume:
    """A pod's CSI volume and where its container mounts it."""

    volume: str
    driver: str
    class_name: str
    mount_path: str
    #: The volume's `csi.readOnly`, which the kubelet sends as NodePublishVolume's `readonly`.
    read_only: bool


@dataclass(frozen=True)
class SecretsProviderAddon:
    """The cluster's `azureKeyvaultSecretsProvider` add-on, as the cluster reports it."""

    enabled: bool
    rotation: bool
    poll_interval: str


@dataclass(frozen=True)
class FilesDeclarations(Declarations):
    """The declarations plus what the CSI driver serves: the classes, each workload's CSI volumes, the add-on."""

    secret_provider_classes: tuple[SecretProviderClass, ...] = ()
    #: Workload name -> its pod's CSI volumes.
    csi_volumes: Mapping[str, tuple[CsiVolume, ...]] = field(default_factory=dict)
    addon: SecretsProviderAddon | None = None


def volumes_of(declarations: Declarations, workload: Workload) -> tuple[CsiVolume, ...]:
    if not isinstance(declarations, FilesDeclarations):
        return ()
    return tuple(declarations.csi_volumes.get(workload.name, ()))


def class_of(declarations: Declarations, namespace: str, name: str) -> SecretProviderClass | None:
    classes = declarations.secret_provider_classes if isinstance(declarations, FilesDeclarations) else ()
    return next((c for c in classes if (c.namespace, c.name) == (namespace, name)), None)


def addon_of(declarations: Declarations) -> SecretsProviderAddon | None:
    return declarations.addon if isinstance(declarations, FilesDeclarations) else None


class MountFailed(PodRejected):
    """The pod was admitted but cannot start: the kubelet keeps retrying its CSI volume. The message is what
    `kubectl describe pod` shows as the FailedMount event."""

    def __init__(self, workload: Workload, volume: str, error: str, *, invalid_argument: bool = False) -> None:
        """`invalid_argument`: the driver refused the request itself (gRPC InvalidArgument), before any provider."""
        desc = (
            f"code = InvalidArgument desc = {error}"
            if invalid_argument
            else f"code = Unknown desc = failed to mount secrets store objects for pod "
            f"{workload.namespace}/{workload.deployment}, err: rpc error: code = Unknown desc = failed to mount "
            f"objects, error: {error}"
        )
        super().__init__(f'Warning FailedMount: {facts.FAILED_MOUNT_PREFIX} "{volume}" : rpc error: {desc}')
        self.error = error


class ProviderError(Exception):
    """What the provider answers the driver for a mount it cannot serve."""


@dataclass(frozen=True)
class Fetched:
    """One object as the provider fetched it."""

    #: The secret's name in Key Vault (`objectName`).
    name: str
    version: str
    value: str


@dataclass
class Mount:
    """A pod's mounted CSI volume: the directory standing for the mount path, and what is in it."""

    workload: Workload
    volume: CsiVolume
    spc: SecretProviderClass
    directory: Path
    #: The objects it last wrote, by file name (`objectAlias`, else `objectName`).
    objects: dict[str, Fetched]
    #: (monotonic time, file name, old version, new version) for each file a rotation rewrote.
    rotations: list[tuple[float, str, str, str]] = field(default_factory=list)
    #: The error of each rotation that failed (the old files stay).
    rotation_errors: list[str] = field(default_factory=list)
    mounted: bool = True

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The container's variables that name a path under the mount path, pointed at the twin's directory."""
        prefix = self.volume.mount_path.rstrip("/")
        return {
            key: str(self.directory) + value[len(prefix) :]
            for key, value in env.items()
            if value == prefix or value.startswith(prefix + "/")
        }


class SecretsStore:
    """The node's CSI driver and Azure provider for one configured twin."""

    def __init__(self, twin: Twin) -> None:
        self._twin = twin
        self._lock = threading.Lock()
        self.mounts: list[Mount] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- mounting -----------------------------------------------------------------------------------------------

    def mount(self, workload: Workload, pod_dir: Path, spc: SecretProviderClass | None = None) -> Mount | None:
        """Mounts the workload's CSI volume (None when its pod has none); `spc` replaces the class the volume
        names (the isolation proof's probes). Raises `MountFailed` as the kubelet would report it."""
        declarations = self._twin.declarations
        assert declarations is not None, "configure() first"
        volumes = volumes_of(declarations, workload)
        if not volumes:
            return None
        volume, *more = volumes
        if more:
            raise MountFailed(workload, more[0].volume, "the twin mounts one CSI volume per pod")
        addon = addon_of(declarations)
        if volume.driver != facts.SECRETS_STORE_CSI_DRIVER or not (addon and addon.enabled):
            raise MountFailed(
                workload,
                volume.volume,
                f"kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name {volume.driver} not found "
                "in the list of registered CSI drivers",
            )
        spc = spc or class_of(declarations, workload.namespace, volume.class_name)
        if spc is None:
            raise MountFailed(
                workload,
                volume.volume,
                f"failed to get secretproviderclass {workload.namespace}/{volume.class_name}, error: "
                f'SecretProviderClass.secrets-store.csi.x-k8s.io "{volume.class_name}" not found',
            )
        if not volume.read_only:
            # The driver's NodePublishVolume (nodeserver.go): "ensure it's read-only".
            raise MountFailed(workload, volume.volume, "Readonly is not true in request", invalid_argument=True)
        try:
            fetched = self.fetch(workload, spc)
        except ProviderError as error:
            raise MountFailed(workload, volume.volume, str(error)) from None
        directory = pod_dir / "csi" / volume.volume
        directory.mkdir(parents=True)
        for file, obj in fetched.items():
            _write(directory / file, obj.value)
        mount = Mount(workload, volume, spc, directory, fetched)
        with self._lock:
            self.mounts.append(mount)
        return mount

    def unmount(self, mount: Mount) -> None:
        with self._lock:
            mount.mounted = False

    def fetch(self, workload: Workload, spc: SecretProviderClass) -> dict[str, Fetched]:
        """Steps 1-2 of the module's docstring for one NodePublishVolume; raises ProviderError."""
        if spc.provider != facts.AZURE_PROVIDER:
            raise ProviderError(f"provider {spc.provider!r} is not registered on the node (only azure is)")
        if not facts.pod_identity_off(spc.parameters.get(facts.SPC_USE_POD_IDENTITY)):
            raise ProviderError('the twin serves workload identity only: usePodIdentity must be "false"')
        if not spc.vault_name:
            raise ProviderError("keyvaultName is not provided")
        if not spc.tenant_id:
            raise ProviderError("tenantId is not provided")
        try:
            objects = spc.objects()
        except ValueError as error:
            raise ProviderError(str(error)) from None
        if not spc.client_id:
            # With no identity mode and no clientID the provider falls back to a service principal's secret.
            raise ProviderError("failed to get credentials, nodePublishSecretRef secret is not set")
        with self._session() as node:
            access_token = self._sign_in(node, workload, spc)
            return {_file_name(obj): self._get(node, spc, obj, access_token) for obj in objects}

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        proxy = self._twin.proxy.pod_url(PROVIDER_POD)
        session.proxies = {"https": proxy, "http": proxy}
        session.verify = str(self._twin.proxy.ca_bundle)
        return session

    def _sign_in(self, node: requests.Session, workload: Workload, spc: SecretProviderClass) -> str:
        """The kubelet's token for the pod's service account, exchanged at Entra ID for the class's client id."""
        account = workload.service_account_name or DEFAULT_SERVICE_ACCOUNT
        assertion = self._twin.issuer.mint(
            facts.service_account_subject(workload.namespace, account), facts.CSI_TOKEN_AUDIENCE, CSI_TOKEN_LIFETIME
        )
        form = {
            "grant_type": "client_credentials",
            "client_id": spc.client_id,
            "scope": f"{facts.KEY_VAULT_RESOURCE}/.default",
            "client_assertion_type": facts.JWT_BEARER_ASSERTION,
            "client_assertion": assertion,
        }
        url = f"{facts.DEFAULT_AUTHORITY_HOST.rstrip('/')}/{spc.tenant_id}/oauth2/v2.0/token"
        try:
            response = node.post(url, data=form, timeout=10)
            body = response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderError(f"failed to get keyvault client: POST {url}: {type(error).__name__}") from None
        if response.status_code != 200 or "access_token" not in body:
            description = " ".join(str(body.get("error_description", body)).split())  # one line, as an event
            raise ProviderError(
                "failed to get keyvault client: ClientAssertionCredential authentication failed: "
                f"POST {url} RESPONSE {response.status_code}: {description}"
            )
        return body["access_token"]

    def _get(self, node: requests.Session, spc: SecretProviderClass, obj: dict[str, str], token: str) -> Fetched:
        name, version = obj["objectName"], obj.get("objectVersion", "")
        host = f"{spc.vault_name.lower()}.{VAULT_SUFFIX}"
        described = f"objectType:{obj['objectType']}, objectName:{name}, objectVersion:{version}"
        if host not in self._twin.keyvault.hosts:
            raise ProviderError(f"failed to get {described}: dial tcp: lookup {host}: no such host")
        url = f"https://{host}/secrets/{name}/{version}"
        try:
            # The SDK's challenge first, then the request with the token, as any Key Vault client.
            node.get(url, params={"api-version": API_VERSION}, timeout=10)
            response = node.get(
                url, params={"api-version": API_VERSION}, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            body = response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderError(f"failed to get {described}: GET {url}: {type(error).__name__}") from None
        if response.status_code != 200:
            error = body.get("error", {})
            inner = (error.get("innererror") or {}).get("code", "")
            raise ProviderError(
                f"failed to get {described}: GET {url} RESPONSE {response.status_code}: "
                f"{error.get('code', '')}{'/' + inner if inner else ''}"
            )
        return Fetched(name, body["id"].rstrip("/").rsplit("/", 1)[-1], body["value"])

    # --- rotation -----------------------------------------------------------------------------------------------

    def republish(self) -> None:
        """One rotation pass: every mounted volume re-fetched, each changed file rewritten."""
        with self._lock:
            mounts = [m for m in self.mounts if m.mounted]
        for mount in mounts:
            try:
                fetched = self.fetch(mount.workload, mount.spc)
            except ProviderError as error:
                mount.rotation_errors.append(str(error))
                continue
            for name, obj in fetched.items():
                old = mount.objects.get(name)
                if old is None or old.value != obj.value:
                    _write(mount.directory / name, obj.value)
                    mount.rotations.append((time.monotonic(), name, old.version if old else "", obj.version))
            mount.objects = fetched

    def start(self, interval: float) -> None:
        """Republish every `interval` seconds until `stop()` (the driver's rotation poll interval)."""

        def loop() -> None:
            while not self._stop.wait(interval):
                self.republish()

        self._thread = threading.Thread(target=loop, name="csi-rotation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


def _file_name(obj: Mapping[str, str]) -> str:
    """The provider names an object's file after its `objectAlias`, else its `objectName` (facts.py)."""
    return obj.get("objectAlias", "").strip() or obj["objectName"]


def _write(path: Path, value: str) -> None:
    """Replace the file atomically, as the driver's atomic writer does: a reader sees the old or the new value."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(value, encoding="utf-8")
    os.replace(tmp, path)


def rotate_secret(twin: Twin, vault_name: str, name: str, value: str) -> Secret:
    """Sets a new value (a new version) of a secret in the twin's Key Vault, as `az keyvault secret set` would."""
    declarations = twin.keyvault.declarations
    old = next(
        s
        for s in declarations.secrets
        if s.vault_name.casefold() == vault_name.casefold() and s.name.casefold() == name.casefold()
    )
    new = replace(old, value=value, version=os.urandom(16).hex())
    twin.keyvault.declarations = replace(
        declarations, secrets=tuple(new if s is old else s for s in declarations.secrets)
    )
    return new


# --- the files chain ---------------------------------------------------------------------------------------------


def files_chain(twin: Twin, workload: Workload, spc: SecretProviderClass | None, mounted: bool) -> list[Link]:
    """The chain from the pod's CSI volume to the files, link by link, as `twin.chain` does for the SDK path.

    A link is `held` when the twin saw it work for this workload's mount (a grant for the pod's service-account
    subject issued to the class's client id; a read of the class's vault by that client); otherwise declared values
    are compared as the services would, `broken` when they disagree.
    """
    declarations = twin.declarations
    assert declarations is not None
    account = workload.service_account_name or DEFAULT_SERVICE_ACCOUNT
    subject = facts.service_account_subject(workload.namespace, account)
    client_id = spc.client_id if spc else ""
    identity = next((i for i in declarations.identities if i.client_id == client_id), None)
    grants = [g for g in twin.entra.grants if g.subject == subject and g.identity.client_id == client_id]
    credentials = [c for c in declarations.federated_credentials if identity and c.identity_name == identity.name]
    credential = next((c for c in credentials if c.subject == subject), next(iter(credentials), None))
    vault = next((v for v in declarations.vaults if spc and v.name.lower() == spc.vault_name.lower()), None)
    names = _object_names(spc)
    reads = [r for r in twin.keyvault.reads if r.client_id == client_id and r.vault == vault]
    missing = [
        n
        for n in names
        if vault and not any(s.vault_name == vault.name and s.name.lower() == n.lower() for s in declarations.secrets)
    ]
    ungranted = [
        n
        for n in names
        if vault
        and identity
        and authorizing_assignment(declarations, identity.principal_id, f"{vault.id}/secrets/{n}") is None
    ]
    signed_in, read = bool(grants), bool(reads) and mounted

    def status(observed: bool, declared_match: bool) -> str:
        return HELD if observed else (UNVERIFIED if declared_match else BROKEN)

    account_client = next(
        (
            a.annotations.get(facts.CLIENT_ID_ANNOTATION, "")
            for a in declarations.service_accounts
            if (a.namespace, a.name) == (workload.namespace, account)
        ),
        "",
    )
    return [
        Link(
            "files: class",
            f"pod volume -> SecretProviderClass {workload.namespace}/{spc.name if spc else '?'}",
            f"provider {spc.provider}, {facts.SPC_USE_POD_IDENTITY}={spc.parameters.get(facts.SPC_USE_POD_IDENTITY)!r}"
            if spc
            else "no such class in the pod's namespace",
            status(signed_in, spc is not None and spc.provider == facts.AZURE_PROVIDER),
        ),
        Link(
            "files: client id",
            f"class {facts.SPC_CLIENT_ID}={client_id or '(none)'}",
            f"identity {identity.name} (the service account {account} names {account_client or 'none'})"
            if identity
            else "no declared identity has that client id",
            status(signed_in, identity is not None and account_client == client_id),
        ),
        Link(
            "files: federation",
            f"kubelet token for {subject}, aud={facts.CSI_TOKEN_AUDIENCE}",
            f"federated credential {credential.name}: issuer={credential.issuer}, subject={credential.subject}"
            if credential
            else "no federated credential on that identity",
            status(
                signed_in,
                credential is not None
                and credential.subject == subject
                and credential.issuer == declarations.cluster.issuer_url
                and facts.CSI_TOKEN_AUDIENCE in credential.audiences,
            ),
        ),
        Link(
            "files: tenant",
            f"class tenant={spc.tenant_id if spc else '?'}",
            f"identity tenantId={identity.tenant_id if identity else '?'}",
            status(signed_in, bool(identity and spc and identity.tenant_id == spc.tenant_id)),
        ),
        Link(
            "files: vault",
            f"class {facts.SPC_KEYVAULT_NAME}={spc.vault_name if spc else '?'}",
            f"vault {vault.name}" if vault else "no declared vault has that name",
            status(read, vault is not None and vault.rbac),
        ),
        Link(
            "files: role assignment",
            f"identity principalId={identity.principal_id if identity else '?'}",
            f"no reading role on {', '.join(ungranted)}" if ungranted else f"reads {', '.join(names)}",
            status(read, identity is not None and vault is not None and not ungranted),
        ),
        Link(
            "files: objects",
            f"class objects={names}",
            f"not in vault {vault.name}: {missing}" if vault and missing else f"secrets {names}",
            status(read, bool(names) and vault is not None and not missing),
        ),
    ]


def _object_names(spc: SecretProviderClass | None) -> list[str]:
    if spc is None:
        return []
    try:
        return [obj["objectName"] for obj in spc.objects()]
    except ValueError:
        return []


# --- reading the declarations -------------------------------------------------------------------------------------


def parse_class(inputs: dict[str, Any], name: str) -> SecretProviderClass:
    metadata, spec = inputs.get("metadata") or {}, inputs.get("spec") or {}
    return SecretProviderClass(
        name=metadata.get("name") or name,
        namespace=metadata.get("namespace", "default"),
        provider=spec.get("provider", ""),
        parameters={k: str(v) for k, v in (spec.get("parameters") or {}).items()},
        synced_secrets=tuple(o.get("secretName", "") for o in spec.get("secretObjects") or ()),
    )


def parse_volumes(pod_spec: dict[str, Any]) -> tuple[CsiVolume, ...]:
    """The pod template's CSI volumes mounted by its first container."""
    container = (pod_spec.get("containers") or [{}])[0]
    mounts = {m.get("name"): m for m in container.get("volumeMounts") or ()}
    volumes = []
    for volume in pod_spec.get("volumes") or ():
        csi = volume.get("csi")
        if not csi or volume.get("name") not in mounts:
            continue
        mount = mounts[volume["name"]]
        volumes.append(
            CsiVolume(
                volume=volume["name"],
                driver=csi.get("driver", ""),
                class_name=(csi.get("volumeAttributes") or {}).get(facts.SECRET_PROVIDER_CLASS_ATTRIBUTE, ""),
                mount_path=mount.get("mountPath", ""),
                read_only=csi.get("readOnly") is True,
            )
        )
    return tuple(volumes)


def parse_addon(cluster: dict[str, Any]) -> SecretsProviderAddon:
    """The add-on as the cluster reports it; profile keys compare case-folded (AKS reports either case)."""
    profiles = {k.casefold(): v for k, v in (cluster.get("addonProfiles") or {}).items()}
    addon = profiles.get(facts.SECRETS_PROVIDER_ADDON.casefold()) or {}
    config = addon.get("config") or {}
    return SecretsProviderAddon(
        enabled=bool(addon.get("enabled")),
        rotation=str(config.get(facts.SECRET_ROTATION_CONFIG, "false")).lower() == "true",
        poll_interval=str(config.get(facts.ROTATION_POLL_INTERVAL_CONFIG) or facts.DEFAULT_ROTATION_POLL_INTERVAL),
    )
