"""The package: a wheel that stands on its own, and the schema through which any Pulumi language uses it.

The schema is the package's public API. It is generated here as the provider generates it (the SDK's experimental
analyzer and schema generation), and checked: every component under its type token, every input and output typed
and described, required only where there is no default.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import typing
import zipfile
from importlib.metadata import version
from pathlib import Path

import grpc
import pulumi
import pytest
import yaml
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.schema import generate_schema
from pulumi.provider.experimental.util import camel_case
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc
from test_reuse import readme_example

import aks_workload_identity
from aks_workload_identity import (
    COMPONENTS,
    PULUMI_PACKAGE,
    AksOidcCluster,
    FederatedIdentity,
    SecretVault,
    __version__,
)
from twin.mocks import PROJECT_DIR, run

#: The package's version: pyproject.toml states it once, and the installed metadata, the schema, the provider and
#: the wheel all carry it.
VERSION = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]

COMPONENTS_DOC = PROJECT_DIR / "docs" / "components.md"

#: The inputs a program must give, per component: everything else has a default. Review a change here like a change
#: of the public API.
REQUIRED_INPUTS = {
    "AksOidcCluster": {"resourceGroupName", "location"},
    "AppImage": {"registryId", "registryName", "loginServer"},
    "ClusterNetwork": {"resourceGroupName", "location"},
    "FederatedIdentity": {"resourceGroupName", "location", "issuerUrl", "namespace"},
    "ImageRegistry": {"resourceGroupName", "location"},
    "SecretVault": {"resourceGroupName", "location"},
    "Workload": {
        "resourceGroupName",
        "location",
        "issuerUrl",
        "namespace",
        "serviceAccountNames",
        "image",
        "secrets",
    },
    "WorkloadPod": {"namespace", "serviceAccountName", "image"},
    "WorkloadNamespace": {"name"},
}
#: Likewise for the types the inputs are made of.
REQUIRED_TYPE_PROPERTIES = {
    "ClusterProfile": set(),
    "NodePool": set(),
    "MaintenanceWindow": set(),
    "ExistingCluster": {"resourceGroupName", "name", "oidcIssuerUrl", "kubeletObjectId", "entra"},
    "PrivateAccess": {"subnetId", "dnsZoneId"},
    "VaultSecret": {"name"},
    "SharedVault": {"vaultUri", "secretIds"},
    "RoleGrant": {"name", "scope"},
    "Probes": set(),
    "FilesOptions": set(),
    "SecretsMount": {"className", "mountPath"},
}
#: Values that are Python objects (a provider, resources): read-only properties, in Python only, not in the schema.
PYTHON_ONLY = [
    (AksOidcCluster, "provider"),
    (AksOidcCluster, "acr_pulls"),
    (FederatedIdentity, "trust"),
    (SecretVault, "shared"),
]


def token(name: str) -> str:
    return f"{PULUMI_PACKAGE}:index:{name}"


@pytest.fixture(scope="module")
def schema() -> dict:
    """The schema as `component_provider_host` builds it for the provider."""
    analyzed = Analyzer(PULUMI_PACKAGE).analyze(list(COMPONENTS))
    dependencies = sorted(analyzed["dependencies"], key=lambda d: f"{d.name}{d.version}")
    spec = generate_schema(
        PULUMI_PACKAGE,
        __version__,
        None,
        analyzed["component_definitions"],
        analyzed["type_definitions"],
        dependencies,
    )
    return spec.to_json()


def args_type(component: type) -> type:
    return inspect.get_annotations(component.__init__)["args"]


def outputs_of(component: type) -> dict[str, object]:
    return {k: v for k, v in inspect.get_annotations(component).items() if not k.startswith("_")}


def test_every_component_the_package_exports_is_in_the_schema_under_its_type_token(schema):
    exported = {
        value
        for value in vars(aks_workload_identity).values()
        if inspect.isclass(value) and issubclass(value, pulumi.ComponentResource)
    }
    assert exported == set(COMPONENTS)
    assert set(schema["resources"]) == {token(c.__name__) for c in COMPONENTS}
    assert schema["name"] == PULUMI_PACKAGE and schema["version"] == __version__ == VERSION
    for component in COMPONENTS:
        assert schema["resources"][token(component.__name__)]["isComponent"] is True
        assert schema["resources"][token(component.__name__)].get("description"), component.__name__


def test_each_component_registers_under_the_token_the_schema_gives_it(dev, prod, byo, schema):
    """The type a component registers with is what a program in another language asks the provider to construct."""
    declared = {r.type for program in (dev, prod, byo) for r in program.resources if r.type.startswith("wi:")}
    assert declared == set(schema["resources"])


def test_inputs_are_the_args_typeddict_and_required_only_without_a_default(schema):
    for component in COMPONENTS:
        resource = schema["resources"][token(component.__name__)]
        args = args_type(component)
        assert typing.is_typeddict(args) and args.__name__ == f"{component.__name__}Args"
        assert set(resource["inputProperties"]) == {camel_case(k) for k in args.__annotations__}, component
        assert set(resource["requiredInputs"]) == REQUIRED_INPUTS[component.__name__], component
        assert set(resource["requiredInputs"]) == {camel_case(k) for k in args.__required_keys__}, component


def test_outputs_are_the_annotated_outputs_all_required(schema):
    for component in COMPONENTS:
        resource = schema["resources"][token(component.__name__)]
        outputs = outputs_of(component)
        assert outputs, component
        assert all(typing.get_origin(t) is pulumi.Output for t in outputs.values()), component
        assert set(resource["properties"]) == {camel_case(k) for k in outputs}, component
        assert set(resource["required"]) == set(resource["properties"]), component


def test_types_are_the_nested_typeddicts_with_their_required_keys(schema):
    assert set(schema["types"]) == {token(name) for name in REQUIRED_TYPE_PROPERTIES}
    for name, required in REQUIRED_TYPE_PROPERTIES.items():
        spec = schema["types"][token(name)]
        assert spec.get("description"), name
        assert set(spec.get("required", [])) == required, name


def described_properties(schema: dict):
    """(where, property spec) for every input, output and type property."""
    for name, resource in schema["resources"].items():
        for kind in ("inputProperties", "properties"):
            for prop, spec in resource[kind].items():
                yield f"{name}.{kind}.{prop}", spec
    for name, spec in schema["types"].items():
        for prop, prop_spec in spec["properties"].items():
            yield f"{name}.{prop}", prop_spec


def test_every_input_output_and_type_property_is_typed_and_described(schema):
    def typed(spec: dict) -> bool:
        if "$ref" in spec:
            return spec["$ref"].startswith("#/types/") and spec["$ref"][len("#/types/") :] in schema["types"]
        if spec.get("type") == "array":
            return typed(spec["items"])
        if spec.get("type") == "object":
            return typed(spec["additionalProperties"])
        return spec.get("type") in ("string", "integer", "number", "boolean")

    found = list(described_properties(schema))
    assert len(found) > 80
    for where, spec in found:
        assert typed(spec), where
        assert spec.get("description", "").strip(), where


def test_python_only_values_are_read_only_properties_outside_the_schema(schema):
    for component, name in PYTHON_ONLY:
        attribute = inspect.getattr_static(component, name)
        assert isinstance(attribute, property) and attribute.fset is None, name
        assert attribute.__doc__.startswith("Python only:"), name
        assert camel_case(name) not in schema["resources"][token(component.__name__)]["properties"], name


def test_each_component_registers_exactly_its_annotated_outputs_once(monkeypatch):
    """Once, last, and each under its own name: what another language's program reads as `outputs.vaultUri` is the
    very output the Python attribute `vault_uri` holds."""
    # Keyed by the component itself, which keeps it alive: an id would be reused once a run's objects are freed.
    registered: dict[pulumi.ComponentResource, list[tuple[str, set[str]]]] = {}
    strays: list[tuple[str, str]] = []
    original = pulumi.ComponentResource.register_outputs

    def spy(self, outputs):
        registered.setdefault(self, []).append((type(self).__name__, set(outputs)))
        annotated = outputs_of(type(self))
        strays.extend(
            (type(self).__name__, k) for k, v in outputs.items() if k in annotated and v is not getattr(self, k)
        )
        return original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", spy)
    from twin.mocks import run_program

    for stack in ("dev", "prod", "byo"):
        run_program(stack=stack)
    seen = set()
    for calls in registered.values():
        (name, keys), *more = calls
        assert not more, name
        component = next((c for c in COMPONENTS if c.__name__ == name), None)
        if component is None:  # the stack itself
            continue
        seen.add(name)
        assert keys == set(outputs_of(component)), name
    assert seen == {c.__name__ for c in COMPONENTS}
    assert not strays, "registered under an output's name but not that output"


def test_the_provider_entry_point_serves_that_schema(schema):
    """The provider as Pulumi starts it (`python provider/ <engine>`): it prints its port and answers GetSchema.

    Its virtualenv holds the dependencies but not the components (provider/requirements.txt), so it runs here with
    this environment's packages but without their `.pth` files (`-S`), which is where the editable install of the
    components lives: the entry point must find them, and the version, in the repository itself."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": sysconfig.get_path("purelib")}
    plugin = subprocess.Popen(
        [sys.executable, "-S", str(PROJECT_DIR / "provider"), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=PROJECT_DIR / "provider",
        env=env,
    )
    try:
        port = int(plugin.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            served = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=20).schema)
    finally:
        plugin.terminate()
        plugin.wait(timeout=10)
    assert served == schema


def test_the_sdk_is_pinned_in_one_place_and_the_provider_follows_it():
    """The provider's virtualenv and this one (where the schema above is generated) run the same analyzer:
    pyproject.toml pins it once, uv.lock and requirements.txt follow, and the provider installs requirements.txt, so
    an update of that one pin (Dependabot's, say) moves every environment together."""
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    (pin,) = [c.removeprefix("pulumi==") for c in pyproject["tool"]["uv"]["constraint-dependencies"] if "pulumi=" in c]
    locked = tomllib.loads((PROJECT_DIR / "uv.lock").read_text())["package"]
    assert [p["version"] for p in locked if p["name"] == "pulumi"] == [pin]
    assert version("pulumi") == pin
    assert re.findall(r"^pulumi==(\S+)", (PROJECT_DIR / "requirements.txt").read_text(), re.M) == [pin]
    provider = (PROJECT_DIR / "provider" / "requirements.txt").read_text()
    assert [line for line in provider.splitlines() if not line.startswith("#")] == ["-r ../requirements.txt"]


def test_the_provider_states_its_toolchain_and_a_virtualenv_of_its_own():
    """With no toolchain Pulumi (3.227 and later) picks uv on finding the repository's uv.lock, and syncs the root
    project with it (FACTS: Pulumi Python toolchains): pip, into provider/venv, from provider/requirements.txt."""
    plugin = yaml.safe_load((PROJECT_DIR / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin == {"runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}}


def readme_yaml_program() -> dict:
    section = COMPONENTS_DOC.read_text().split("### From any Pulumi language", 1)[1]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))


def test_the_readmes_yaml_program_uses_only_what_the_schema_declares(schema):
    program = readme_yaml_program()
    ours = {name: r for name, r in program["resources"].items() if r["type"].startswith(f"{PULUMI_PACKAGE}:")}
    assert {r["type"] for r in ours.values()} >= {token("AksOidcCluster"), token("FederatedIdentity")}

    def check(value: object, spec: dict, where: str) -> None:
        if "$ref" in spec:
            properties = schema["types"][spec["$ref"][len("#/types/") :]]
            check_object(value, properties["properties"], set(properties.get("required", [])), where)
        elif spec.get("type") == "array" and isinstance(value, list):
            for i, item in enumerate(value):
                check(item, spec["items"], f"{where}[{i}]")

    def check_object(value: object, properties: dict, required: set[str], where: str) -> None:
        assert isinstance(value, dict), where
        assert set(value) <= set(properties), (where, set(value) - set(properties))
        assert required <= set(value), (where, required - set(value))
        for key, item in value.items():
            check(item, properties[key], f"{where}.{key}")

    for name, resource in ours.items():
        spec = schema["resources"][resource["type"]]
        check_object(resource.get("properties", {}), spec["inputProperties"], set(spec["requiredInputs"]), name)
    references = re.findall(r"\$\{(\w+)\.(\w+)", json.dumps(program))
    used = [(name, output) for name, output in references if name in ours]
    assert used
    for name, output in used:
        assert output in schema["resources"][ours[name]["type"]]["properties"], (name, output)


RUNNER = """
import json, sys

site, repo, example = sys.argv[1:]
import aks_workload_identity

# The repository only for the recording mock engine, after the wheel's copy on the path.
sys.path.append(repo)
from twin.mocks import run

program = run(lambda: exec(open(example).read(), {"__name__": "example"}), {"dbPassword": "s3cret-value"})
print(json.dumps({
    "package": aks_workload_identity.__file__,
    "version": aks_workload_identity.__version__,
    "declared": sorted([r.type, r.name] for r in program.resources),
    "subjects": [r.inputs["subject"] for r in program.resources if r.type.endswith("FederatedIdentityCredential")],
    "exports": sorted(program.exports),
}))
"""


def test_a_wheel_built_from_the_repository_runs_the_readme_example_on_its_own(tmp_path):
    """Build from the tracked files alone, install into an empty directory, and run the docs' example there, with
    neither the repository nor the editable install in reach of `import aks_workload_identity`."""
    source = tmp_path / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_DIR, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    for relative in filter(None, tracked):
        if (PROJECT_DIR / relative).is_file():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / relative, source / relative)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    subprocess.run([*pip, "wheel", *offline, "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True)
    (wheel,) = (tmp_path / "dist").glob(f"aks_workload_identity-{VERSION}-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    modules = {
        f"aks_workload_identity/{p.name}" for p in (PROJECT_DIR / "components" / "aks_workload_identity").glob("*.py")
    }
    assert modules | {"aks_workload_identity/py.typed"} <= set(names)
    assert not [n for n in names if not n.startswith(("aks_workload_identity/", f"aks_workload_identity-{VERSION}"))]
    metadata = zipfile.ZipFile(wheel).read(f"aks_workload_identity-{VERSION}.dist-info/METADATA").decode()
    # The licence travels with the wheel, as an SPDX expression and as the file itself.
    assert "License-Expression: MIT" in metadata.splitlines()
    assert f"aks_workload_identity-{VERSION}.dist-info/licenses/LICENSE" in names
    assert {"pulumi", "pulumi-azure-native", "pulumi-kubernetes", "pulumi-random", "pulumi-command"} <= set(
        re.findall(r"^Requires-Dist: ([A-Za-z0-9_-]+)", metadata, re.M)
    )

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], check=True)
    (tmp_path / "example.py").write_text(readme_example())
    (tmp_path / "runner.py").write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "runner.py", str(site), str(PROJECT_DIR), str(tmp_path / "example.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ran = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(ran["package"]).is_relative_to(site)
    assert ran["version"] == VERSION
    assert ran["subjects"] == ["system:serviceaccount:orders:orders-api"]
    assert ran["exports"] == ["client_id"]
    # The same program, as the source tree declares it.
    here = run(lambda: exec(readme_example(), {"__name__": "example"}), {"dbPassword": "s3cret-value"})
    assert ran["declared"] == sorted([r.type, r.name] for r in here.resources)
