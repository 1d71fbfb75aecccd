"""Every installer keeps to an environment of its own, and installs only hash-locked pins.

The installers' own commands run here as they run for a user, offline against uv's cache (which `make test` has
just filled): Pulumi's uv toolchain (`pulumi install` runs an exact `uv sync` into Pulumi.yaml's virtualenv; FACTS:
"Pulumi Python toolchains"), `make test`'s install (`make test-env`), and the requirements files that Pulumi's pip
toolchain installs for the provider, the bootstrap and the policy pack (`pip install -r requirements.txt`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
UV = PROJECT_DIR / ".uv" / "bin" / "uv"
MAKEFILE = PROJECT_DIR / "Makefile"
#: What the program needs and the tests do not, and the reverse.
PROGRAM_ONLY = "pulumi-azure-native"
TEST_ONLY = "pytest"

pytestmark = pytest.mark.skipif(not UV.exists(), reason="make test installs the pinned uv first")


def offline(**extra: str) -> dict[str, str]:
    """The environment of a user's shell, with uv kept to its cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    return env | {"UV_OFFLINE": "1"} | extra


def run(command: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result.stdout


def installed(environment: Path) -> set[str]:
    listing = run(
        [UV, "pip", "list", "--python", environment / "bin" / "python", "--format", "freeze"], PROJECT_DIR, offline()
    )
    return {line.split("==")[0].lower() for line in listing.splitlines()}


def project_copy(tmp_path: Path) -> Path:
    """What `uv sync` reads: a copy, so that a plain `uv sync` (which may rewrite uv.lock) never touches the clone."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md", "LICENSE", "Pulumi.yaml"):
        shutil.copy2(PROJECT_DIR / name, copy / name)
    shutil.copytree(
        PROJECT_DIR / "components", copy / "components", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return copy


def program_virtualenv(project: Path) -> Path:
    """Where `pulumi install` puts the program's packages: Pulumi.yaml's `virtualenv`, with the uv toolchain."""
    options = yaml.safe_load((project / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert options["toolchain"] == "uv"
    return project / options["virtualenv"]


def make_variable(name: str) -> str:
    (value,) = re.findall(rf"^{name} \?= (\S+)$", MAKEFILE.read_text(), re.M)
    return value


def test_pulumi_install_and_make_test_leave_each_other_whole_in_either_order(tmp_path):
    project = project_copy(tmp_path)
    program = program_virtualenv(project)
    tests = project / make_variable("TEST_VENV")

    def pulumi_install(environment: Path = program) -> None:
        # Pulumi's uv toolchain: a plain, exact `uv sync`, no groups, UV_PROJECT_ENVIRONMENT set to the virtualenv.
        run([UV, "sync"], project, offline(UV_PROJECT_ENVIRONMENT=str(environment)))

    def make_test_install() -> None:
        run(["make", "-s", "-f", MAKEFILE, "test-env", f"UV={UV}"], project, offline())

    def both_whole() -> None:
        assert PROGRAM_ONLY in installed(program) and TEST_ONLY not in installed(program)
        assert {PROGRAM_ONLY, TEST_ONLY} <= installed(tests)

    # `pulumi install` then `make test`, then `pulumi install` again after `make test`.
    pulumi_install()
    make_test_install()
    both_whole()
    pulumi_install()
    both_whole()

    # Should anything strip the tests' environment (here Pulumi's own command, pointed at it), the next `make test`
    # notices and installs what is missing: it checks what is installed, not a marker file.
    pulumi_install(tests)
    assert TEST_ONLY not in installed(tests)
    make_test_install()
    assert TEST_ONLY in installed(tests)


def requirements(path: Path) -> list[str]:
    """The requirement entries of a requirements file, `-r` includes followed, continuation lines joined."""
    text = re.sub(r"\s*\\\n\s*", " ", path.read_text())
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            entries += requirements(path.parent / line[3:].strip())
        elif line:
            entries.append(line)
    return entries


#: Every requirements file a pip toolchain or `make policy` installs.
PIP_INSTALLED = [
    "requirements.txt",
    "provider/requirements.txt",
    "bootstrap/requirements.txt",
    "policy/requirements.txt",
]


@pytest.mark.parametrize("name", PIP_INSTALLED)
def test_every_pip_requirement_is_an_exact_pin_with_its_hashes(name):
    """pip checks hashes for every requirement once one has a hash, and then refuses an editable or a local
    directory (the components): each entry is `name==version` with hashes, and nothing else."""
    entries = requirements(PROJECT_DIR / name)
    assert entries
    for entry in entries:
        assert re.fullmatch(r"[A-Za-z0-9._-]+==\S+( ; [^-]+)? (--hash=sha256:[0-9a-f]{64} ?)+", entry), entry


@pytest.mark.parametrize("name", PIP_INSTALLED)
def test_each_requirements_file_installs_from_its_hashes_alone(name, tmp_path):
    """Resolved into an empty virtualenv with every requirement pinned and hashed, the transitive ones included
    (uv's pip interface asks the index once, then its cache)."""
    environment = tmp_path / "venv"
    run([UV, "venv", "--quiet", environment], tmp_path, offline())
    online = {k: v for k, v in offline().items() if k != "UV_OFFLINE"}
    run(
        [UV, "pip", "install", "--dry-run", "--require-hashes", "--python", environment / "bin" / "python", "-r", name],
        PROJECT_DIR,
        online,
    )


def test_requirements_txt_is_uv_locks_runtime_set(tmp_path):
    """The command `make lock` ran is in the file's header; run again, it gives the same pins, so the file matches
    uv.lock. When this fails: `make lock`."""
    exported = PROJECT_DIR / "requirements.txt"
    header = re.search(r"^#    (uv export .*)$", exported.read_text(), re.M)
    assert header, "requirements.txt is not uv export's output"
    command = shlex.split(header[1])
    in_makefile = "$(UV) " + header[1].removeprefix("uv ")
    assert in_makefile in MAKEFILE.read_text().replace(" --quiet", ""), "make lock runs another export"
    assert {"--frozen", "--no-default-groups", "--no-emit-project"} <= set(command)
    output = command.index("-o") + 1
    command[output] = str(tmp_path / "requirements.txt")
    run([UV, *command[1:]], PROJECT_DIR, offline())

    def body(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert body(tmp_path / "requirements.txt") == body(exported), "requirements.txt is out of date: run `make lock`"
    names = {entry.split("==")[0] for entry in requirements(exported)}
    assert "pulumi" in names and TEST_ONLY not in names


def test_the_policy_packs_pins_share_the_programs_versions():
    """The policy pack runs the SDK version the tests run it with: its shared pins are uv.lock's."""
    program = {e.split(" ")[0] for e in requirements(PROJECT_DIR / "requirements.txt")}
    policy = {e.split(" ")[0] for e in requirements(PROJECT_DIR / "policy" / "requirements.txt")}
    shared = {pin for pin in policy if pin.split("==")[0] in {p.split("==")[0] for p in program}}
    assert "pulumi==" + next(p for p in program if p.startswith("pulumi==")).split("==")[1] in shared
    assert shared <= program


def test_make_policy_makes_the_virtualenv_the_policy_pack_names():
    """`pulumi preview --policy-pack policy` installs nothing (FACTS: "Local policy packs"): `make policy` makes the
    virtualenv PulumiPolicy.yaml names, with pip (as Pulumi's pip toolchain would), from the hashed pins."""
    options = yaml.safe_load((PROJECT_DIR / "policy" / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
    assert options["toolchain"] == "pip"
    commands = run(["make", "--no-print-directory", "-n", "policy"], PROJECT_DIR, offline()).splitlines()
    venv = f"policy/{options['virtualenv']}"
    assert commands == [
        f"python3 -m venv {venv}",
        f"{venv}/bin/python -m pip install --quiet --require-hashes -r policy/requirements.txt",
    ]


@pytest.mark.parametrize("directory", ["provider", "bootstrap"])
def test_pip_made_virtualenvs_are_their_own(directory):
    """The provider and the bootstrap each get a virtualenv of their own, made by pip: Pulumi's pip toolchain lists
    packages with pip, which the program's uv-made ./venv lacks, and no other installer touches theirs."""
    manifest = "PulumiPlugin.yaml" if directory == "provider" else "Pulumi.yaml"
    options = yaml.safe_load((PROJECT_DIR / directory / manifest).read_text())["runtime"]["options"]
    assert options == {"toolchain": "pip", "virtualenv": "venv"}


def test_the_bootstrap_finds_the_components_in_the_repository():
    """Its virtualenv holds the dependencies, not the components: with this environment's packages but none of their
    `.pth` files (where the editable install lives), the entry point still finds them, in this repository."""
    probe = (
        "import importlib.util, runpy, sys; runpy.run_path(sys.argv[1], run_name='probe'); "
        "print(importlib.util.find_spec('aks_workload_identity').origin)"
    )
    env = offline(PYTHONPATH=sysconfig.get_path("purelib"))
    found = run([sys.executable, "-S", "-c", probe, PROJECT_DIR / "bootstrap"], PROJECT_DIR / "bootstrap", env)
    assert Path(found.strip()) == PROJECT_DIR / "components" / "aks_workload_identity" / "__init__.py"
