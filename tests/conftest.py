"""Shared helpers: every test runs the program (or one component) afresh under the recording mock engine."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from twin.declared import (  # noqa: F401 (re-exported to the test modules)
    CLUSTER,
    DEPLOYMENT,
    FEDERATED_CREDENTIAL,
    IDENTITY,
    ROLE_ASSIGNMENT,
    SECRET,
    SERVICE_ACCOUNT,
    VAULT,
)
from twin.mocks import Program, Registration, run_program

CREDENTIAL = FEDERATED_CREDENTIAL
REGISTRY = "azure-native:containerregistry:Registry"
BUILD = "command:local:Command"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_PROVIDER = "pulumi:providers:kubernetes"
AGENT_POOL = "azure-native:containerservice:AgentPool"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
RANDOM_STRING = "random:index/randomString:RandomString"
#: The project's stacks, each with its Pulumi.<stack>.yaml.
STACKS = ("dev", "prod", "byo")


# Each stack's program runs once per test session: the tests that share a run only read what it recorded.
@pytest.fixture(scope="session", params=STACKS)
def program(request: pytest.FixtureRequest) -> Program:
    """Each stack as `pulumi up -s <stack>` would declare it."""
    return run_program(stack=request.param)


@pytest.fixture(scope="session")
def dev() -> Program:
    return run_program(stack="dev")


@pytest.fixture(scope="session")
def prod() -> Program:
    return run_program(stack="prod")


@pytest.fixture(scope="session")
def byo() -> Program:
    return run_program(stack="byo")


def named(program: Program, type_: str, name: str) -> Registration:
    """The one resource of `type_` with logical name `name`."""
    (found,) = [r for r in program.of_type(type_) if r.name == name]
    return found


def depends_on(program: Program, resource: Registration, target: Registration) -> bool:
    """Whether `resource` waits for `target`, directly or through a chain of dependencies and providers."""
    seen: set[str] = set()
    pending = [resource.urn]
    while pending:
        urn = pending.pop()
        if urn == target.urn:
            return True
        if urn in seen:
            continue
        seen.add(urn)
        current = next((r for r in program.resources if r.urn == urn), None)
        if current is not None:
            pending.extend(current.dependencies)
            if current.provider:
                pending.append(current.provider.rsplit("::", 1)[0])
    return False


def pod_template(program: Program, deployment: Registration | None = None) -> dict:
    return (deployment or program.one(DEPLOYMENT)).inputs["spec"]["template"]


def container_env(program: Program, deployment: Registration | None = None) -> dict[str, str]:
    container = pod_template(program, deployment)["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


def workload_names(program: Program) -> list[str]:
    """The workloads a program declares, by their Deployments (`<workload>-deployment`)."""
    return sorted(d.name.removesuffix("-deployment") for d in program.of_type(DEPLOYMENT))


@dataclass
class WorkloadParts:
    """What one workload declared, found by the names its components give their children."""

    identity: Registration
    accounts: list[Registration]
    credentials: list[Registration]
    grants: list[Registration]
    deployment: Registration
    #: Its own vault, or the shared one.
    vault: Registration


def parts(program: Program, workload: str) -> WorkloadParts:
    identity = named(program, IDENTITY, f"{workload}-identity")
    vaults = {r.name: r for r in program.of_type(VAULT)}
    return WorkloadParts(
        identity=identity,
        accounts=[r for r in program.of_type(SERVICE_ACCOUNT) if r.parent == identity.parent],
        credentials=[r for r in program.of_type(FEDERATED_CREDENTIAL) if r.parent == identity.parent],
        grants=[
            r for r in program.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == identity.outputs["principalId"]
        ],
        deployment=named(program, DEPLOYMENT, f"{workload}-deployment"),
        vault=vaults.get(f"{workload}-vault") or vaults["shared-vault"],
    )
