"""The components imported by another program: the docs' examples run as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from conftest import CREDENTIAL, ROLE_ASSIGNMENT, SECRET, VAULT

import settings
from twin.mocks import run, run_program

DOCS = Path(__file__).resolve().parent.parent / "docs"


def readme_example() -> str:
    section = (DOCS / "components.md").read_text().split("## Using the components in your own program", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_program_federates_its_own_service_account():
    program = run(lambda: exec(readme_example(), {"__name__": "example"}), {"dbPassword": "s3cret-value"})
    credential = program.one(CREDENTIAL).inputs
    assert credential["subject"] == "system:serviceaccount:orders:orders-api"
    assert credential["issuer"].endswith("/")
    (grant,) = [r.inputs for r in program.of_type(ROLE_ASSIGNMENT)]
    assert grant["scope"] == program.one(VAULT).outputs["id"]
    assert program.one(SECRET).inputs["secretName"] == "db-password"
    assert "s3cret-value" not in repr(program.exports)
    assert set(program.exports) == {"client_id"}


def readme_workload_example() -> list[dict]:
    section = (DOCS / "workloads.md").read_text()
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))


def test_readme_worked_example_adds_a_workload_by_config_alone():
    (orders,) = readme_workload_example()
    reader = settings.DEFAULT_WORKLOADS[0]
    program = run_program({"workloads": json.dumps([reader, orders]), "ordersDbPassword": "from-config"})
    assert sorted(program.exports["workloads"]) == ["orders", "reader"]
    secrets = {s.inputs["secretName"]: s for s in program.of_type(SECRET)}
    assert secrets["db-password"].inputs["properties"]["value"] == "from-config"
    credentials = {c.inputs["subject"] for c in program.of_type(CREDENTIAL)}
    assert {"system:serviceaccount:orders:orders-api", "system:serviceaccount:orders:orders-worker"} <= credentials
    # The reader is declared exactly as without the new workload.
    alone = run_program({"workloads": json.dumps([reader])})
    assert {r.urn: r.inputs for r in alone.resources if "reader" in r.urn} == {
        r.urn: r.inputs for r in program.resources if "reader" in r.urn
    }
