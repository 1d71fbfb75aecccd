"""AppImage, built alone, and the content hash that decides when it rebuilds; then the ImageRegistry it builds in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pulumi
import pytest
from conftest import BUILD, RANDOM_STRING, REGISTRY, ROLE_ASSIGNMENT

from aks_workload_identity import AppImage, AppImageArgs, ImageRegistry, ImageRegistryArgs, facts
from aks_workload_identity.image import (
    TAG_LENGTH,
    TASKS_REFUSED,
    BaseImage,
    base_images,
    build_script,
    context_hash,
)
from twin.mocks import ACR_TOKEN, DEPLOYER_OBJECT_ID, SUBSCRIPTION_ID, Program, run

APP_DIR = Path(__file__).resolve().parent.parent / "app"
DOCKER_IMAGE = "docker-build:index:Image"


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


def build(context_dir: str | None = None, **extra: str) -> Program:
    """Builds an `AppImage` inside a parent component and exports its `image_ref`."""
    args = AppImageArgs(registry_id=REGISTRY_ID, registry_name="reg1", login_server="reg1.azurecr.io", **extra)
    if context_dir is not None:
        args["context_dir"] = context_dir

    def program() -> None:
        parent = pulumi.ComponentResource("test:index:Parent", "parent")
        pulumi.export("image_ref", AppImage("app", args, pulumi.ResourceOptions(parent=parent)).image_ref)

    return run(program)


def test_build_imports_the_pinned_base_then_builds_and_prints_the_digest(context):
    program = build(str(context), repository="orders")
    build_command = program.one(BUILD)
    command = build_command.inputs
    tag = context_hash(context)[:TAG_LENGTH]
    assert command["environment"] == {
        "SUBSCRIPTION": SUBSCRIPTION_ID,
        "REGISTRY": "reg1",
        "LOGIN_SERVER": "reg1.azurecr.io",
        "IMAGE": f"orders:{tag}",
        "CONTEXT": str(context),
    }
    # The workload runs the image by the digest the build printed, in the registry's own repository.
    assert program.exports["image_ref"] == f"reg1.azurecr.io/orders@{build_command.outputs['stdout'].strip()}"
    # The build is the component's child, and the component its caller's.
    image = program.one("wi:index:AppImage")
    assert build_command.parent == image.urn
    assert image.parent == program.one("test:index:Parent").urn
    assert command["triggers"] == [tag, REGISTRY_ID]
    lines = command["create"].splitlines()
    registry = '--subscription "$SUBSCRIPTION" --name "$REGISTRY"'
    digest = "sha256:" + "c" * 64
    assert lines == [
        "set -eu",
        f"az acr repository show {registry} --image library/python@{digest} >/dev/null 2>&1 || "
        f"az acr import {registry} --source docker.io/library/python@{digest} "
        "--image library/python:3.11.14-slim-bookworm --force >&2",
        'log="$(mktemp)"',
        'status="$(mktemp)"',
        '{ if az acr build --subscription "$SUBSCRIPTION" --registry "$REGISTRY" --image "$IMAGE" '
        f'--build-arg "BASE=$LOGIN_SERVER/library/python@{digest}" "$CONTEXT" 2>&1; '
        'then code=0; else code=$?; fi; echo "$code" >"$status"; } | tee "$log" >&2',
        'if [ "$(cat "$status")" != 0 ]; then',
        f'  if grep -q TasksOperationsNotAllowed "$log"; then echo "{TASKS_REFUSED}" >&2; fi',
        '  rm -f "$log" "$status"',
        "  exit 1",
        "fi",
        'rm -f "$log" "$status"',
        f'az acr repository show {registry} --image "$IMAGE" --query digest --output tsv',
    ]
    # The ACR builder alone: no local build, no push grant, no registry token.
    assert program.of_type(DOCKER_IMAGE) == [] and program.of_type(ROLE_ASSIGNMENT) == [] and program.invokes == []


PUSH_ACCESS_ID = f"{REGISTRY_ID}/providers/Microsoft.Authorization/roleAssignments/push"


def test_local_builder_builds_here_pushes_with_a_registry_token_and_runs_by_digest(context):
    program = build(str(context), repository="orders", builder="local", push_access_id=PUSH_ACCESS_ID)
    tag = context_hash(context)[:TAG_LENGTH]
    image = program.one(DOCKER_IMAGE)
    assert image.name == "app-build" and image.parent == program.one("wi:index:AppImage").urn
    declared = ["context", "platforms", "push", "tags", "buildOnPreview", "registries"]
    assert {key: image.inputs[key] for key in declared} == {
        "context": {"location": str(context)},
        "platforms": ["linux/amd64"],
        "push": True,
        # The same content hash as the ACR build's tag: unchanged code, no new build.
        "tags": [f"reg1.azurecr.io/orders:{tag}"],
        "buildOnPreview": False,
        "registries": [
            {"address": "reg1.azurecr.io", "username": facts.ACR_TOKEN_USERNAME, "password": ACR_TOKEN},
        ],
    }
    # The workload runs the image by the digest the registry reports.
    assert program.exports["image_ref"] == f"reg1.azurecr.io/orders@{image.outputs['digest']}"
    # No ACR Task: no build command, no base image import.
    assert program.of_type(BUILD) == []
    # The token: asked of the Azure CLI afresh, never logged, secret wherever it goes.
    (login,) = [i for i in program.invokes if i.token == "command:local:run"]
    assert login.args["command"] == (
        'az acr login --subscription "$SUBSCRIPTION" --name "$REGISTRY" --expose-token --output tsv --query accessToken'
    )
    assert (login.args["environment"], login.args["logging"]) == (
        {"SUBSCRIPTION": SUBSCRIPTION_ID, "REGISTRY": "reg1"},
        "none",
    )
    # The secret password makes the whole `registries` list secret when it is sent.
    assert image.secret_inputs == ["registries"]
    assert ACR_TOKEN not in repr(program.exports)


def test_local_builder_grants_nothing_itself_and_needs_the_registrys_push_access(context):
    """The deployer's AcrPush is the registry's, once (ARM allows one per principal, role and scope)."""
    program = build(str(context), builder="local", push_access_id=PUSH_ACCESS_ID)
    assert program.of_type(ROLE_ASSIGNMENT) == []
    with pytest.raises(Exception, match=re.escape("builder 'local' needs push_access_id")):
        build(str(context), builder="local")


def two_local_builds(context: Path, **extra: str) -> Program:
    """One registry granting the deployer AcrPush, and two repositories built locally in it."""

    def program() -> None:
        registry = ImageRegistry("app", ImageRegistryArgs(resource_group_name="rg", location="eastus", **extra))
        assert registry.push_access_id is not None
        for repository in ("orders", "billing"):
            args = AppImageArgs(
                registry_id=registry.registry_id,
                registry_name=registry.registry_name,
                login_server=registry.login_server,
                context_dir=str(context),
                repository=repository,
                builder="local",
                push_access_id=registry.push_access_id,
            )
            pulumi.export(repository, AppImage(repository, args).image_ref)

    return run(program)


def test_two_local_builds_share_one_acr_push_grant_and_each_push_waits_for_it(context):
    program = two_local_builds(context, deployer_push=True)
    # One grant: a second with the same principal, role and scope would be refused (RoleAssignmentExists).
    (grant,) = program.of_type(ROLE_ASSIGNMENT)
    assert grant.parent == program.one("wi:index:ImageRegistry").urn
    assert {k: grant.inputs[k] for k in ("principalId", "principalType", "roleDefinitionId", "scope")} == {
        # Who runs `pulumi up`, as Azure signs them in.
        "principalId": DEPLOYER_OBJECT_ID,
        "principalType": "User",
        "roleDefinitionId": facts.role_definition_id(SUBSCRIPTION_ID, facts.ACR_PUSH),
        "scope": program.one(REGISTRY).outputs["id"],
    }
    # Each push signs in with a token asked for only once the grant exists.
    images = program.of_type(DOCKER_IMAGE)
    assert len(images) == 2
    for image in images:
        assert grant.urn in image.dependencies, image.name


def test_registry_grants_a_named_deployer_without_asking_azure(context):
    deployer = "11111111-2222-4333-8444-555555555555"
    program = two_local_builds(
        context, deployer_push=True, deployer_object_id=deployer, deployer_principal_type="ServicePrincipal"
    )
    (grant,) = program.of_type(ROLE_ASSIGNMENT)
    assert (grant.inputs["principalId"], grant.inputs["principalType"]) == (deployer, "ServicePrincipal")
    assert {i.token for i in program.invokes} == {"command:local:run"}


def test_local_build_is_tagged_anew_when_the_context_changes(context):
    before = build(str(context), builder="local", push_access_id=PUSH_ACCESS_ID).one(DOCKER_IMAGE).inputs["tags"]
    (context / "pkg" / "main.py").write_text("print('bye')\n")
    after = build(str(context), builder="local", push_access_id=PUSH_ACCESS_ID).one(DOCKER_IMAGE).inputs["tags"]
    assert before != after and after == [f"reg1.azurecr.io/secret-reader:{context_hash(context)[:TAG_LENGTH]}"]


def test_an_unknown_builder_is_refused_by_name(context):
    with pytest.raises(Exception, match=re.escape("builder 'docker': must be one of acr, local")):
        build(str(context), builder="docker")


def test_build_defaults_to_the_app_directory_and_the_secret_reader_repository(context, tmp_path_factory, monkeypatch):
    """`pulumi up` runs in the project directory, where the app's context is `app`."""
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(context, project / "app")
    monkeypatch.chdir(project)
    program = build()
    environment = program.one(BUILD).inputs["environment"]
    tag = context_hash(context)[:TAG_LENGTH]
    assert (environment["IMAGE"], environment["CONTEXT"]) == (f"secret-reader:{tag}", "app")
    assert program.exports["image_ref"].startswith("reg1.azurecr.io/secret-reader@sha256:")


def test_every_pinned_base_is_imported_and_passed_to_the_build(tmp_path):
    digests = ["sha256:" + c * 64 for c in "abc"]
    untagged = "base-" + "b" * 12
    (tmp_path / "Dockerfile").write_text(
        f"ARG BUILDER=mcr.microsoft.com/dotnet/sdk:8.0@{digests[0]}\n"
        # Without a tag, the registry's copy is tagged after the digest.
        f"ARG RUNTIME=docker.io/library/python@{digests[1]}\n"
        # Not pinned by digest, or not an image: built as written, nothing imported.
        "ARG UNPINNED=docker.io/library/python:3.11\n"
        f"FROM docker.io/library/alpine@{digests[2]}\n"
        "FROM ${RUNTIME}\n"
    )
    bases = base_images(tmp_path)
    assert bases == [
        BaseImage("BUILDER", f"mcr.microsoft.com/dotnet/sdk@{digests[0]}", "dotnet/sdk", "8.0", digests[0]),
        BaseImage("RUNTIME", f"docker.io/library/python@{digests[1]}", "library/python", untagged, digests[1]),
    ]
    lines = build_script(bases).splitlines()
    assert lines[2].endswith(
        f"--source docker.io/library/python@{digests[1]} --image library/python:{untagged} --force >&2"
    )
    assert lines[5] == (
        '{ if az acr build --subscription "$SUBSCRIPTION" --registry "$REGISTRY" --image "$IMAGE" '
        f'--build-arg "BUILDER=$LOGIN_SERVER/dotnet/sdk@{digests[0]}" '
        f'--build-arg "RUNTIME=$LOGIN_SERVER/library/python@{digests[1]}" "$CONTEXT" 2>&1; '
        'then code=0; else code=$?; fi; echo "$code" >"$status"; } | tee "$log" >&2'
    )


def run_build_script(context: Path, bin_dir: Path, on_build: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """The build script, run by a real shell against a stand-in `az` that records its arguments; `on_build` is
    the shell that answers `az acr build`. Returns the run and the `az` calls."""
    log = bin_dir / "calls"
    (bin_dir / "az").write_text(
        f"""#!/bin/sh
echo "$*" >> {log}
case "$*" in
  "acr repository show"*"library/python@"*) exit 1 ;;
  "acr repository show"*) echo sha256:{"d" * 64} ;;
  "acr build"*) {on_build} ;;
  *) echo "import log line" ;;
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
    return result, log.read_text().splitlines()


def test_build_script_runs_as_a_shell_script_and_prints_only_the_digest(context, tmp_path_factory):
    result, calls = run_build_script(context, tmp_path_factory.mktemp("bin"), 'echo "Step 1/9 : FROM python"')
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sha256:{'d' * 64}\n"
    # The build's log is shown, on stderr.
    assert result.stderr == "import log line\nStep 1/9 : FROM python\n"
    assert [c.split()[:2] for c in calls] == [
        ["acr", "repository"],
        ["acr", "import"],
        ["acr", "build"],
        ["acr", "repository"],
    ]
    assert f"BASE=reg.azurecr.io/library/python@sha256:{'c' * 64}" in calls[2]


def test_the_build_log_streams_while_az_acr_build_runs(context, tmp_path_factory):
    """A build of minutes shows its steps as they happen, not all at the end."""
    bin_dir = tmp_path_factory.mktemp("bin")
    go_on = bin_dir / "go-on"
    on_build = f'echo "Step 1/9 : FROM python"; while [ ! -e {go_on} ]; do sleep 0.05; done; echo "Step 2/9"'
    run_build_script(context, bin_dir, "true")  # writes the stand-in az
    (bin_dir / "az").write_text(
        (bin_dir / "az").read_text().replace('"acr build"*) true ;;', f'"acr build"*) {on_build} ;;')
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SUBSCRIPTION": "s1", "REGISTRY": "reg"}
    env |= {"LOGIN_SERVER": "reg.azurecr.io", "IMAGE": "app:1", "CONTEXT": str(context)}
    script = build_script(base_images(context))
    process = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Should the log not stream, the build is let go on after 5 s, and the test fails.
    watchdog = threading.Timer(5, go_on.write_text, ["watchdog"])
    watchdog.start()
    try:
        assert process.stderr is not None
        seen = [process.stderr.readline(), process.stderr.readline()]
        streamed = not go_on.exists()
        go_on.write_text("test")
        out, rest = process.communicate(timeout=10)
    finally:
        watchdog.cancel()
    assert seen == ["import log line\n", "Step 1/9 : FROM python\n"]
    assert streamed, "the build's first line came only after the build went on"
    assert (process.returncode, out, rest) == (0, f"sha256:{'d' * 64}\n", "Step 2/9\n")


#: What the Azure CLI prints when the subscription refuses ACR Tasks (a free-trial or free-credit offer).
TASKS_REFUSED_BY_AZURE = """\
Packing source code into tar to upload...
Uploading archived source code from '/tmp/build_archive_0a1b.tar.gz'...
Sending context (12.345 KiB) to registry: reg...
(TasksOperationsNotAllowed) ACR Tasks requests for the registry reg and 00000000-1111-2222-3333-444444444444 are \
not permitted. Please file an Azure support request at http://aka.ms/azuresupport for assistance.
Code: TasksOperationsNotAllowed
Message: ACR Tasks requests for the registry reg and 00000000-1111-2222-3333-444444444444 are not permitted."""


def test_a_subscription_without_acr_tasks_ends_the_build_with_one_line_saying_what_to_do(context, tmp_path_factory):
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "refusal").write_text(TASKS_REFUSED_BY_AZURE + "\n")
    result, calls = run_build_script(context, bin_dir, f"cat {bin_dir / 'refusal'} >&2; exit 1")
    assert result.returncode == 1
    # The import's own line, the Azure CLI's refusal as it streamed, then the one line saying what to do.
    assert result.stderr == f"import log line\n{TASKS_REFUSED_BY_AZURE}\n{TASKS_REFUSED}\n"
    assert "builder: local" in TASKS_REFUSED and "\n" not in TASKS_REFUSED
    assert result.stdout == ""
    # Nothing after the refused build: no digest is read.
    assert calls[-1].startswith("acr build")


def test_any_other_failed_build_shows_its_whole_log(context, tmp_path_factory):
    result, _ = run_build_script(context, tmp_path_factory.mktemp("bin"), 'echo "RUN pip install: exit code 1"; exit 2')
    assert result.returncode == 1
    assert result.stderr == "import log line\nRUN pip install: exit code 1\n"
    assert result.stdout == ""


def test_a_build_that_prints_no_digest_stops_the_deploy(context):
    from twin import mocks

    original = mocks._ANSWERS[BUILD]
    mocks._ANSWERS[BUILD] = lambda name, inputs: (name, {**inputs, "stdout": "Run ID: ca1 was successful\n"})
    try:
        message = (
            "the image build reported 'Run ID: ca1 was successful' where the image's digest (sha256:...) was expected"
        )
        with pytest.raises(Exception, match=re.escape(message)):
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


def test_hash_covers_the_dockerfile_even_when_dockerignore_leaves_it_out(context):
    """Docker sends the Dockerfile whatever .dockerignore says, so a new Dockerfile is a new build."""
    (context / ".dockerignore").write_text("Dockerfile\n")
    before = context_hash(context)
    (context / "Dockerfile").write_text("FROM scratch\n")
    assert context_hash(context) != before


def test_hash_reads_dockerignore_comments_as_comments(context):
    """A `#` line is a comment, not a pattern: a file named like it is uploaded, so it is hashed."""
    (context / ".dockerignore").write_text("#notes.md\n")
    (context / "#notes.md").write_text("v1\n")
    before = context_hash(context)
    (context / "#notes.md").write_text("v2\n")
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


# --- ImageRegistry (components/registry.py) ------------------------------------------------------------------------


def registry(name: str = "app", **extra: str) -> Program:
    """Builds an `ImageRegistry` inside a parent component and exports its three outputs."""

    def program() -> None:
        parent = pulumi.ComponentResource("test:index:Parent", "parent")
        args = ImageRegistryArgs(resource_group_name="rg", location="eastus", **extra)
        component = ImageRegistry(name, args, pulumi.ResourceOptions(parent=parent))
        pulumi.export("registry_id", component.registry_id)
        pulumi.export("registry_name", component.registry_name)
        pulumi.export("login_server", component.login_server)

    return run(program)


def test_registry_is_private_with_a_valid_name_from_prefix_and_suffix():
    program = registry(sku="Premium")
    registry_resource = program.one(REGISTRY)
    suffix = program.one(RANDOM_STRING)
    declared = ["registryName", "resourceGroupName", "location", "sku", "adminUserEnabled", "anonymousPullEnabled"]
    # The provider adds defaults of its own (zone redundancy, network access); these are the component's.
    assert {key: registry_resource.inputs[key] for key in declared} == {
        "registryName": "app" + suffix.outputs["result"],
        "resourceGroupName": "rg",
        "location": "eastus",
        "sku": {"name": "Premium"},
        "adminUserEnabled": False,
        "anonymousPullEnabled": False,
    }
    assert facts.REGISTRY_NAME_RULE.match(registry_resource.inputs["registryName"])
    # Ten lowercase letters and digits: a registry name allows no symbols (facts.REGISTRY_NAME_RULE).
    # A new location or resource group replaces the registry: it gets a new name, so the two never collide.
    assert suffix.inputs == {
        "length": 10,
        "special": False,
        "upper": False,
        "keepers": {"location": "eastus", "resource_group": "rg"},
    }
    component = program.one("wi:index:ImageRegistry")
    assert component.parent == program.one("test:index:Parent").urn
    assert (registry_resource.parent, suffix.parent) == (component.urn, component.urn)
    # What image builds and AcrPull grants use: the registry Azure created.
    assert program.exports == {
        "registry_id": registry_resource.outputs["id"],
        "registry_name": registry_resource.outputs["name"],
        "login_server": registry_resource.outputs["loginServer"],
    }


def test_registry_sku_defaults_to_basic():
    program = registry()
    assert program.one(REGISTRY).inputs["sku"] == {"name": "Basic"}
    # No local build, no deployer grant.
    assert program.of_type(ROLE_ASSIGNMENT) == []


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("app", "app"),
        # Only lowercase letters and digits of the component's name are kept (facts.REGISTRY_NAME_RULE).
        ("My-App_2", "myapp2"),
        # At most 30 of them, so prefix and suffix stay within the 50 characters allowed.
        ("x" * 29 + "yz", "x" * 29 + "y"),
        # A name with none of them still gives the registry a name of at least 5 characters.
        ("--", "acr"),
    ],
)
def test_registry_name_is_the_components_name_made_valid(name, prefix):
    program = registry(name)
    registry_name = program.one(REGISTRY).inputs["registryName"]
    assert registry_name == prefix + program.one(RANDOM_STRING).outputs["result"]
    assert facts.REGISTRY_NAME_RULE.match(registry_name)
