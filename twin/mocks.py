"""A recording Pulumi mock engine: runs the program offline and keeps everything it declares.

It answers like Azure would: ARM ids in the right shape, GUID client, principal and object ids, an OIDC issuer
URL with its trailing slash, a kubelet identity, a `vaultUri`, a registry login server, and every invoke the
program makes. Values are derived from the resource's name, so every run declares the same thing. Unit tests
assert on what it records; the twin is configured from it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import os
import runpy
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks, rpc
from pulumi.runtime.sync_await import _sync_await

import settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["name"]

SUBSCRIPTION_ID = "00000000-1111-2222-3333-444444444444"
#: Made-up ids, recognisable as such.
TENANT_ID = "00000000-aaaa-4bbb-8ccc-7e4a47000000"
DEPLOYER_OBJECT_ID = "9a1b2c3d-0000-4000-8000-00000000d3e1"
#: The registry token `az acr login --expose-token` prints: a credential, so tests look for it where it must not be.
ACR_TOKEN = "mock-acr-refresh-token-0f3c"


def guid(*parts: str) -> str:
    """A stable GUID for a resource attribute, distinct per resource."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _suffix(name: str, length: int = 8, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


@dataclass
class Registration:
    """One resource as the program registered it, and what the mock answered."""

    type: str
    name: str
    urn: str
    parent: str
    id: str
    #: camelCase inputs with Outputs resolved and secrets unwrapped.
    inputs: dict[str, Any]
    #: The mock's answer: the inputs plus what Azure or Kubernetes would compute.
    outputs: dict[str, Any]
    #: Dotted paths of inputs that were registered as secret (e.g. "properties.value").
    secret_inputs: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    provider: str = ""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    #: Resource options that decide what an update, a replacement or a delete does.
    replace_on_changes: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    #: `delete_before_replace` as the program set it: True, False, or None when left to the provider.
    delete_before_replace: bool | None = None
    #: The aliases the program (or the provider's SDK) gave it, as sent: {"urn": ...} or the alias spec's set fields
    #: (name, type, stack, project, parentUrn, noParent).
    aliases: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Invocation:
    token: str
    args: dict[str, Any]
    #: What the mock answered.
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Program:
    """Everything one run of the program declared."""

    resources: list[Registration]
    invokes: list[Invocation]
    #: Stack outputs, secrets unwrapped; `secret_exports` names those registered as secret.
    exports: dict[str, Any]
    secret_exports: list[str]
    #: The stack whose config the program ran with.
    stack: str = "dev"

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


def _unwrap(value: Any, path: str, secrets: list[str]) -> Any:
    """Removes Pulumi's secret wrappers, noting where they were."""
    if rpc.is_rpc_secret(value):
        secrets.append(path)
        return _unwrap(rpc.unwrap_rpc_secret(value), path, secrets)
    if isinstance(value, dict):
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    return value


def _arm_group(inputs: dict[str, Any]) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{inputs.get('resourceGroupName', 'rg')}"


class AzureMocks(pulumi.runtime.Mocks):
    """Answers resources and invokes the way Azure and Kubernetes would."""

    def __init__(self) -> None:
        #: Subnet id -> address prefix, as declared, and the private endpoints placed in each so far: Azure gives
        #: each endpoint the next free address of its subnet (the first four are reserved).
        self.subnets: dict[str, str] = {}
        self.endpoints: dict[str, int] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        inputs = _unwrap(dict(args.inputs), "", [])
        if args.typ == "azure-native:network:Subnet":
            resource_id, outputs = _subnet(args.name, inputs)
            self.subnets[resource_id] = inputs["addressPrefix"]
            return resource_id, outputs
        if args.typ == "azure-native:network:PrivateEndpoint":
            subnet = inputs["subnet"]["id"]
            self.endpoints[subnet] = self.endpoints.get(subnet, 0) + 1
            # A subnet the program did not declare (passed in by id) gets addresses from a range of its own.
            network = ipaddress.ip_network(self.subnets.get(subnet, "10.255.0.0/24"))
            return _private_endpoint(args.name, inputs, str(network[3 + self.endpoints[subnet]]))
        answer = _ANSWERS.get(args.typ)
        if answer is None:
            return f"{args.name}-id", inputs
        return answer(args.name, inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        if args.token == "command:local:run":
            # The one command the program runs as an invoke: `az acr login --expose-token` for a local image build.
            return {"stdout": ACR_TOKEN + "\n", "stderr": ""}, []
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": guid("deployer", "client"),
                "objectId": DEPLOYER_OBJECT_ID,
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }, []
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            kubeconfig = _kubeconfig(args.args["resourceName"], args.args.get("format"))
            return {
                "kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}]
            }, []
        if args.token == "azure-native:containerservice:getManagedCluster":
            return existing_cluster(args.args["resourceGroupName"], args.args["resourceName"]), []
        raise NotImplementedError(f"the mock engine does not answer the invoke {args.token}")


def _resource_group(name: str, inputs: dict) -> tuple[str, dict]:
    group = inputs.get("resourceGroupName") or f"{name}{_suffix(name)}"
    resource_id = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{group}"
    return resource_id, {**inputs, "name": group, "id": resource_id}


def _managed_cluster(name: str, inputs: dict) -> tuple[str, dict]:
    cluster = inputs.get("resourceName") or f"{name}{_suffix(name)}"
    resource_id = f"{_arm_group(inputs)}/providers/Microsoft.ContainerService/managedClusters/{cluster}"
    location = inputs.get("location", "eastus")
    return resource_id, {
        **inputs,
        "id": resource_id,
        "name": cluster,
        "fqdn": f"{inputs.get('dnsPrefix', cluster)}-{_suffix(name)}.hcp.{location}.azmk8s.io",
        "identity": {"type": "SystemAssigned", "principalId": guid(name, "control-plane"), "tenantId": TENANT_ID},
        "identityProfile": {
            "kubeletidentity": {
                "clientId": guid(name, "kubelet", "client"),
                "objectId": guid(name, "kubelet", "object"),
                "resourceId": f"{_arm_group(inputs)}/providers/Microsoft.ManagedIdentity/"
                f"userAssignedIdentities/{cluster}-agentpool",
            }
        },
        "oidcIssuerProfile": {
            "enabled": True,
            "issuerURL": f"https://{location}.oic.prod-aks.azure.com/{TENANT_ID}/{guid(name, 'issuer')}/",
        },
    }


def existing_cluster(resource_group: str, name: str) -> dict[str, Any]:
    """A cluster the stack did not create, as `getManagedCluster` reports it: OIDC issuer and workload identity
    on, signing in with Entra ID."""
    _, cluster = _managed_cluster(name, {"resourceGroupName": resource_group, "resourceName": name})
    return {
        **cluster,
        "securityProfile": {"workloadIdentity": {"enabled": True}},
        "aadProfile": {"managed": True, "enableAzureRBAC": True},
    }


def _identity(name: str, inputs: dict) -> tuple[str, dict]:
    identity = inputs.get("resourceName") or f"{name}{_suffix(name)}"
    resource_id = f"{_arm_group(inputs)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}"
    return resource_id, {
        **inputs,
        "id": resource_id,
        "name": identity,
        "clientId": guid(name, "client"),
        "principalId": guid(name, "principal"),
        "tenantId": TENANT_ID,
    }


def _federated_credential(name: str, inputs: dict) -> tuple[str, dict]:
    credential = inputs.get("federatedIdentityCredentialResourceName") or f"{name}{_suffix(name)}"
    resource_id = (
        f"{_arm_group(inputs)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
        f"{inputs['resourceName']}/federatedIdentityCredentials/{credential}"
    )
    return resource_id, {**inputs, "id": resource_id, "name": credential}


def _registry(name: str, inputs: dict) -> tuple[str, dict]:
    registry = inputs.get("registryName") or f"{name}{_suffix(name)}"
    resource_id = f"{_arm_group(inputs)}/providers/Microsoft.ContainerRegistry/registries/{registry}"
    return resource_id, {**inputs, "id": resource_id, "name": registry, "loginServer": f"{registry.lower()}.azurecr.io"}


def _vault(name: str, inputs: dict) -> tuple[str, dict]:
    vault = inputs.get("vaultName") or f"{name}{_suffix(name)}"
    resource_id = f"{_arm_group(inputs)}/providers/Microsoft.KeyVault/vaults/{vault}"
    properties = {**inputs.get("properties", {}), "vaultUri": f"https://{vault}.vault.azure.net/"}
    return resource_id, {**inputs, "id": resource_id, "name": vault, "properties": properties}


def _secret(name: str, inputs: dict) -> tuple[str, dict]:
    secret = inputs.get("secretName") or name
    vault = inputs["vaultName"]
    resource_id = f"{_arm_group(inputs)}/providers/Microsoft.KeyVault/vaults/{vault}/secrets/{secret}"
    version = uuid.UUID(guid(name, "version")).hex
    uri = f"https://{vault}.vault.azure.net/secrets/{secret}"
    # ARM never returns a secret's value (facts: Key Vault).
    properties = {k: v for k, v in inputs.get("properties", {}).items() if k != "value"}
    properties.update(secretUri=uri, secretUriWithVersion=f"{uri}/{version}")
    return resource_id, {**inputs, "id": resource_id, "name": secret, "properties": properties}


def _role_assignment(name: str, inputs: dict) -> tuple[str, dict]:
    assignment = inputs.get("roleAssignmentName") or guid(name, "assignment")
    resource_id = f"{inputs['scope']}/providers/Microsoft.Authorization/roleAssignments/{assignment}"
    return resource_id, {**inputs, "id": resource_id, "name": assignment}


def _random_string(name: str, inputs: dict) -> tuple[str, dict]:
    alphabet = string.ascii_lowercase + string.digits
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    result = _suffix(name, int(inputs.get("length", 8)), alphabet)
    return result, {**inputs, "result": result}


def _random_password(name: str, inputs: dict) -> tuple[str, dict]:
    result = _suffix(name, int(inputs.get("length", 16)), string.ascii_letters + string.digits + "!#%&*")
    return "none", {**inputs, "result": result}


def _command(name: str, inputs: dict) -> tuple[str, dict]:
    """A command prints what the image build prints on stdout: the pushed image's digest."""
    digest = "sha256:" + hashlib.sha256(repr(sorted(inputs.items())).encode()).hexdigest()
    return f"{name}-{_suffix(name)}", {**inputs, "stdout": digest + "\n", "stderr": ""}


def _docker_image(name: str, inputs: dict) -> tuple[str, dict]:
    """A pushed image: the registry's digest of what was built, and its first tag with that digest."""
    digest = "sha256:" + hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"{name}-{_suffix(name)}", {**inputs, "digest": digest, "ref": f"{inputs['tags'][0]}@{digest}"}


def _arm_child(provider_type: str, name_key: str) -> Callable[[str, dict], tuple[str, dict]]:
    """An ARM resource that needs nothing computed but its name and id."""

    def answer(name: str, inputs: dict) -> tuple[str, dict]:
        resource = inputs.get(name_key) or f"{name}{_suffix(name)}"
        resource_id = f"{_arm_group(inputs)}/providers/{provider_type}/{resource}"
        return resource_id, {**inputs, "id": resource_id, "name": resource}

    return answer


def _scoped(provider_type: str, name_key: str, scope_key: str) -> Callable[[str, dict], tuple[str, dict]]:
    """An extension resource: its id is its scope's id, then the provider type and its name."""

    def answer(name: str, inputs: dict) -> tuple[str, dict]:
        resource = inputs.get(name_key) or f"{name}{_suffix(name)}"
        resource_id = f"{inputs[scope_key]}/providers/{provider_type}/{resource}"
        return resource_id, {**inputs, "id": resource_id, "name": resource}

    return answer


def _subnet(name: str, inputs: dict) -> tuple[str, dict]:
    subnet = inputs.get("subnetName") or f"{name}{_suffix(name)}"
    resource_id = (
        f"{_arm_group(inputs)}/providers/Microsoft.Network/virtualNetworks/{inputs['virtualNetworkName']}"
        f"/subnets/{subnet}"
    )
    return resource_id, {**inputs, "id": resource_id, "name": subnet}


def _private_endpoint(name: str, inputs: dict, address: str) -> tuple[str, dict]:
    """The endpoint's address, reported against the private-linked resource's public name."""
    resource_id, outputs = _arm_child("Microsoft.Network/privateEndpoints", "privateEndpointName")(name, inputs)
    linked = inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"].rsplit("/", 1)[-1]
    fqdn = f"{linked}.vault.azure.net"
    return resource_id, {**outputs, "customDnsConfigs": [{"fqdn": fqdn, "ipAddresses": [address]}]}


def _kubernetes_object(name: str, inputs: dict) -> tuple[str, dict]:
    metadata = {"name": f"{name}-{_suffix(name)}", **inputs.get("metadata", {})}
    object_id = f"{metadata['namespace']}/{metadata['name']}" if "namespace" in metadata else metadata["name"]
    return object_id, {**inputs, "metadata": metadata}


_ANSWERS: dict[str, Callable[[str, dict], tuple[str, dict]]] = {
    "azure-native:resources:ResourceGroup": _resource_group,
    "azure-native:containerservice:ManagedCluster": _managed_cluster,
    "azure-native:managedidentity:UserAssignedIdentity": _identity,
    "azure-native:managedidentity:FederatedIdentityCredential": _federated_credential,
    "azure-native:containerregistry:Registry": _registry,
    "azure-native:keyvault:Vault": _vault,
    "azure-native:keyvault:Secret": _secret,
    "azure-native:authorization:RoleAssignment": _role_assignment,
    "random:index/randomString:RandomString": _random_string,
    "random:index/randomPassword:RandomPassword": _random_password,
    "command:local:Command": _command,
    "docker-build:index:Image": _docker_image,
    "kubernetes:core/v1:Namespace": _kubernetes_object,
    "kubernetes:core/v1:ServiceAccount": _kubernetes_object,
    "kubernetes:apps/v1:Deployment": _kubernetes_object,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": _kubernetes_object,
    "azure-native:network:VirtualNetwork": _arm_child("Microsoft.Network/virtualNetworks", "virtualNetworkName"),
    "azure-native:network:PrivateDnsZoneGroup": _arm_child(
        "Microsoft.Network/privateEndpoints/dnsZoneGroups", "privateDnsZoneGroupName"
    ),
    "azure-native:privatedns:PrivateZone": _arm_child("Microsoft.Network/privateDnsZones", "privateZoneName"),
    "azure-native:privatedns:VirtualNetworkLink": _arm_child(
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks", "virtualNetworkLinkName"
    ),
    "azure-native:containerservice:AgentPool": _arm_child(
        "Microsoft.ContainerService/managedClusters/agentPools", "agentPoolName"
    ),
    "azure-native:containerservice:MaintenanceConfiguration": _arm_child(
        "Microsoft.ContainerService/managedClusters/maintenanceConfigurations", "configName"
    ),
    "azure-native:operationalinsights:Workspace": _arm_child(
        "Microsoft.OperationalInsights/workspaces", "workspaceName"
    ),
    "azure-native:monitor:DataCollectionRule": _arm_child(
        "Microsoft.Insights/dataCollectionRules", "dataCollectionRuleName"
    ),
    "azure-native:monitor:DataCollectionRuleAssociation": _scoped(
        "Microsoft.Insights/dataCollectionRuleAssociations", "associationName", "resourceUri"
    ),
}


def _kubeconfig(cluster: str, format_: str | None) -> str:
    """A user kubeconfig: a token, or with `format=exec` kubelogin's device-code login, as AKS returns them."""
    user: dict[str, Any] = {"token": "mock-user-token"}
    if format_ == "exec":
        user = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": "kubelogin",
                "args": [
                    "get-token",
                    "--login",
                    "devicecode",
                    "--server-id",
                    "6dae42f8-4368-4678-94ff-3960e28e3630",
                    "--client-id",
                    "80faf920-1908-4b52-b5ef-a8e7bedfc67a",
                    "--tenant-id",
                    TENANT_ID,
                    "--environment",
                    "AzurePublicCloud",
                ],
                "interactiveMode": "IfAvailable",
            }
        }
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": f"https://{cluster}.hcp.eastus.azmk8s.io:443"}}],
            "users": [{"name": f"clusterUser_{cluster}", "user": user}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"clusterUser_{cluster}"}}],
            "current-context": cluster,
        }
    )


class RecordingMonitor(mocks.MockMonitor):
    """Keeps each registration request: parent, secretness, dependencies and timeouts are only seen there."""

    def __init__(self, engine: AzureMocks) -> None:
        super().__init__(engine)
        self.registrations: list[Registration] = []
        self.invocations: list[Invocation] = []
        self.exports: dict[str, Any] = {}
        self.secret_exports: list[str] = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        # The engine refuses a second resource with the same type, name and parent (pulumi/pulumi pkg/diag/errors.go,
        # GetDuplicateResourceURNError); Pulumi's own mocks do not.
        if any(r.urn == response.urn for r in self.registrations):
            raise ValueError(f"Duplicate resource URN '{response.urn}'; try giving it a unique name")
        secrets: list[str] = []
        inputs = _unwrap(rpc.deserialize_properties(request.object), "", secrets)
        outputs = _unwrap(rpc.deserialize_properties(response.object), "", []) if request.custom else {}
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                id=response.id,
                inputs=inputs,
                outputs=outputs,
                secret_inputs=secrets,
                additional_secret_outputs=list(request.additionalSecretOutputs),
                dependencies=list(request.dependencies),
                provider=request.provider,
                custom_timeouts={
                    "create": request.customTimeouts.create,
                    "update": request.customTimeouts.update,
                    "delete": request.customTimeouts.delete,
                },
                replace_on_changes=list(request.replaceOnChanges),
                ignore_changes=list(request.ignoreChanges),
                retain_on_delete=request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
                aliases=[_alias(alias) for alias in request.aliases],
            )
        )
        return response

    def Invoke(self, request):  # noqa: N802 (gRPC method name)
        response = super().Invoke(request)
        result = dict(rpc.deserialize_properties(getattr(response, "return")))
        self.invocations.append(Invocation(request.tok, dict(rpc.deserialize_properties(request.args)), result))
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802 (gRPC method name)
        if request.urn.endswith("::pulumi:pulumi:Stack::" + request.urn.split("::")[-1]):
            secrets: list[str] = []
            self.exports = _unwrap(rpc.deserialize_properties(request.outputs), "", secrets)
            self.secret_exports = sorted({path.split(".")[0].split("[")[0] for path in secrets})
        return super().RegisterResourceOutputs(request)


def _alias(alias: Any) -> dict[str, Any]:
    """An alias of the registration request: a URN, or the fields its spec sets (unset ones take the resource's own)."""
    if alias.WhichOneof("alias") == "urn":
        return {"urn": alias.urn}
    return {field.name: value for field, value in alias.spec.ListFields()}


def stack_config(stack: str) -> dict[str, str]:
    """The stack's Pulumi.<stack>.yaml config, as `pulumi up` would pass it (values as strings).

    A file that is not valid YAML, or whose `config` is not a map, is settings.SettingsFileError: one line."""
    stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    values = (settings.read_yaml(stack_file).get("config") or {}) if stack_file.exists() else {}
    if not isinstance(values, dict):
        raise settings.SettingsFileError(f"{stack_file.name}: config must be a map of keys to values")
    return {key: _config_value(value) for key, value in values.items()}


def _config_value(value: Any) -> str:
    """A config value as the Pulumi CLI passes it to the program: structured values as JSON, the rest as text."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def run(build: Callable[[], None], config: dict[str, str] | None = None, stack: str = "dev") -> Program:
    """Runs `build` (a program or a component's construction) under the mocks, in a fresh event loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor(AzureMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    settings = {k if ":" in k else f"{PROJECT}:{k}": v for k, v in (config or {}).items()}
    secret_keys = [k for k in settings if k.endswith(":secretValue")]
    pulumi.runtime.set_all_config(settings, secret_keys)
    # set_mocks made and closed a root stack of its own; run the program in a new one, as `pulumi up` does.
    # The SDK types its argument Resource, though the root it sets starts as None.
    pulumi.runtime.settings.set_root_resource(None)  # pyright: ignore[reportArgumentType]
    try:
        _sync_await(pulumi.runtime.stack.run_in_stack(build))
    finally:
        # A run that failed leaves its pending outputs in Pulumi's process-wide settings, bound to this loop;
        # the next run would wait on them. They belong to this run alone.
        # The SDK's untyped contextproperty decorator hides these two attributes from a checker.
        with pulumi.runtime.settings.SETTINGS.lock:  # pyright: ignore[reportAttributeAccessIssue]
            pulumi.runtime.settings.SETTINGS.outputs.clear()  # pyright: ignore[reportAttributeAccessIssue]
        loop.close()
        asyncio.set_event_loop(None)
    return Program(monitor.registrations, monitor.invocations, monitor.exports, monitor.secret_exports, stack)


def run_program(config: dict[str, str] | None = None, stack: str = "dev") -> Program:
    """Runs __main__.py with the stack's config file overlaid by `config` (keys with or without the project)."""
    overlay = {k if ":" in k else f"{PROJECT}:{k}": v for k, v in (config or {}).items()}

    # `pulumi up` runs the program from the project directory; relative paths (the build context) rely on it.
    def program() -> None:
        runpy.run_path("__main__.py")

    previous = Path.cwd()
    os.chdir(PROJECT_DIR)
    try:
        return run(program, {**stack_config(stack), **overlay}, stack)
    finally:
        os.chdir(previous)
