"""AppImage: an app's image, built by `pulumi up` in the stack's registry (ACR Tasks) or on the deploying machine."""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict

import pulumi
import pulumi_command as command
import pulumi_docker_build as docker_build
from docker.utils.build import exclude_paths

from aks_workload_identity import facts

#: Characters of the content hash used as the image tag.
TAG_LENGTH = 16
#: `ARG <NAME>=<registry>/<repository>[:<tag>]@sha256:<digest>` in a Dockerfile: a base image pinned by digest.
_BASE_IMAGE_ARG = re.compile(
    r"^ARG\s+(?P<arg>[A-Za-z_][A-Za-z0-9_]*)=(?P<registry>[a-z0-9.-]+\.[a-z]+)/(?P<repository>[a-z0-9._/-]+)"
    r"(?::(?P<tag>[A-Za-z0-9_.-]+))?@(?P<digest>sha256:[0-9a-f]{64})\s*$",
    re.M,
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
#: How an image is built: by ACR Tasks (`az acr build`, no Docker needed), or by Docker on the deploying machine.
BUILDERS = ("acr", "local")
#: The one line the ACR build ends with when the subscription refuses ACR Tasks.
TASKS_REFUSED = (
    f"az acr build was refused: this subscription does not permit ACR Tasks ({facts.ACR_TASKS_REFUSED}, as on "
    "free-trial and free-credit offers). Build on this machine instead: set builder: local in this workload's image "
    "settings (workloads[].image.builder), with Docker running."
)
#: What ACR Tasks build for, and what the local build builds: AKS's Linux nodes on x86-64.
PLATFORM = docker_build.Platform.LINUX_AMD64


class AppImageArgs(TypedDict):
    registry_id: pulumi.Input[str]
    """ARM id of the registry to build in (an `ImageRegistry`'s `registry_id`)."""
    registry_name: pulumi.Input[str]
    """Name of that registry (its `registry_name`)."""
    login_server: pulumi.Input[str]
    """Login server of that registry (its `login_server`)."""
    context_dir: NotRequired[str]
    """The Docker build context, with its Dockerfile, relative to the directory `pulumi` runs in; default `app`. It is
    read while the program runs (its hash is the image's tag), so it is a plain value."""
    repository: NotRequired[str]
    """Repository of the image in the registry; default `secret-reader`."""
    builder: NotRequired[str]
    """`acr` (default): `az acr build` in the registry, no Docker needed; refused on free-trial and free-credit
    subscriptions. `local`: Docker on the deploying machine (pulumi-docker-build), pushing to the registry with the
    deployer's own Entra ID sign-in, which needs `push_access_id`."""
    push_access_id: NotRequired[pulumi.Input[str]]
    """`local` only, and required there: the ARM id of the deployer's AcrPush assignment on the registry (an
    `ImageRegistry`'s with `deployer_push`), which the push waits for. One per registry, however many images."""


@dataclass(frozen=True)
class BaseImage:
    """A base image the Dockerfile takes from a build argument, pinned by digest, and its copy in the registry."""

    arg: str
    source: str
    repository: str
    tag: str
    digest: str


class AppImage(pulumi.ComponentResource):
    """Builds `context_dir` whenever, and only when, its content changes, and pushes it to the stack's registry.

    The tag is a hash of every file the build uploads, so unchanged code means no new build; the workload runs the
    image by the digest the registry reports for it, which nobody can move. Either builder needs the Azure CLI,
    logged in, on the deploying machine.

    `acr`: `az acr build` (an ACR quick run). Base images pinned by digest in the Dockerfile's `ARG`s are imported
    into the registry first and the build takes them from there: ACR Tasks pull from Docker Hub anonymously, which
    it rate-limits (facts: Container registry and image build).

    `local`: pulumi-docker-build's `Image`, with Docker's own BuildKit on this machine, which takes the Dockerfile's
    pinned bases as written. It signs in to the registry with an ACR token from `az acr login --expose-token` (the
    deployer's Entra ID sign-in exchanged for a registry token, about three hours long; the admin user stays off),
    fetched afresh on each run; a new token alone does not rebuild (facts: ACR_TOKEN_USERNAME).
    """

    image_ref: pulumi.Output[str]
    """`<login server>/<repository>@sha256:<digest>`, known once the image is pushed."""

    def __init__(self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        context_dir = args.get("context_dir", "app")
        repository = args.get("repository", "secret-reader")
        builder = args.get("builder", "acr")
        if builder not in BUILDERS:
            raise ValueError(f"builder {builder!r}: must be one of {', '.join(BUILDERS)}")
        push_access = args.get("push_access_id")
        if builder == "local" and push_access is None:
            raise ValueError("builder 'local' needs push_access_id: the deployer's AcrPush assignment on the registry")
        super().__init__("wi:index:AppImage", name, None, opts)
        context = Path(context_dir)
        tag = context_hash(context)[:TAG_LENGTH]
        subscription = pulumi.Output.from_input(args["registry_id"]).apply(lambda i: i.split("/")[2])
        if builder == "acr":
            build = command.local.Command(
                f"{name}-build",
                create=build_script(base_images(context)),
                environment={
                    "SUBSCRIPTION": subscription,
                    "REGISTRY": args["registry_name"],
                    "LOGIN_SERVER": args["login_server"],
                    "IMAGE": f"{repository}:{tag}",
                    "CONTEXT": context_dir,
                },
                triggers=[tag, args["registry_id"]],
                opts=pulumi.ResourceOptions(parent=self),
            )
            digest = build.stdout.apply(_digest)
        else:
            assert push_access is not None
            digest = self._local_build(name, args, context_dir, f"{repository}:{tag}", subscription, push_access)
        self.image_ref = pulumi.Output.concat(args["login_server"], f"/{repository}@", digest)
        self.register_outputs({"image_ref": self.image_ref})

    def _local_build(
        self,
        name: str,
        args: AppImageArgs,
        context_dir: str,
        image: str,
        subscription: pulumi.Output[str],
        push_access: pulumi.Input[str],
    ) -> pulumi.Output[str]:
        """Docker on this machine builds and pushes; the digest is the registry's. The token is asked for only once
        the deployer's AcrPush assignment exists (its id flows into the request), and the push takes the token."""
        token = command.local.run_output(
            command='az acr login --subscription "$SUBSCRIPTION" --name "$REGISTRY" --expose-token '
            "--output tsv --query accessToken",
            environment=pulumi.Output.all(subscription, args["registry_name"], push_access).apply(
                lambda v: {"SUBSCRIPTION": v[0], "REGISTRY": v[1]}
            ),
            # The token is a credential: nothing of it in the CLI's output.
            logging=command.local.Logging.NONE,
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).stdout
        built = docker_build.Image(
            f"{name}-build",
            context={"location": context_dir},
            platforms=[PLATFORM],
            push=True,
            tags=[pulumi.Output.concat(args["login_server"], "/", image)],
            registries=[
                {
                    "address": args["login_server"],
                    "username": facts.ACR_TOKEN_USERNAME,
                    "password": pulumi.Output.secret(token.apply(str.strip)),
                }
            ],
            # A preview builds nothing: it would need Docker and the registry's token just to show a plan.
            build_on_preview=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return built.digest.apply(_digest)


def build_script(bases: list[BaseImage]) -> str:
    """The shell script the build runs: import missing base images, build, then print the image's digest alone.

    Everything but the digest goes to stderr, so the command's stdout is the digest.
    """
    registry = '--subscription "$SUBSCRIPTION" --name "$REGISTRY"'
    lines = ["set -eu"]
    build_args = ""
    for base in bases:
        copy = f"{base.repository}@{base.digest}"
        lines.append(
            f"az acr repository show {registry} --image {copy} >/dev/null 2>&1 || "
            f"az acr import {registry} --source {base.source} --image {base.repository}:{base.tag} --force >&2"
        )
        build_args += f' --build-arg "{base.arg}=$LOGIN_SERVER/{copy}"'
    # The build's log streams to stderr as it comes, and is kept: when the subscription refuses ACR Tasks, one last
    # line says what to do. The status file carries az's exit status through the pipe (no pipefail in sh).
    lines += [
        'log="$(mktemp)"',
        'status="$(mktemp)"',
        f'{{ if az acr build {registry.replace("--name", "--registry")} --image "$IMAGE"{build_args} "$CONTEXT" 2>&1; '
        'then code=0; else code=$?; fi; echo "$code" >"$status"; } | tee "$log" >&2',
        'if [ "$(cat "$status")" != 0 ]; then',
        f'  if grep -q {facts.ACR_TASKS_REFUSED} "$log"; then echo "{TASKS_REFUSED}" >&2; fi',
        '  rm -f "$log" "$status"',
        "  exit 1",
        "fi",
        'rm -f "$log" "$status"',
        f'az acr repository show {registry} --image "$IMAGE" --query digest --output tsv',
    ]
    return "\n".join(lines) + "\n"


def base_images(context: Path) -> list[BaseImage]:
    """The Dockerfile's digest-pinned base images (`ARG NAME=registry/repository[:tag]@sha256:...`)."""
    found = []
    for match in _BASE_IMAGE_ARG.finditer((context / "Dockerfile").read_text()):
        source = f"{match['registry']}/{match['repository']}@{match['digest']}"
        tag = match["tag"] or "base-" + match["digest"][7:19]
        found.append(BaseImage(match["arg"], source, match["repository"], tag, match["digest"]))
    return found


def context_hash(context: Path) -> str:
    """SHA-256 over the relative path and bytes of every file the build uploads, in sorted order.

    The files are those Docker's own rules keep for the context (docker-py's `exclude_paths` with the context's
    `.dockerignore`); the Azure CLI's packer leaves out at least as much, so the hash covers what it uploads.
    """
    digest = hashlib.sha256()
    for relative in sorted(exclude_paths(str(context), _dockerignore(context), "Dockerfile")):
        path = context / relative
        if not path.is_file():
            continue
        data = path.read_bytes()
        digest.update(f"{Path(relative).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _dockerignore(context: Path) -> list[str]:
    """The context's .dockerignore patterns, read as Docker reads them: one per line, `#` lines are comments."""
    ignore_file = context / ".dockerignore"
    if not ignore_file.exists():
        return []
    lines = (line.strip() for line in ignore_file.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _digest(reported: str) -> str:
    digest = reported.strip()
    if not _DIGEST.match(digest):
        raise ValueError(f"the image build reported {digest!r} where the image's digest (sha256:...) was expected")
    return digest
