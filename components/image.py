"""AppImage: a container registry, and the app's image built in it by `pulumi up`, with no local Docker."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_random as random
from pulumi_azure_native import containerregistry

#: Characters of the content hash used as the image tag.
TAG_LENGTH = 16


@dataclass(frozen=True)
class AppImageArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: The Docker build context (with its Dockerfile), relative to the directory `pulumi` runs in.
    context_dir: str = "app"
    #: Repository of the image in the registry.
    repository: str = "secret-reader"


class AppImage(pulumi.ComponentResource):
    """Builds `context_dir` with `az acr build` (an ACR quick run) whenever, and only when, its files change.

    The tag is a hash of every file of the build context, so unchanged code means no new build and an unchanged
    image reference for the workload. `az acr build` needs the Azure CLI, logged in, on the deploying machine
    (facts: Container registry and image build, which also says why not `containerregistry.TaskRun`).
    """

    registry_id: pulumi.Output[str]
    login_server: pulumi.Output[str]
    #: `<login server>/<repository>:<content hash>`, known once the image is pushed.
    image_ref: pulumi.Output[str]

    def __init__(self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wi:index:AppImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Registry names: 5-50 alphanumerics, globally unique (facts: Container registry and image build).
        prefix = re.sub(r"[^a-z0-9]", "", name.lower())[:30] or "acr"
        suffix = random.RandomString(f"{name}-suffix", length=10, special=False, upper=False, opts=child)
        registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=pulumi.Output.concat(prefix, suffix.result),
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": containerregistry.SkuName.BASIC},
            admin_user_enabled=False,
            opts=child,
        )

        tag = context_hash(Path(args.context_dir))[:TAG_LENGTH]
        image = f"{args.repository}:{tag}"
        build = command.local.Command(
            f"{name}-build",
            create='az acr build --subscription "$SUBSCRIPTION" --registry "$REGISTRY" --image "$IMAGE" "$CONTEXT"',
            environment={
                "SUBSCRIPTION": registry.id.apply(lambda i: i.split("/")[2]),
                "REGISTRY": registry.name,
                "IMAGE": image,
                "CONTEXT": args.context_dir,
            },
            triggers=[tag, registry.id],
            opts=child,
        )

        self.registry_id = registry.id
        self.login_server = registry.login_server
        self.image_ref = pulumi.Output.all(registry.login_server, build.id).apply(lambda values: f"{values[0]}/{image}")
        self.register_outputs(
            {"registry_id": self.registry_id, "login_server": self.login_server, "image_ref": self.image_ref}
        )


def context_hash(context: Path) -> str:
    """SHA-256 over the relative path and bytes of every file the build would send, in sorted order.

    Files that `.dockerignore` excludes are left out, as `az acr build` leaves them out of its upload.
    """
    patterns = _dockerignore(context)
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        relative = path.relative_to(context).as_posix()
        if _ignored(relative, patterns):
            continue
        data = path.read_bytes()
        digest.update(f"{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _dockerignore(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """The context's .dockerignore as (is-exception, pattern) pairs, in file order."""
    ignore_file = context / ".dockerignore"
    if not ignore_file.exists():
        return []
    rules = []
    for line in ignore_file.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        rules.append((exception, _glob_to_regex(line.lstrip("!").strip("/"))))
    return rules


def _glob_to_regex(glob: str) -> re.Pattern[str]:
    """Docker's matching: `**` spans directories, `*` and `?` stay within one path segment."""
    parts = re.split(r"(\*\*/?|\*|\?)", glob)
    translated = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(translated.get(part, re.escape(part)) for part in parts) + "$")


def _ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the file, or a directory above it, is excluded; the last matching rule wins."""
    segments = relative.split("/")
    candidates = ["/".join(segments[: i + 1]) for i in range(len(segments))]
    ignored = False
    for exception, pattern in rules:
        if any(pattern.match(candidate) for candidate in candidates):
            ignored = not exception
    return ignored
