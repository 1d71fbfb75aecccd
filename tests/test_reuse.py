"""The components imported by another program: the README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import CREDENTIAL, ROLE_ASSIGNMENT, SECRET, VAULT

from twin.mocks import run

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## Using the components in your own program", 1)[1]
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
