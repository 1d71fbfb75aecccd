"""The modelled critical path of a first `pulumi up`: how long it takes when everything that can run at once does.

The engine creates a resource once everything it waits for exists, and runs independent creations side by side.
So the deploy takes as long as the longest chain of waits, each link costing its resource's creation time. The
chain is read from what the program registered (`twin.mocks.Program`): a resource waits for each URN in its
`dependencies` and for its provider (whose own waits chain on). A component resource takes no time and gates
nothing: its children wait only for what they themselves name, and whatever waits for the component waits for its
children. The figures are in `DURATIONS`, one table, each with where it comes from.

`workloads(n)` and `overlay(n)` make the config of a stack with n workloads, and `evaluate(n)` times the program's
evaluation with them, for the scale bench. `python -m twin.scale N` is that evaluation's own process.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aks_workload_identity import facts
from twin.mocks import PROJECT, PROJECT_DIR, Program, Registration, run_program, stack_config


@dataclass(frozen=True)
class Duration:
    """Seconds a resource takes to create, and where the figure comes from."""

    seconds: float
    source: str


#: Creation time per resource kind, keyed by (type token, suffix of the logical name). The suffix is "" for every
#: type but `command:local:Command`, whose logical name says which command it is (the components name them so).
DURATIONS: dict[tuple[str, str], Duration] = {
    ("azure-native:resources:ResourceGroup", ""): Duration(2, "assumption: a metadata write in ARM"),
    ("azure-native:containerservice:ManagedCluster", ""): Duration(
        600, "facts.CLUSTER_CREATE_TIMEOUT's note: creation typically takes 5-15 minutes; 10 taken"
    ),
    ("azure-native:containerservice:AgentPool", ""): Duration(300, "assumption: provisioning a pool's VMs"),
    ("azure-native:containerservice:MaintenanceConfiguration", ""): Duration(5, "assumption: a cluster sub-resource"),
    ("azure-native:operationalinsights:Workspace", ""): Duration(30, "assumption"),
    ("azure-native:monitor:DataCollectionRule", ""): Duration(5, "assumption: a metadata write in ARM"),
    ("azure-native:monitor:DataCollectionRuleAssociation", ""): Duration(5, "assumption: a metadata write in ARM"),
    ("azure-native:containerregistry:Registry", ""): Duration(30, "assumption"),
    ("command:local:Command", "-build"): Duration(
        120, "assumption: `az acr build` of the small app image, base image import included"
    ),
    ("command:local:Command", "-await-access"): Duration(
        facts.AKS_RBAC_PROPAGATION_SECONDS,
        "facts.AKS_RBAC_PROPAGATION_SECONDS: a new Kubernetes role assignment reaches the API server within 5 "
        "minutes; the command polls until it has (the bound, not a typical figure)",
    ),
    ("azure-native:keyvault:Vault", ""): Duration(30, "assumption"),
    ("azure-native:keyvault:Secret", ""): Duration(5, "assumption: one data-plane write"),
    ("azure-native:managedidentity:UserAssignedIdentity", ""): Duration(10, "assumption"),
    ("azure-native:managedidentity:FederatedIdentityCredential", ""): Duration(10, "assumption"),
    ("azure-native:authorization:RoleAssignment", ""): Duration(
        5, "assumption: the write only; RBAC propagation afterwards is not modelled"
    ),
    ("azure-native:network:VirtualNetwork", ""): Duration(10, "assumption"),
    ("azure-native:network:Subnet", ""): Duration(5, "assumption"),
    ("azure-native:network:PrivateEndpoint", ""): Duration(60, "assumption"),
    ("azure-native:network:PrivateDnsZoneGroup", ""): Duration(10, "assumption"),
    ("azure-native:privatedns:PrivateZone", ""): Duration(30, "assumption"),
    ("azure-native:privatedns:VirtualNetworkLink", ""): Duration(30, "assumption"),
    ("pulumi:providers:kubernetes", ""): Duration(0, "configured on the deploying machine"),
    ("kubernetes:core/v1:Namespace", ""): Duration(1, "assumption: one API-server write"),
    ("kubernetes:core/v1:ServiceAccount", ""): Duration(1, "assumption: one API-server write"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", ""): Duration(1, "assumption: one API-server write"),
    ("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass", ""): Duration(
        1, "assumption: one API-server write"
    ),
    ("kubernetes:apps/v1:Deployment", ""): Duration(
        60,
        "assumption: image pull, start and readiness (Pulumi waits for the rollout), once the grants have "
        "propagated; propagation itself (facts.RBAC_PROPAGATION_SECONDS) is not modelled",
    ),
    ("random:index/randomString:RandomString", ""): Duration(0, "computed locally"),
    ("random:index/randomPassword:RandomPassword", ""): Duration(0, "computed locally"),
}


class ModelError(ValueError):
    """The program registered something the model cannot place: a type with no duration, a wait on an unregistered
    URN, or a cycle."""


@dataclass(frozen=True)
class Step:
    """One resource on the critical path, with its modelled start and finish (seconds from the deploy's start)."""

    type: str
    name: str
    start: float
    finish: float


@dataclass(frozen=True)
class CriticalPath:
    seconds: float
    #: The resources on it, first to last; components (which take no time) are left out.
    chain: tuple[Step, ...]


def duration(resource: Registration) -> Duration:
    """The table's figure for a custom resource: the entry for its type whose suffix ends its name."""
    for (type_, suffix), figure in DURATIONS.items():
        if type_ == resource.type and resource.name.endswith(suffix):
            return figure
    raise ModelError(f"no duration for {resource.type} ({resource.name}): add it to DURATIONS")


def _provider_urn(reference: str) -> str:
    """A provider reference is `<urn>::<id>`."""
    return reference.rsplit("::", 1)[0]


def critical_path(program: Program) -> CriticalPath:
    """The longest chain of waits in `program`, its length in seconds, and the resources on it."""
    by_urn = {r.urn: r for r in program.resources}
    children: dict[str, list[str]] = defaultdict(list)
    for r in program.resources:
        if r.parent in by_urn:
            children[r.parent].append(r.urn)
    # A resource with children and no entry of its own in the table is a component.
    timed = {type_ for type_, _ in DURATIONS}
    components = {urn for urn in children if by_urn[urn].type not in timed}

    def waits(resource: Registration) -> list[str]:
        if resource.urn in components:
            return children[resource.urn]
        urns = list(resource.dependencies)
        if resource.provider:
            urns.append(_provider_urn(resource.provider))
        for urn in urns:
            if urn not in by_urn:
                raise ModelError(f"{resource.name} waits for {urn}, which the program did not register")
        return urns

    finish: dict[str, float] = {}
    #: For each resource, the wait that ended last (what it started after), if any.
    after: dict[str, str | None] = {}
    visiting: set[str] = set()

    def visit(urn: str) -> float:
        if urn in finish:
            return finish[urn]
        if urn in visiting:
            raise ModelError(f"a cycle of waits through {by_urn[urn].name}")
        visiting.add(urn)
        resource = by_urn[urn]
        start, last = 0.0, None
        for before in sorted(waits(resource)):  # sorted: ties break the same way in every run
            ends = visit(before)
            if last is None or ends > start:
                start, last = ends, before
        visiting.discard(urn)
        took = 0.0 if urn in components else duration(resource).seconds
        finish[urn], after[urn] = start + took, last
        return finish[urn]

    end: str | None = None
    for urn in sorted(by_urn):
        ends = visit(urn)
        if end is None or ends > finish[end]:
            end = urn
    chain: list[Step] = []
    urn = end
    while urn is not None:
        resource = by_urn[urn]
        if urn not in components:
            took = duration(resource).seconds
            chain.append(Step(resource.type, resource.name, finish[urn] - took, finish[urn]))
        urn = after[urn]
    chain.reverse()
    return CriticalPath(finish[end] if end else 0.0, tuple(chain))


# --- stacks with many workloads ---------------------------------------------------------------------------------


def workloads(count: int) -> list[dict[str, Any]]:
    """`count` workloads, each in a namespace of its own with one service account and one generated secret, all
    running the app image built from app/ (one build for all)."""
    return [
        {
            "name": f"load-{index:03d}",
            "namespace": f"load-{index:03d}",
            "serviceAccounts": [f"load-{index:03d}"],
            "secrets": [{"name": "token"}],
            "image": {"build": "app", "repository": "secret-reader"},
            "env": {"SECRET_NAME": "token"},
        }
        for index in range(1, count + 1)
    ]


#: The config keys that make a stack deploy onto an existing cluster instead of creating one.
EXISTING_CLUSTER_KEYS = ("existingClusterResourceGroup", "existingClusterName")


def overlay(count: int, *, existing_cluster: bool = False) -> dict[str, str]:
    """Config to lay over a stack: `workloads(count)`, and with `existing_cluster` the byo stack's cluster."""
    config = {"workloads": json.dumps(workloads(count))}
    if existing_cluster:
        byo = stack_config("byo")
        config.update({key: byo[f"{PROJECT}:{key}"] for key in EXISTING_CLUSTER_KEYS})
    return config


@dataclass(frozen=True)
class Evaluation:
    """One run of the program under the mocks: its CPU time (the process's, so other processes' load does not
    count), its wall time, and how many resources it declared."""

    cpu: float
    wall: float
    resources: int


def evaluate(count: int) -> Evaluation:
    """Runs the program once with `workloads(count)` on the dev stack in a fresh process, as `pulumi up` runs it:
    no run before it leaves a heap, caches or freed memory behind to slow or speed it."""
    done = subprocess.run(
        [sys.executable, "-m", "twin.scale", str(count)], cwd=PROJECT_DIR, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"evaluating {count} workloads failed:\n{done.stderr}")
    return Evaluation(**json.loads(done.stdout.splitlines()[-1]))


def _evaluate_here(count: int) -> Evaluation:
    config = overlay(count)
    gc.collect()  # the garbage of the imports is not the program's
    cpu, wall = time.process_time(), time.perf_counter()
    program = run_program(config)
    return Evaluation(time.process_time() - cpu, time.perf_counter() - wall, len(program.resources))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m twin.scale", description="Evaluate the dev stack with N workloads once; print the figures."
    )
    parser.add_argument("workloads", type=int, help="number of generated workloads")
    evaluation = _evaluate_here(parser.parse_args(argv).workloads)
    print(json.dumps({"cpu": evaluation.cpu, "wall": evaluation.wall, "resources": evaluation.resources}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
