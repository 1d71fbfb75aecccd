"""The type checker `make test` runs holds a dict passed to a provider to the provider's own ...ArgsDict.

It runs basedpyright with the project's own configuration (pyproject.toml) on a small program written for the
test: a configuration that stopped checking dict keys, or a checker that could not see the providers' types,
would let the misspelt keys through and fail this test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKER = Path(sys.executable).parent / "basedpyright"

PROGRAM = """\
import pulumi_kubernetes as k8s
from pulumi_azure_native import containerservice

from aks_workload_identity import facts

containerservice.ManagedCluster(
    "aks",
    resource_group_name="rg",
    agent_pool_profiles=[{"name": "system", "vm_size": "Standard_D4ds_v5", "max_pods": 110}],
    oidc_issuer_profile={"enabled": True},
)
k8s.core.v1.Pod(
    "pod",
    spec={"containers": [{"name": "app", "image": "app:1"}], "automount_service_account_token": False},
)
print(facts.WORKLOAD_IDENTITY_USE_LABEL)
"""
#: A misspelling in each kind of argument: a list of dicts, a dict, a dict nested in a Kubernetes spec.
MISSPELT = {
    '"max_pods": 110': '"max_pod": 110',
    '{"enabled": True}': '{"enable": True}',
    '"automount_service_account_token"': '"automount_service_account_tokens"',
}


def check(tmp_path: Path, sources: dict[str, str]) -> dict[str, list[dict]]:
    """Each program's errors, by file name: one checker run for all of them, which loads the providers' types once."""
    programs = []
    for name, source in sources.items():
        programs.append(tmp_path / name)
        programs[-1].write_text(source)
    run = subprocess.run(
        [CHECKER, "--project", ROOT / "pyproject.toml", "--pythonpath", sys.executable, "--outputjson", *programs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(run.stdout)
    assert report["summary"]["filesAnalyzed"] == len(sources), run.stdout
    errors: dict[str, list[dict]] = {name: [] for name in sources}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            errors[Path(diagnostic["file"]).name].append(diagnostic)
    return errors


def test_the_checker_refuses_a_misspelt_key_in_a_dict_passed_to_either_provider(tmp_path: Path) -> None:
    misspelt = PROGRAM
    for right, wrong in MISSPELT.items():
        assert misspelt.count(right) == 1, right
        misspelt = misspelt.replace(right, wrong)
    errors = check(tmp_path, {"program.py": PROGRAM, "misspelt.py": misspelt})
    assert errors["program.py"] == [], "the correctly spelt program must pass"
    lines = misspelt.splitlines()
    flagged = {lines[e["range"]["start"]["line"]] for e in errors["misspelt.py"]}
    assert flagged == {next(line for line in lines if wrong in line) for wrong in MISSPELT.values()}
