"""AppImage, built alone, and the content hash that decides when it rebuilds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BUILD, REGISTRY

from components import AppImage, AppImageArgs, facts
from components.image import TAG_LENGTH, context_hash
from twin.mocks import SUBSCRIPTION_ID, run

APP_DIR = Path(__file__).resolve().parent.parent / "app"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (tmp_path / "pkg" / "main.py").write_text("print('hi')\n")
    (tmp_path / ".dockerignore").write_text("**/__pycache__\n*.pyc\ntests\n!tests/keep.txt\n")
    return tmp_path


def build(context_dir: str):
    return run(
        lambda: AppImage("app", AppImageArgs(resource_group_name="rg", location="eastus", context_dir=context_dir))
    )


def test_registry_is_private_with_a_valid_unique_name():
    program = build(str(APP_DIR))
    registry = program.one(REGISTRY).inputs
    assert registry["adminUserEnabled"] is False
    assert facts.REGISTRY_NAME_RULE.match(registry["registryName"])


def test_build_runs_az_acr_build_on_the_context_tagged_by_its_hash(context):
    program = build(str(context))
    command = program.one(BUILD).inputs
    tag = context_hash(context)[:TAG_LENGTH]
    assert command["create"].startswith("az acr build ")
    assert command["environment"] == {
        "SUBSCRIPTION": SUBSCRIPTION_ID,
        "REGISTRY": program.one(REGISTRY).outputs["name"],
        "IMAGE": f"secret-reader:{tag}",
        "CONTEXT": str(context),
    }
    assert command["triggers"] == [tag, program.one(REGISTRY).outputs["id"]]


def test_hash_changes_with_any_file_of_the_context(context):
    before = context_hash(context)
    (context / "pkg" / "main.py").write_text("print('bye')\n")
    changed = context_hash(context)
    (context / "pkg" / "main.py").rename(context / "pkg" / "other.py")
    renamed = context_hash(context)
    assert len({before, changed, renamed}) == 3


def test_hash_ignores_what_dockerignore_keeps_out_of_the_upload(context):
    before = context_hash(context)
    (context / "pkg" / "__pycache__").mkdir()
    (context / "pkg" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (context / "tests").mkdir()
    (context / "tests" / "test_x.py").write_text("")
    assert context_hash(context) == before
    (context / "tests" / "keep.txt").write_text("kept by an exception rule")
    assert context_hash(context) != before


def test_hash_is_the_same_for_a_copy_elsewhere(context, tmp_path_factory):
    copy = tmp_path_factory.mktemp("copy") / "ctx"
    shutil.copytree(context, copy)
    assert context_hash(copy) == context_hash(context)


def test_the_apps_own_context_has_a_dockerfile():
    assert (APP_DIR / "Dockerfile").exists()
    assert len(context_hash(APP_DIR)) == 64
