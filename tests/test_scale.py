"""The critical-path model (`twin.scale`): on small hand-built programs, then on the stacks' own programs."""

from __future__ import annotations

import pytest
from conftest import BUILD, CLUSTER, DEPLOYMENT, K8S_PROVIDER, NAMESPACE, named

from twin import scale
from twin.mocks import Program, Registration, run_program

GROUP = "azure-native:resources:ResourceGroup"
COMPONENT = "test:index:Component"
STACK = "urn:pulumi:test::project::pulumi:pulumi:Stack::project-test"


def urn(name: str) -> str:
    return f"urn:pulumi:test::project::{name}"


def resource(
    type_: str, name: str, *waits: str, parent: str = STACK, provider: str = "", dependencies: list[str] | None = None
) -> Registration:
    """A registration that waits for the resources named in `waits` (logical names, as URNs)."""
    return Registration(
        type=type_,
        name=name,
        urn=urn(name),
        parent=parent,
        id=f"{name}-id",
        inputs={},
        outputs={},
        dependencies=dependencies if dependencies is not None else [urn(w) for w in waits],
        provider=provider,
    )


def hand_built(*resources: Registration) -> Program:
    return Program(list(resources), [], {}, [])


def seconds(type_: str, name: str = "x") -> float:
    return scale.duration(resource(type_, name)).seconds


def names(path: scale.CriticalPath) -> list[str]:
    return [step.name for step in path.chain]


def test_a_chain_of_waits_adds_up_in_order():
    path = scale.critical_path(
        hand_built(
            resource(DEPLOYMENT, "pods", "cluster"),
            resource(CLUSTER, "cluster", "rg"),
            resource(GROUP, "rg"),
        )
    )
    assert path.seconds == seconds(GROUP) + seconds(CLUSTER) + seconds(DEPLOYMENT)
    assert names(path) == ["rg", "cluster", "pods"]
    assert [(s.start, s.finish) for s in path.chain] == [
        (0, seconds(GROUP)),
        (seconds(GROUP), seconds(GROUP) + seconds(CLUSTER)),
        (seconds(GROUP) + seconds(CLUSTER), path.seconds),
    ]


def test_independent_resources_run_side_by_side():
    many = [resource(NAMESPACE, f"ns-{i}", "cluster") for i in range(20)]
    path = scale.critical_path(hand_built(resource(CLUSTER, "cluster"), *many))
    assert path.seconds == seconds(CLUSTER) + seconds(NAMESPACE)


def test_the_longest_of_parallel_branches_is_the_path():
    path = scale.critical_path(
        hand_built(
            resource(GROUP, "rg"),
            resource(NAMESPACE, "short", "rg"),
            resource(CLUSTER, "long", "rg"),
            resource(DEPLOYMENT, "pods", "short", "long"),
        )
    )
    assert names(path) == ["rg", "long", "pods"]
    assert path.seconds == seconds(GROUP) + seconds(CLUSTER) + seconds(DEPLOYMENT)


def test_a_resource_waits_for_its_provider_and_what_the_provider_waits_for():
    path = scale.critical_path(
        hand_built(
            resource(CLUSTER, "cluster"),
            resource(K8S_PROVIDER, "k8s", "cluster"),
            resource(NAMESPACE, "ns", provider=f"{urn('k8s')}::k8s-id"),
        )
    )
    assert names(path) == ["cluster", "k8s", "ns"]
    assert path.seconds == seconds(CLUSTER) + seconds(NAMESPACE)


def test_waiting_for_a_component_waits_for_its_children():
    parent = resource(COMPONENT, "vault-component")
    path = scale.critical_path(
        hand_built(
            parent,
            resource(GROUP, "quick", parent=parent.urn),
            resource("azure-native:keyvault:Vault", "vault", parent=parent.urn),
            resource(DEPLOYMENT, "pods", "vault-component"),
        )
    )
    assert names(path) == ["vault", "pods"]
    assert path.seconds == seconds("azure-native:keyvault:Vault") + seconds(DEPLOYMENT)


def test_a_child_does_not_wait_for_its_parent_component_or_its_siblings():
    parent = resource(COMPONENT, "workload", "cluster")
    path = scale.critical_path(
        hand_built(
            resource(CLUSTER, "cluster"),
            parent,
            resource(GROUP, "rg", parent=parent.urn),
            resource(NAMESPACE, "ns", parent=parent.urn),
        )
    )
    assert names(path) == ["cluster"]


def test_commands_are_timed_by_what_they_do():
    assert seconds(BUILD, "app-build") == scale.DURATIONS[(BUILD, "-build")].seconds
    assert seconds(BUILD, "wi-await-access") == scale.DURATIONS[(BUILD, "-await-access")].seconds
    assert seconds(BUILD, "app-build") != seconds(BUILD, "wi-await-access")
    with pytest.raises(scale.ModelError, match="something-else"):
        seconds(BUILD, "something-else")


def test_a_type_without_a_duration_is_refused_by_name():
    with pytest.raises(scale.ModelError, match="azure-native:cdn:Profile"):
        scale.critical_path(hand_built(resource("azure-native:cdn:Profile", "cdn")))


def test_a_wait_on_an_unregistered_resource_is_refused():
    with pytest.raises(scale.ModelError, match="ghost"):
        scale.critical_path(hand_built(resource(NAMESPACE, "ns", "ghost")))
    with pytest.raises(scale.ModelError, match="ghost"):
        scale.critical_path(hand_built(resource(NAMESPACE, "ns", provider=f"{urn('ghost')}::id")))


def test_a_cycle_is_refused():
    with pytest.raises(scale.ModelError, match="cycle"):
        scale.critical_path(hand_built(resource(NAMESPACE, "a", "b"), resource(NAMESPACE, "b", "a")))


def test_an_empty_program_takes_no_time():
    assert scale.critical_path(hand_built()) == scale.CriticalPath(0.0, ())


def test_every_figure_says_where_it_comes_from():
    for key, figure in scale.DURATIONS.items():
        assert figure.seconds >= 0 and figure.source.strip(), key


# --- the stacks' own programs -----------------------------------------------------------------------------------


def test_every_resource_each_stack_declares_has_a_duration(program):
    path = scale.critical_path(program)
    assert path.seconds > 0


def test_the_dev_stack_waits_for_its_cluster_then_ends_with_the_pods(dev):
    path = scale.critical_path(dev)
    types = [step.type for step in path.chain]
    assert CLUSTER in types
    assert path.chain[-1].type == DEPLOYMENT
    cluster = named(dev, CLUSTER, "wi-aks")
    assert path.seconds >= scale.duration(cluster).seconds + seconds(DEPLOYMENT)


def test_generated_workloads_each_get_their_own_namespace_and_share_one_build():
    generated = run_program(scale.overlay(3))
    assert len(generated.of_type(DEPLOYMENT)) == 3
    assert len(generated.of_type(NAMESPACE)) == 3
    assert len(generated.of_type(BUILD)) == 1


def test_the_existing_cluster_overlay_declares_no_cluster():
    byo = run_program(scale.overlay(2, existing_cluster=True))
    assert byo.of_type(CLUSTER) == []
    assert len(byo.of_type(DEPLOYMENT)) == 2
    assert CLUSTER not in [step.type for step in scale.critical_path(byo).chain]


def test_an_evaluation_in_its_own_process_reports_what_the_program_declared():
    evaluation = scale.evaluate(2)
    assert evaluation.resources == len(run_program(scale.overlay(2)).resources)
    assert 0 < evaluation.cpu and 0 < evaluation.wall
