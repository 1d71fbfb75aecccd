"""Secrets as files: a workload's SecretProviderClass for the Secrets Store CSI driver's Azure Key Vault provider,
in its workload-identity mode (facts: Secrets Store CSI driver).

The provider, not the pod, signs in: it presents a token of the pod's own service account as the client assertion
for the class's `clientID`, so the workload's federated credential and role grants serve both delivery modes.
"""

import re
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s
import yaml

from aks_workload_identity import facts

#: Where a files workload's secrets appear unless the stack says otherwise.
DEFAULT_MOUNT_PATH = "/mnt/secrets"
#: A Key Vault secret version: 32 hex digits.
SECRET_VERSION_RULE = re.compile(r"^[0-9a-fA-F]{32}$")
#: A Go duration as time.ParseDuration reads it, without a sign (facts: rotationPollInterval).
_GO_DURATION = re.compile(r"^(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$")
_GO_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")


class FilesOptions(TypedDict):
    """How a workload's pods receive its secrets as files, one file per secret, named after it."""

    mount_path: NotRequired[str]
    """Absolute path of the read-only mount in the container; default `/mnt/secrets`."""
    versions: NotRequired[dict[str, str]]
    """Secret name -> pinned version (32 hex digits); the others follow the latest version, and so rotation."""
    sync_to_kubernetes_secret: NotRequired[bool]
    """Also copy the secrets into a Kubernetes Secret named `<class>-synced` (`secretObjects`), which stores them in
    etcd; off by default. The driver creates it only while a pod mounts the class."""


def go_duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration such as `2m` or `1m30s`; None when the driver would not read it as one."""
    if not _GO_DURATION.match(text):
        return None
    return sum(float(number) * facts.GO_DURATION_UNITS[unit] for number, unit in _GO_DURATION_PART.findall(text))


def objects_parameter(names: Sequence[str], versions: Mapping[str, str]) -> str:
    """The class's `objects` parameter: YAML `array:` of YAML strings, one per secret, as the provider parses it."""
    if not names:
        raise ValueError("no secrets: a SecretProviderClass with no objects mounts nothing")
    unknown = sorted(set(versions) - set(names))
    if unknown:
        raise ValueError(f"versions pin {unknown}, which are not among the secrets {list(names)}")
    lines = ["array:"]
    for name in names:
        item = {"objectName": name, "objectType": facts.SPC_OBJECT_TYPE_SECRET}
        if name in versions:
            if not SECRET_VERSION_RULE.match(versions[name]):
                raise ValueError(f"secret {name} version {versions[name]!r}: must be 32 hex digits")
            item["objectVersion"] = versions[name]
        # Block scalars, as the provider's docs write them; names and versions need no quoting.
        lines += ["  - |", *(f"    {line}" for line in yaml.safe_dump(item, sort_keys=False).splitlines())]
    return "\n".join(lines) + "\n"


def vault_name_of(vault_uri: str) -> str:
    """The vault's name: the first label of its data-plane host, whatever the cloud's suffix."""
    return (urlsplit(vault_uri).hostname or "").split(".", 1)[0]


def class_name_of(workload: str) -> str:
    """The SecretProviderClass's name: the workload's, which is unique in the stack (and so in its namespace)."""
    return f"{workload}-files"


def secret_provider_class(
    name: str,
    *,
    namespace: pulumi.Input[str],
    client_id: pulumi.Input[str],
    tenant_id: pulumi.Input[str],
    vault_uri: pulumi.Input[str],
    secret_names: Sequence[str],
    files: FilesOptions,
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """The class a workload's pods mount: the workload identity's client id, its vault, the secrets as objects."""
    spec: dict[str, object] = {
        "provider": facts.AZURE_PROVIDER,
        "parameters": {
            facts.SPC_USE_POD_IDENTITY: "false",
            facts.SPC_CLIENT_ID: client_id,
            facts.SPC_KEYVAULT_NAME: pulumi.Output.from_input(vault_uri).apply(vault_name_of),
            facts.SPC_TENANT_ID: tenant_id,
            facts.SPC_OBJECTS: objects_parameter(secret_names, files.get("versions", {})),
        },
    }
    class_name = class_name_of(name)
    if files.get("sync_to_kubernetes_secret", False):
        spec["secretObjects"] = [
            {
                "secretName": f"{class_name}-synced",
                "type": "Opaque",
                "data": [{"objectName": secret, "key": secret} for secret in secret_names],
            }
        ]
    return k8s.apiextensions.CustomResource(
        class_name,
        api_version=facts.SECRET_PROVIDER_CLASS_API_VERSION,
        kind=facts.SECRET_PROVIDER_CLASS_KIND,
        metadata={"name": class_name, "namespace": namespace},
        spec=spec,
        opts=opts,
    )
