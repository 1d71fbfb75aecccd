"""docs/changes.md, the change table: a row for every setting and workload key, and what a row says a change does
is what the program does when that setting changes."""

from __future__ import annotations

import json
import re

import pytest
from conftest import AGENT_POOL, CLUSTER, RANDOM_STRING, VAULT

import settings
from twin.mocks import PROJECT_DIR, Program, run_program

DOC = PROJECT_DIR / "docs" / "changes.md"
#: The words the Effect column may use (the page's own list).
EFFECTS = frozenset(
    {
        "in place",
        "rotates the system pool",
        "rotates the user pool",
        "rotates both pools",
        "new vault",
        "new registry",
        "replaces the workload's resources",
        "replaces everything",
        "refused",
        "checks only",
    }
)
_ROW = re.compile(r"^\| `(?P<key>[^`]+)` \| (?P<effect>[^|]+?) \| [^|]+ \|$")
#: A stack setting that Pulumi.yaml does not declare, since it is the Azure provider's.
PROVIDER_SETTINGS = {"azure-native:location"}


def table(heading: str) -> dict[str, str]:
    """The rows under `## heading`: each key and its effect."""
    _, found, rest = DOC.read_text().partition(f"\n## {heading}\n")
    assert found, f"docs/changes.md has no section {heading!r}"
    rows: dict[str, str] = {}
    for line in rest.split("\n## ", 1)[0].splitlines():
        if row := _ROW.match(line):
            assert row["key"] not in rows, f"two rows for {row['key']}"
            rows[row["key"]] = row["effect"]
    return rows


STACK = table("Stack settings")
WORKLOAD = table("Workload keys (each entry of `workloads`)")


def test_every_declared_setting_has_one_row_and_no_row_names_a_setting_that_is_gone():
    declared = {*settings.project_config_schema(), *PROVIDER_SETTINGS}
    assert sorted(declared - set(STACK)) == [], "settings with no row in docs/changes.md"
    assert sorted(set(STACK) - declared) == [], "rows of docs/changes.md for settings that do not exist"


def test_every_workload_key_has_one_row_and_no_row_names_a_key_that_is_gone():
    accepted = set(settings._WORKLOAD_KEYS)  # pyright: ignore[reportPrivateUsage]
    assert sorted(accepted - set(WORKLOAD)) == [], "workload keys with no row in docs/changes.md"
    assert sorted(set(WORKLOAD) - accepted) == [], "rows of docs/changes.md for workload keys that do not exist"


def test_each_row_says_its_effect_in_the_pages_own_words():
    for key, effect in {**STACK, **WORKLOAD}.items():
        assert effect in EFFECTS, (key, effect)


#: The dev stack with a user pool, so that both pools are there to rotate.
BASE = {"userPoolVmSize": "Standard_D4ds_v5"}
#: A valid new value for settings whose row says a pool rotates or a vault or registry is new (each such row needs
#: one), and for a few that stay in place.
CHANGES = {
    "nodeVmSize": "Standard_D8ds_v5",
    "userPoolVmSize": "Standard_D8ds_v5",
    "availabilityZones": json.dumps(["1", "2"]),
    "maxPodsPerNode": "50",
    "vaultSoftDeleteRetentionDays": "30",
    "vaultPurgeProtection": "true",
    "sharedVault": "true",
    "nodeCount": "2",
    "userPoolMaxCount": "4",
    "registrySku": "Standard",
}
#: What a `RandomString` names, by its parent component's type (and, for pools, its own name).
_NAMED = {"wi:index:SecretVault": "vault", "wi:index:ImageRegistry": "registry"}
_EFFECT_OF_RENAMED = {
    frozenset(): "in place",
    frozenset({"system pool"}): "rotates the system pool",
    frozenset({"user pool"}): "rotates the user pool",
    frozenset({"system pool", "user pool"}): "rotates both pools",
    frozenset({"vault"}): "new vault",
    frozenset({"registry"}): "new registry",
}


def _names(program: Program) -> dict[str, tuple[str, object]]:
    """Each RandomString that names a resource: its logical name -> (what it names, its keepers)."""
    named = {}
    for suffix in program.of_type(RANDOM_STRING):
        parent_type = suffix.parent.split("::")[-2].split("$")[-1]
        what = _NAMED.get(parent_type) or ("system pool" if "-system-pool-" in suffix.name else "user pool")
        named[suffix.name] = (what, suffix.inputs.get("keepers"))
    return named


@pytest.fixture(scope="module")
def base() -> Program:
    return run_program(BASE)


def test_each_row_that_renames_a_resource_has_a_sampled_change():
    renaming = {key for key, effect in STACK.items() if effect.startswith(("rotates", "new "))}
    assert sorted(renaming - set(CHANGES)) == []


@pytest.mark.parametrize(("key", "value"), CHANGES.items(), ids=list(CHANGES))
def test_a_change_does_what_its_row_says(base: Program, key: str, value: str):
    """Which resources get a new name (their RandomString's keepers change, or it comes or goes) is the row's effect.
    A resource renamed in place of itself (same logical name, new keepers) is created before the old one is deleted;
    one that comes as another goes is, since Pulumi deletes what a program no longer declares last. The cluster is
    kept."""
    changed = run_program({**BASE, key: value})
    before, after = _names(base), _names(changed)
    renamed = {name: what for name, (what, _) in {**before, **after}.items() if before.get(name) != after.get(name)}
    assert _EFFECT_OF_RENAMED[frozenset(renamed.values())] == STACK[key], (key, sorted(renamed))
    replaced = {what for name, what in renamed.items() if name in before and name in after}
    consumers = {"system pool": AGENT_POOL, "user pool": AGENT_POOL, "vault": VAULT}
    for what in replaced:
        assert all(r.delete_before_replace is False for r in changed.of_type(consumers[what])), what
    if renamed:
        assert changed.one(CLUSTER).inputs == base.one(CLUSTER).inputs
