"""AppImage, built alone, and the content hash that decides when it rebuilds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BUILD, RANDOM_STRING, REGISTRY

from aks_workload_identity import AppImage, AppImageArgs, ImageRegistry, ImageRegistryArgs, facts
from aks_workload_identity.image import TAG_LENGTH, base_images, build_script, context_hash
from twin.mocks import SUBSCRIPTION_ID, run

APP_DIR = Path(__file__).resolve().parent.parent / "app"


BASE = "docker.io/library/python:3.11.14-slim-bookworm@sha256:" + "c" * 64


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "Dockerfile").write_text(f"ARG BASE={BASE}\nFROM ${{BASE}}\n")
    (tmp_path / "pkg" / "main.py").write_text("print('hi')\n")
    # Comments first, as in the app's own file: every rule after them still applies.
    (tmp_path / ".dockerignore").write_text("# caches\n\n**/__pycache__\n# tests\n*.pyc\ntests\n!tests/keep.txt\n")
    return tmp_path


REGISTRY_ID = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg1"
)


def build(context_dir: str):
    args = AppImageArgs(
        registry_id=REGISTRY_ID,
        registry_name="reg1",
        login_server="reg1.azurecr.io",
        context_dir=context_dir,
        repository="secret-reader",
    )
    return run(lambda: AppImage("app", args))


def test_registry_is_private_with_a_valid_name_from_prefix_and_suffix():
    program = run(
        lambda: ImageRegistry("app", ImageRegistryArgs(resource_group_name="rg", location="eastus", sku="Premium"))
    )
    registry = program.one(REGISTRY).inputs
    assert (registry["adminUserEnabled"], registry["anonymousPullEnabled"]) == (False, False)
    assert registry["sku"] == {"name": "Premium"}
    suffix = program.one(RANDOM_STRING)
    assert registry["registryName"] == "app" + suffix.outputs["result"]
    assert facts.REGISTRY_NAME_RULE.match(registry["registryName"])
    # A new location or resource group replaces the registry: it gets a new name, so the two never collide.
    assert suffix.inputs["keepers"] == {"location": "eastus", "resource_group": "rg"}


def test_build_imports_the_pinned_base_then_builds_and_prints_the_digest(context):
    program = build(str(context))
    command = program.one(BUILD).inputs
    tag = context_hash(context)[:TAG_LENGTH]
    assert command["environment"] == {
        "SUBSCRIPTION": SUBSCRIPTION_ID,
        "REGISTRY": "reg1",
        "LOGIN_SERVER": "reg1.azurecr.io",
        "IMAGE": f"secret-reader:{tag}",
        "CONTEXT": str(context),
    }
    assert command["triggers"] == [tag, REGISTRY_ID]
    lines = command["create"].splitlines()
    registry = '--subscription "$SUBSCRIPTION" --name "$REGISTRY"'
    digest = "sha256:" + "c" * 64
    assert lines == [
        "set -eu",
        f"az acr repository show {registry} --image library/python@{digest} >/dev/null 2>&1 || "
        f"az acr import {registry} --source docker.io/library/python@{digest} "
        "--image library/python:3.11.14-slim-bookworm --force >&2",
        'az acr build --subscription "$SUBSCRIPTION" --registry "$REGISTRY" --image "$IMAGE" '
        f'--build-arg "BASE=$LOGIN_SERVER/library/python@{digest}" "$CONTEXT" >&2',
        f'az acr repository show {registry} --image "$IMAGE" --query digest --output tsv',
    ]


def test_build_script_runs_as_a_shell_script_and_prints_only_the_digest(context, tmp_path_factory):
    """The script, run by a real shell against a stand-in `az` that records its arguments."""
    import os
    import subprocess

    bin_dir = tmp_path_factory.mktemp("bin")
    log = bin_dir / "calls"
    (bin_dir / "az").write_text(
        f"""#!/bin/sh
echo "$*" >> {log}
case "$*" in
  "acr repository show"*"library/python@"*) exit 1 ;;
  "acr repository show"*) echo sha256:{"d" * 64} ;;
  *) echo "build log line" ;;
esac
"""
    )
    (bin_dir / "az").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SUBSCRIPTION": "s1",
        "REGISTRY": "reg",
        "LOGIN_SERVER": "reg.azurecr.io",
        "IMAGE": "app:1",
        "CONTEXT": str(context),
    }
    result = subprocess.run(
        ["sh", "-c", build_script(base_images(context))], env=env, capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sha256:{'d' * 64}\n"
    calls = log.read_text().splitlines()
    assert [c.split()[:2] for c in calls] == [
        ["acr", "repository"],
        ["acr", "import"],
        ["acr", "build"],
        ["acr", "repository"],
    ]
    assert f"BASE=reg.azurecr.io/library/python@sha256:{'c' * 64}" in calls[2]


def test_a_build_that_prints_no_digest_stops_the_deploy(context):
    from twin import mocks

    original = mocks._ANSWERS[BUILD]
    mocks._ANSWERS[BUILD] = lambda name, inputs: (name, {**inputs, "stdout": "Run ID: ca1 was successful\n"})
    try:
        with pytest.raises(Exception, match="where the image's digest"):
            build(str(context))
    finally:
        mocks._ANSWERS[BUILD] = original


def test_the_apps_base_image_is_pinned_by_digest():
    (base,) = base_images(APP_DIR)
    assert base.arg == "PYTHON_IMAGE"
    assert base.source.startswith("docker.io/library/python@sha256:")


def test_hash_changes_with_any_file_of_the_context(context):
    before = context_hash(context)
    (context / "pkg" / "main.py").write_text("print('bye')\n")
    changed = context_hash(context)
    (context / "pkg" / "main.py").rename(context / "pkg" / "other.py")
    renamed = context_hash(context)
    (context / "Dockerfile").write_text("FROM scratch\n")
    new_dockerfile = context_hash(context)
    assert len({before, changed, renamed, new_dockerfile}) == 4


def test_hash_ignores_what_dockerignore_keeps_out_of_the_upload(context):
    before = context_hash(context)
    (context / "pkg" / "__pycache__").mkdir()
    (context / "pkg" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (context / "tests").mkdir()
    (context / "tests" / "test_x.py").write_text("")
    (context / "top.pyc").write_bytes(b"\0")
    assert context_hash(context) == before
    (context / "tests" / "keep.txt").write_text("kept by an exception rule")
    assert context_hash(context) != before


def test_hash_covers_files_a_gitignore_would_hide(context):
    """The upload is decided by .dockerignore alone: when in doubt, hash more."""
    before = context_hash(context)
    (context / ".gitignore").write_text("local.env\n")
    (context / "local.env").write_text("X=1\n")
    assert context_hash(context) != before


def test_hash_is_the_same_for_a_copy_elsewhere(context, tmp_path_factory):
    copy = tmp_path_factory.mktemp("copy") / "ctx"
    shutil.copytree(context, copy)
    assert context_hash(copy) == context_hash(context)


def test_the_apps_own_context_leaves_out_tests_and_caches():
    assert (APP_DIR / "Dockerfile").exists()
    cache = APP_DIR / "secret_reader" / "__pycache__"
    cache.mkdir(exist_ok=True)
    marker = cache / "hash-probe.pyc"
    before = context_hash(APP_DIR)
    marker.write_bytes(b"\0")
    try:
        assert context_hash(APP_DIR) == before
    finally:
        marker.unlink()
