"""AppImage: an app's image, built in the stack's registry by `pulumi up`, with no local Docker."""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict

import pulumi
import pulumi_command as command
from docker.utils.build import exclude_paths

#: Characters of the content hash used as the image tag.
TAG_LENGTH = 16
#: `ARG <NAME>=<registry>/<repository>[:<tag>]@sha256:<digest>` in a Dockerfile: a base image pinned by digest.
_BASE_IMAGE_ARG = re.compile(
    r"^ARG\s+(?P<arg>[A-Za-z_][A-Za-z0-9_]*)=(?P<registry>[a-z0-9.-]+\.[a-z]+)/(?P<repository>[a-z0-9._/-]+)"
    r"(?::(?P<tag>[A-Za-z0-9_.-]+))?@(?P<digest>sha256:[0-9a-f]{64})\s*$",
    re.M,
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


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


@dataclass(frozen=True)
class BaseImage:
    """A base image the Dockerfile takes from a build argument, pinned by digest, and its copy in the registry."""

    arg: str
    source: str
    repository: str
    tag: str
    digest: str


class AppImage(pulumi.ComponentResource):
    """Builds `context_dir` with `az acr build` (an ACR quick run) whenever, and only when, its upload changes.

    The tag is a hash of every file the build uploads, so unchanged code means no new build; the workload runs the
    image by the digest the registry reports for it, which nobody can move. Base images pinned by digest in the
    Dockerfile's `ARG`s are imported into the registry first and the build takes them from there: ACR Tasks pull
    from Docker Hub anonymously, which it rate-limits (facts: Container registry and image build). `az acr build`
    needs the Azure CLI, logged in, on the deploying machine.
    """

    image_ref: pulumi.Output[str]
    """`<login server>/<repository>@sha256:<digest>`, known once the image is pushed."""

    def __init__(self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:AppImage", name, None, opts)
        context_dir = args.get("context_dir", "app")
        repository = args.get("repository", "secret-reader")
        context = Path(context_dir)
        tag = context_hash(context)[:TAG_LENGTH]
        build = command.local.Command(
            f"{name}-build",
            create=build_script(base_images(context)),
            environment={
                "SUBSCRIPTION": pulumi.Output.from_input(args["registry_id"]).apply(lambda i: i.split("/")[2]),
                "REGISTRY": args["registry_name"],
                "LOGIN_SERVER": args["login_server"],
                "IMAGE": f"{repository}:{tag}",
                "CONTEXT": context_dir,
            },
            triggers=[tag, args["registry_id"]],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_ref = pulumi.Output.all(args["login_server"], build.stdout).apply(
            lambda values: f"{values[0]}/{repository}@{_digest(values[1])}"
        )
        self.register_outputs({"image_ref": self.image_ref})


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
    lines.append(f'az acr build {registry.replace("--name", "--registry")} --image "$IMAGE"{build_args} "$CONTEXT" >&2')
    lines.append(f'az acr repository show {registry} --image "$IMAGE" --query digest --output tsv')
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


def _digest(stdout: str) -> str:
    digest = stdout.strip()
    if not _DIGEST.match(digest):
        raise ValueError(f"the image build printed {digest!r} where the image's digest (sha256:...) was expected")
    return digest
