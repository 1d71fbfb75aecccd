"""`make checkov`: Checkov's Azure checks on what a stack declares, with the waivers docs/production.md gives.

Checkov reads ARM templates, not Pulumi programs, so this script runs the program under the twin's recording mocks
(as the tests do, no Azure needed), writes the Azure resources Checkov has checks for as one ARM template, runs
Checkov's `arm` framework on it, and compares the failed checks with the tables of docs/production.md's "Checkov"
section: a row `| CKV_AZURE_<n> | ... |` is a waiver, or, under its "False positives" heading, a check that fails
on a setting the stack does make (Checkov's mistake, said why in the row). It prints each failed check beside its
row, and exits 1 when one has no row, or when more checks fail than `--max-failed` allows, false positives apart.

    python tests/checkov_stack.py --stack prod [--checkov .venv-checkov/bin/checkov] [--keep template.json]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from twin.mocks import Registration, run_program  # noqa: E402

WAIVERS = ROOT / "docs" / "production.md"
#: The azure-native resources Checkov's ARM checks look at, as ARM types (Microsoft's template reference).
ARM_TYPES = {
    "azure-native:containerservice:ManagedCluster": "Microsoft.ContainerService/managedClusters",
    "azure-native:containerservice:AgentPool": "Microsoft.ContainerService/managedClusters/agentPools",
    "azure-native:keyvault:Vault": "Microsoft.KeyVault/vaults",
    "azure-native:keyvault:Secret": "Microsoft.KeyVault/vaults/secrets",
    "azure-native:containerregistry:Registry": "Microsoft.ContainerRegistry/registries",
}
#: Inputs that sit beside `properties` in an ARM resource body; azure-native flattens the rest of `properties`
#: into the resource's inputs, except for resources whose inputs keep a `properties` object of their own.
TOP_LEVEL = ("location", "tags", "sku", "identity", "kind", "zones", "extendedLocation")
#: Inputs that name the resource or its parents: the URL path in ARM, not the body.
PATH_INPUTS = frozenset(
    {"resourceGroupName", "resourceName", "agentPoolName", "vaultName", "secretName", "registryName"}
)
_WAIVER_ROW = re.compile(r"^\|\s*`?(CKV_AZURE_\d+)`?\s*\|", re.M)


def arm_resource(r: Registration) -> dict[str, Any]:
    """One registration as an ARM template resource: its type, name and body."""
    inputs = {k: v for k, v in r.inputs.items() if k not in PATH_INPUTS}
    body: dict[str, Any] = {"type": ARM_TYPES[r.type], "apiVersion": "2024-01-01", "name": r.name}
    body.update({k: inputs.pop(k) for k in TOP_LEVEL if k in inputs})
    body["properties"] = inputs.pop("properties") if "properties" in inputs else inputs
    return body


def template(stack: str) -> dict[str, Any]:
    """The stack's Azure resources that Checkov checks, as one ARM template."""
    program = run_program(stack=stack)
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [arm_resource(r) for r in program.resources if r.type in ARM_TYPES],
    }


def waivers(text: str) -> tuple[set[str], set[str]]:
    """The check ids the docs' "Checkov" section waives, and those its "False positives" part lists."""
    section = text.split("## Checkov", 1)[1].split("\n## ", 1)[0] if "## Checkov" in text else ""
    waived, _, false = section.partition("### False positives")
    return set(_WAIVER_ROW.findall(waived)), set(_WAIVER_ROW.findall(false))


def failed_checks(report: Any) -> dict[str, set[str]]:
    """Check id -> the resources that failed it, from Checkov's JSON report (one framework: a dict)."""
    reports = report if isinstance(report, list) else [report]
    failed: dict[str, set[str]] = {}
    for one in reports:
        for check in one.get("results", {}).get("failed_checks", []):
            failed.setdefault(check["check_id"], set()).add(check["resource"])
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--checkov", default=str(ROOT / ".venv-checkov" / "bin" / "checkov"))
    parser.add_argument("--max-failed", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="also write the ARM template here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp, f"{args.stack}.json")
        path.write_text(json.dumps(template(args.stack), indent=2))
        result = subprocess.run(
            [args.checkov, "--quiet", "--compact", "--framework", "arm", "--output", "json", "--file", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    # Checkov exits 1 when a check fails; anything else, or no JSON, is Checkov itself failing.
    if result.returncode not in (0, 1) or not result.stdout.strip().startswith(("{", "[")):
        print(f"checkov failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}", file=sys.stderr)
        return 2
    failed = failed_checks(json.loads(result.stdout))
    waived, false_positives = waivers(WAIVERS.read_text()) if WAIVERS.exists() else (set(), set())
    unwaived = sorted(set(failed) - waived - false_positives)
    real = set(failed) - false_positives
    for check_id in sorted(failed):
        status = "false positive" if check_id in false_positives else "waived" if check_id in waived else "NOT WAIVED"
        print(f"{check_id}: failed on {', '.join(sorted(failed[check_id]))} ({status})")
    print(
        f"{len(real)} failed checks on the {args.stack} stack, {len(failed) - len(real)} false positives apart "
        f"(goal: at most {args.max_failed}, each waived)"
    )
    if unwaived:
        print(f"not waived in {WAIVERS.relative_to(ROOT)}: {', '.join(unwaived)}", file=sys.stderr)
    return 1 if unwaived or len(real) > args.max_failed else 0


if __name__ == "__main__":
    sys.exit(main())
