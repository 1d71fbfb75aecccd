"""Shared helpers: every test runs the program (or one component) afresh under the recording mock engine."""

from __future__ import annotations

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
K8S_PROVIDER = "pulumi:providers:kubernetes"


@pytest.fixture
def program() -> Program:
    """The dev stack as `pulumi up -s dev` would declare it."""
    return run_program()


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


def pod_template(program: Program) -> dict:
    return program.one(DEPLOYMENT).inputs["spec"]["template"]


def container_env(program: Program) -> dict[str, str]:
    return {e["name"]: e["value"] for e in pod_template(program)["spec"]["containers"][0]["env"]}
