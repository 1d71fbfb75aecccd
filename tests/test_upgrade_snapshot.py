"""Upgrades of this package never replace a user's resources by accident.

tests/snapshots/<stack>.json holds, per stack, every resource the program declares under the mocks: its URN, its
parent, `delete_before_replace` where the program sets it, and the inputs whose change makes its provider replace it
(`facts.REPLACEMENT_INPUTS`, with the program's own `replace_on_changes`). The tests run the program as it is now and
name each resource of the snapshot that would lose its URN (no alias claims it) or be replaced.

After a deliberate change, take the snapshots again with one command and commit them:

    make snapshot        (or: venv/bin/python tests/test_upgrade_snapshot.py --refresh [stack ...])

Under the mocks every value is derived from resource names and the stack's config, so two runs record the same
thing (a test holds that). Left out, by design: image builds' inputs (a new app version builds again; that is the
point of the content-hash tag, and the image registry is the resource that matters) and every input that only
updates in place. A secret input is recorded as "[secret]", never its value.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    # Run as a script (the refresh): the project's modules, as pytest's `pythonpath` gives them to the tests.
    sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

import pulumi
import pytest
from conftest import STACKS

from aks_workload_identity import facts
from twin.mocks import PROJECT, Program, Registration, run_program

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
REFRESH = "make snapshot (or venv/bin/python tests/test_upgrade_snapshot.py --refresh)"
#: Recorded by URN alone: components, providers, and image builds (see the module's docstring).
URN_ONLY = ("wi:", "test:", "pulumi:providers:", "command:", "docker-build:")
SECRET = "[secret]"
#: The root of every program: a resource whose parent it is has no parent type in its URN.
STACK_TYPE = "pulumi:pulumi:Stack"


def replacement_paths(resource: Registration) -> tuple[str, ...]:
    """The inputs (dotted paths, `[*]` for every item) whose change replaces `resource`."""
    if resource.type.startswith(URN_ONLY):
        return ()
    if resource.type in facts.REPLACEMENT_INPUTS:
        paths = facts.REPLACEMENT_INPUTS[resource.type]
    elif resource.type.startswith("kubernetes:"):
        paths = facts.KUBERNETES_REPLACEMENT_INPUTS
    else:
        raise ValueError(
            f"{resource.type}: no replacement inputs known for this type; look them up in its provider's source and "
            "add them to facts.REPLACEMENT_INPUTS"
        )
    return tuple(dict.fromkeys([*paths, *resource.replace_on_changes]))


def snapshot(program: Program) -> dict[str, Any]:
    """What the program declares that decides whether `pulumi up` keeps each resource: see the module's docstring."""
    resources: dict[str, Any] = {}
    urns = engine_urns(program)
    for r in program.resources:
        entry: dict[str, Any] = {"type": r.type, "parent": urns.get(r.parent, "")}
        if r.delete_before_replace is not None:
            entry["deleteBeforeReplace"] = r.delete_before_replace
        inputs = _masked(r.inputs, r.secret_inputs)
        paths = replacement_paths(r)
        if paths:
            entry["replaceOnChanges"] = {path: _at(inputs, path) for path in paths}
        resources[urns[r.urn]] = entry
    return {"stack": program.stack, "resources": dict(sorted(resources.items()))}


def engine_urns(program: Program) -> dict[str, str]:
    """Each resource's URN (by the mocks' URN) as Pulumi's engine makes it: `<parent's type chain>$<type>::<name>`.

    Pulumi's mock monitor keeps only the parent's last type, and counts the stack as a parent; the engine keeps the
    whole chain and leaves the stack out (pulumi/pulumi `sdk/go/common/resource/urn.go`, NewURN). Parents register
    before their children, so one pass does it.
    """
    urns: dict[str, str] = {}
    for r in program.resources:
        urns[r.urn] = _urn(program.stack, PROJECT, urns.get(r.parent, ""), r.type, r.name)
    return urns


def departures(before: dict[str, Any], program: Program) -> list[str]:
    """Each resource of the snapshot `before` that the program, run now, would delete or replace, in a sentence."""
    old = before["resources"]
    new = snapshot(program)["resources"]
    matched = _match(old, program)
    problems = []
    claimed = set(matched.values())
    unmatched = [urn for urn in new if urn not in matched]
    for urn in old:
        if urn in claimed:
            continue
        successor = _successor(urn, old[urn], unmatched, new, matched)
        now = f"; the program now declares {successor}, which no alias links to it" if successor else ""
        problems.append(f"{urn}: its URN is gone and no alias claims it, so `pulumi up` would delete it{now}")
    for urn, old_urn in matched.items():
        was, now = old[old_urn], new[urn]
        recorded_was, recorded_now = was.get("replaceOnChanges", {}), now.get("replaceOnChanges", {})
        changed = [p for p in recorded_now if p in recorded_was and recorded_was[p] != recorded_now[p]]
        if changed:
            what = "; ".join(f"{p or 'inputs'} {recorded_was[p]!r} -> {recorded_now[p]!r}" for p in changed)
            problems.append(f"{urn}: would be replaced: {what}")
        if was.get("deleteBeforeReplace") != now.get("deleteBeforeReplace"):
            problems.append(
                f"{urn}: delete_before_replace {was.get('deleteBeforeReplace')!r} -> {now.get('deleteBeforeReplace')!r}"
                " changes how a replacement would happen"
            )
    return problems


def _successor(
    urn: str, was: dict[str, Any], unmatched: list[str], new: dict[str, Any], matched: dict[str, str]
) -> str | None:
    """The new resource that most likely took an old one's place: same name, and same type or same parent."""
    parent_now = next((n for n, o in matched.items() if o == was["parent"]), was["parent"])
    same_name = [n for n in unmatched if _urn_name(n) == _urn_name(urn)]
    for fits in (lambda n: new[n]["type"] == was["type"], lambda n: new[n]["parent"] == parent_now):
        found = [n for n in same_name if fits(n)]
        if len(found) == 1:
            return found[0]
    return None


def report(stack: str, problems: list[str]) -> str:
    return (
        f"stack {stack}: an upgrade to this version would change live resources:\n"
        + "\n".join(f"  - {p}" for p in problems)
        + f"\nGive a renamed resource an alias (pulumi.Alias); if the change is deliberate, refresh: {REFRESH}"
    )


def load(stack: str) -> dict[str, Any]:
    return json.loads((SNAPSHOTS / f"{stack}.json").read_text())


def write(stack: str) -> Path:
    """Takes the stack's snapshot, refusing one that a second run would not reproduce."""
    first, second = snapshot(run_program(stack=stack)), snapshot(run_program(stack=stack))
    unstable = [urn for urn in first["resources"] if first["resources"][urn] != second["resources"].get(urn)]
    if unstable or first != second:
        raise SystemExit(f"stack {stack}: two runs under the mocks differ at {unstable}; make those values stable")
    SNAPSHOTS.mkdir(exist_ok=True)
    path = SNAPSHOTS / f"{stack}.json"
    path.write_text(json.dumps(first, indent=1, sort_keys=True) + "\n")
    return path


# --- URNs and aliases, as Pulumi's engine matches them ---------------------------------------------------------------


def _match(old: dict[str, Any], program: Program) -> dict[str, str]:
    """New URN -> the old URN it takes over: its own, else the first of its aliases the snapshot holds.

    As the engine does (pulumi/pulumi `pkg/resource/deploy/step_generator.go`, generateAliases): each alias, its
    unset fields taken from the resource; and when the parent took over an old URN through an alias, that URN as
    the child's parent, the child's name rewritten when it starts with its parent's name ("app-vault" of "app",
    aliased to "old", becomes "old-vault"). Parents register before their children, so one pass does it.
    """
    urns = engine_urns(program)
    matched: dict[str, str] = {}
    for r in program.resources:
        urn, parent = urns[r.urn], urns.get(r.parent, "")
        candidates = [urn, *_alias_urns(r, parent, matched, urns, program.stack)]
        found = next((c for c in candidates if c in old and c not in matched.values()), None)
        if found:
            matched[urn] = found
    return matched


def _alias_urns(r: Registration, parent: str, matched: dict[str, str], urns: dict[str, str], stack: str) -> list[str]:
    own = [_collapse(alias, r, parent, urns, stack) for alias in r.aliases]
    parent_was = matched.get(parent)
    if not (parent_was and parent_was != parent):
        return own
    parent_name = _urn_name(parent)
    inherited = [_inherited(r.type, r.name, parent_name, parent_was)]
    inherited += [_inherited(_urn_type(a).rsplit("$", 1)[-1], _urn_name(a), parent_name, parent_was) for a in own]
    return own + inherited


def _collapse(alias: dict[str, Any], r: Registration, parent: str, urns: dict[str, str], stack: str) -> str:
    if "urn" in alias:
        return alias["urn"]
    if alias.get("noParent"):
        parent = ""
    elif parent_urn := str(alias.get("parentUrn") or ""):
        parent = urns.get(parent_urn, parent_urn)
    return _urn(
        alias.get("stack") or stack,
        alias.get("project") or PROJECT,
        parent,
        alias.get("type") or r.type,
        alias.get("name") or r.name,
    )


def _inherited(child_type: str, child_name: str, parent_name: str, parent_alias: str) -> str:
    name = (
        _urn_name(parent_alias) + child_name[len(parent_name) :] if child_name.startswith(parent_name) else child_name
    )
    return _urn(_urn_stack(parent_alias), _urn_project(parent_alias), parent_alias, child_type, name)


def _urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    parent_type = _urn_type(parent) if parent else ""
    qualified = type_ if parent_type in ("", STACK_TYPE) else f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def _urn_parts(urn: str) -> list[str]:
    """stack, project, qualified type, name (a name may itself hold `::`)."""
    head, project, qualified, name = urn.split("::", 3)
    return [head.removeprefix("urn:pulumi:"), project, qualified, name]


def _urn_stack(urn: str) -> str:
    return _urn_parts(urn)[0]


def _urn_project(urn: str) -> str:
    return _urn_parts(urn)[1]


def _urn_type(urn: str) -> str:
    return _urn_parts(urn)[2]


def _urn_name(urn: str) -> str:
    return _urn_parts(urn)[3]


# --- Inputs ----------------------------------------------------------------------------------------------------------


def _at(inputs: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`a.b`, `a[*].b` for every item of a list; "" for all of them), or None."""
    if not path:
        return inputs
    values: list[Any] = [inputs]
    for key in path.replace("[*]", ".[*]").split("."):
        if key == "[*]":
            values = [item for value in values if isinstance(value, list) for item in value]
        else:
            values = [value.get(key) if isinstance(value, dict) else None for value in values]
    return values if "[*]" in path else values[0]


def _masked(inputs: dict[str, Any], secret_paths: list[str]) -> dict[str, Any]:
    """The inputs with each secret (at its path as the mocks note it, e.g. `properties.value`, `a[0].b`) hidden."""
    masked = copy.deepcopy(inputs)
    for path in secret_paths:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
        holder: Any = masked
        for key in keys[:-1]:
            holder = holder[key]
        if keys:
            holder[keys[-1]] = SECRET
        else:
            return {"": SECRET}
    return masked


# --- Tests -----------------------------------------------------------------------------------------------------------


def test_an_upgrade_keeps_every_urn_and_replaces_nothing(program: Program):
    problems = departures(load(program.stack), program)
    assert not problems, report(program.stack, problems)


def test_the_snapshot_is_the_same_on_every_run(dev: Program):
    assert snapshot(run_program(stack="dev")) == snapshot(dev)


def _as_released_before_the_rename(program: Program) -> dict[str, Any]:
    """The snapshot the program would have given when WorkloadPod was still WorkloadDeployment (before 0.2)."""
    return json.loads(json.dumps(snapshot(program)).replace("wi:index:WorkloadPod", "wi:index:WorkloadDeployment"))


def test_the_renamed_pod_component_keeps_its_urns_through_its_alias(dev: Program):
    before = _as_released_before_the_rename(dev)
    renamed = [urn for urn in before["resources"] if "WorkloadDeployment" in urn]
    # The component and each of its children (a Deployment, a NetworkPolicy) changed URN.
    assert len(renamed) >= 2
    assert departures(before, dev) == []


def test_the_same_rename_without_the_alias_fails_naming_the_urns(dev: Program, monkeypatch):
    before = _as_released_before_the_rename(dev)
    init = pulumi.ComponentResource.__init__

    def without_alias(self, t, name, props=None, opts=None, remote=False, package_ref=None):
        if t == "wi:index:WorkloadPod" and opts is not None:
            opts = pulumi.ResourceOptions.merge(opts, None)
            opts.aliases = None
        init(self, t, name, props, opts, remote, package_ref)

    monkeypatch.setattr(pulumi.ComponentResource, "__init__", without_alias)
    problems = departures(before, run_program(stack="dev"))
    renamed = [urn for urn in before["resources"] if "WorkloadDeployment" in urn]
    assert sorted(p.split(": ", 1)[0] for p in problems) == sorted(renamed)
    assert all("no alias claims it" in p and "WorkloadPod" in p for p in problems)
    assert REFRESH in report("dev", problems)


def test_a_replacement_forcing_input_that_changes_is_named(dev: Program):
    before = snapshot(dev)
    vault = next(urn for urn, r in before["resources"].items() if r["type"] == "azure-native:keyvault:Vault")
    suffix = next(urn for urn, r in before["resources"].items() if r["type"].endswith("RandomString"))
    before["resources"][vault]["replaceOnChanges"]["vaultName"] = "oldname"
    before["resources"][suffix]["replaceOnChanges"][""]["length"] = 5
    problems = {p.split(": ", 1)[0]: p for p in departures(before, dev)}
    assert sorted(problems) == sorted([vault, suffix])
    assert problems[vault].startswith(f"{vault}: would be replaced: vaultName 'oldname' -> ")
    assert problems[suffix].startswith(f"{suffix}: would be replaced: inputs {{") and "'length': 5" in problems[suffix]


def test_a_path_recorded_on_one_side_only_is_no_replacement(dev: Program):
    """A provider's list that grows (or an option the program drops) says nothing about the live value."""
    before = snapshot(dev)
    vault = next(urn for urn, r in before["resources"].items() if r["type"] == "azure-native:keyvault:Vault")
    del before["resources"][vault]["replaceOnChanges"]["location"]
    assert departures(before, dev) == []


def test_a_changed_delete_before_replace_is_named(dev: Program):
    before = snapshot(dev)
    urn = next(iter(before["resources"]))
    before["resources"][urn]["deleteBeforeReplace"] = True
    (problem,) = departures(before, dev)
    assert problem.startswith(f"{urn}: delete_before_replace True -> ")


def _registration(type_: str, name: str, parent: str, aliases: list[dict[str, Any]] | None = None) -> Registration:
    urn = _urn("dev", PROJECT, parent, type_, name)
    return Registration(type_, name, urn, parent, "", {}, {}, aliases=aliases or [])


ROOT = f"urn:pulumi:dev::{PROJECT}::{STACK_TYPE}::{PROJECT}-dev"


def test_children_inherit_their_parents_alias_with_their_names_rewritten():
    """A component renamed "old" -> "app" keeps its child "app-x" (once "old-x") and grandchild through its alias."""
    parent = _registration("wi:index:App", "app", ROOT, [{"name": "old"}])
    child = _registration("wi:index:Part", "app-x", parent.urn)
    grandchild = _registration("random:index/randomString:RandomString", "app-x-y", child.urn)
    program = Program([parent, child, grandchild], [], {}, [])
    old_parent = _urn("dev", PROJECT, ROOT, "wi:index:App", "old")
    old_child = _urn("dev", PROJECT, old_parent, "wi:index:Part", "old-x")
    old_grandchild = _urn("dev", PROJECT, old_child, "random:index/randomString:RandomString", "old-x-y")
    assert (
        old_grandchild
        == f"urn:pulumi:dev::{PROJECT}::wi:index:App$wi:index:Part$random:index/randomString:RandomString::old-x-y"
    )
    before = {"resources": {urn: {"replaceOnChanges": {"": {}}} for urn in (old_parent, old_child, old_grandchild)}}
    assert _match(before["resources"], program) == {
        parent.urn: old_parent,
        child.urn: old_child,
        grandchild.urn: old_grandchild,
    }
    parent.aliases = []
    assert _match(before["resources"], program) == {}


def test_an_alias_may_name_a_urn_or_a_parent_of_its_own():
    other = _registration("wi:index:Other", "other", ROOT)
    moved = _registration("wi:index:Part", "p", ROOT, [{"parentUrn": other.urn}])
    named = _registration("wi:index:Part", "q", ROOT, [{"urn": "urn:pulumi:dev::x::t::q"}])
    unparented = _registration("wi:index:Part", "r", other.urn, [{"noParent": True}])
    program = Program([other, moved, named, unparented], [], {}, [])
    before = {
        f"urn:pulumi:dev::{PROJECT}::wi:index:Other$wi:index:Part::p": {},
        "urn:pulumi:dev::x::t::q": {},
        f"urn:pulumi:dev::{PROJECT}::wi:index:Part::r": {},
    }
    assert set(_match(before, program).values()) == set(before)


def test_a_type_without_known_replacement_inputs_is_refused_by_name():
    resource = _registration("azure-native:storage:StorageAccount", "sa", ROOT)
    with pytest.raises(ValueError, match=r"^azure-native:storage:StorageAccount: no replacement inputs known"):
        snapshot(Program([resource], [], {}, []))


def test_secret_inputs_are_recorded_as_secret_never_by_value():
    resource = _registration("random:index/randomString:RandomString", "s", ROOT)
    resource.inputs = {"length": 8, "keepers": {"token": "hunter2", "list": ["a", "b"]}}
    resource.secret_inputs = ["keepers.token", "keepers.list[1]"]
    (entry,) = snapshot(Program([resource], [], {}, []))["resources"].values()
    assert entry["replaceOnChanges"][""] == {"length": 8, "keepers": {"token": SECRET, "list": ["a", SECRET]}}
    assert "hunter2" not in json.dumps(entry)


def test_paths_reach_into_lists_and_the_programs_own_replace_on_changes_count():
    resource = _registration("azure-native:containerservice:ManagedCluster", "c", ROOT)
    resource.inputs = {"resourceName": "c1", "agentPoolProfiles": [{"vmSize": "A"}, {"vmSize": "B"}]}
    resource.replace_on_changes = ["agentPoolProfiles[*].vmSize"]
    (entry,) = snapshot(Program([resource], [], {}, []))["resources"].values()
    assert entry["replaceOnChanges"]["agentPoolProfiles[*].vmSize"] == ["A", "B"]
    assert entry["replaceOnChanges"]["resourceName"] == "c1"
    assert entry["replaceOnChanges"]["dnsPrefix"] is None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Takes each stack's upgrade snapshot again (tests/snapshots/).")
    parser.add_argument("--refresh", action="store_true", required=True, help="write the snapshots")
    parser.add_argument("stacks", nargs="*", metavar="stack", help=f"default: all of {', '.join(STACKS)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.stacks) - set(STACKS))
    if unknown:
        parser.error(f"no such stack: {', '.join(unknown)} (the stacks are {', '.join(STACKS)})")
    for stack in args.stacks or STACKS:
        print(f"wrote {write(stack)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
