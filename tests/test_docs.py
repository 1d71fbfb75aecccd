"""The README and docs/: a reader finds what they point at, and every command runs as written from a fresh clone.

The commands are those of the ```bash blocks in README.md, docs/*.md, app/README.md and policy/README.md. Whether
one is run here depends on its program, by one rule, not by a list of commands:

- `make <target> [VAR=value]`: the Makefile has the target and declares the variable. Not run (it installs).
- a program inside the repository (`venv/bin/python`, `.ci/run`): `-m <module>` is a module of the repository or
  of the virtualenv, a script it names exists; run, and must exit 0, when it asks for `--help` (a virtualenv's
  `python` that a make target creates is stood in for by the tests' own when this checkout lacks it).
- any other program (`pulumi`, `az`, `kubectl`, `curl`, `gh`): it needs the Pulumi CLI, Azure or a cluster, so it
  is not run; what it names in the repository is checked. `--stack S` and `pulumi stack select [--create] S` name
  a stack file `Pulumi.S.yaml` of the project in the working directory (`pulumi stack init` makes a new stack and
  needs none); `pulumi config set K` names a key that project declares, or a provider's key (`azure-native:…`),
  unless it is `--secret` (a workload's `valueFrom` keys are secret and undeclared by design); `pulumi stack
  output N` names one of the program's exports.

Every argument of every command that looks like a path in the repository exists, or is git-ignored (what a command
makes: `venv/`, `mutants/`). `cd <dir>` moves the rest of its block. A word with a placeholder (`<…>`, `…`) is the
reader's to fill in and is not checked.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: The README is the front door: a newcomer reads it in five minutes.
README_MAX_LINES = 200
#: The two commands the README promises, exactly as written (`.ci/run` runs the second).
DEPLOY = "pulumi stack select --create dev && pulumi up --stack dev"
TEST = "make test"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```bash\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
_OPERATORS = {"&&", "||", ";", "|", "(", ")", "&"}
_PLACEHOLDER = re.compile(r"[<>…*$]")
_FILE_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".toml", ".txt", ".lock", ".in"}
#: What makes a folder one the Pulumi CLI works in: a project, a policy pack, a plugin (`pulumi install` in each).
_PULUMI_FOLDERS = ("Pulumi.yaml", "PulumiPolicy.yaml", "PulumiPlugin.yaml")
_LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def bash_blocks(markdown: str) -> list[str]:
    """The ```bash blocks of a page, dedented (a block may sit in a list item)."""
    blocks = []
    for match in _FENCE.finditer(markdown):
        indent = len(match["indent"])
        blocks.append("\n".join(line[indent:] for line in match["body"].splitlines()))
    return blocks


def commands(block: str) -> list[list[str]]:
    """A block's simple commands, as words: lines joined at a trailing `\\`, comments dropped, split at `&&`, `;`,
    `|`, and leading `VAR=value` assignments dropped."""
    found: list[list[str]] = []
    for line in block.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        current: list[str] = []
        for word in [*lexer, ";"]:
            if word in _OPERATORS:
                if current:
                    found.append(current)
                current = []
            elif current or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word):
                current.append(word)
    return found


@dataclass
class Checker:
    """Checks one block's commands against a repository; `problems` collects what a reader would trip on."""

    root: Path
    where: str
    cwd: Path
    run: bool = True

    def __post_init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, words: list[str], why: str) -> None:
        self.problems.append(f"{self.where}: `{shlex.join(words)}`: {why}")

    def check(self, words: list[str]) -> None:
        program = words[0]
        if program == "cd":
            target = (self.cwd / words[1]).resolve()
            if not target.is_dir():
                self.fail(words, f"no directory {words[1]}")
            self.cwd = target
            return
        self.check_paths(words)
        if program == "make":
            self.check_make(words)
        elif "/" in program:
            self.check_local(words)
        elif program == "pulumi":
            self.check_pulumi(words)

    def check_paths(self, words: list[str]) -> None:
        for word in words:
            value = word.split("=", 1)[1] if word.startswith("--") and "=" in word else word
            if value.startswith("-") or "://" in value or "@" in value or _PLACEHOLDER.search(value):
                continue
            if "/" in value or Path(value).suffix in _FILE_SUFFIXES:
                path = self.cwd / value
                if not path.exists() and not self.ignored(path):
                    self.fail(words, f"no file {value} (from {self.cwd.relative_to(self.root) or '.'})")

    def ignored(self, path: Path) -> bool:
        result = subprocess.run(["git", "check-ignore", "-q", "--no-index", str(path)], cwd=self.root, check=False)
        return result.returncode == 0

    def check_make(self, words: list[str]) -> None:
        makefile = (self.cwd / "Makefile").read_text()
        targets = set(re.findall(r"^([A-Za-z0-9_.-]+):(?!=)", makefile, re.M))
        variables = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[?:]?=", makefile, re.M))
        for word in words[1:]:
            if "=" in word:
                name = word.split("=", 1)[0]
                if name not in variables:
                    self.fail(words, f"the Makefile declares no variable {name}")
            elif word not in targets:
                self.fail(words, f"the Makefile has no target {word}")

    def check_local(self, words: list[str]) -> None:
        if "-m" in words:
            module = words[words.index("-m") + 1]
            if not self.is_module(module):
                self.fail(words, f"no module {module}")
        if self.run and "--help" in words:
            returncode, stderr = run_once(self.cwd, (self.interpreter(words[0]), *words[1:]))
            if returncode != 0:
                self.fail(words, f"exit {returncode}: {stderr.strip()[-500:]}")

    def interpreter(self, program: str) -> str:
        """A virtualenv's Python that a make target creates (git-ignored) and this checkout lacks is stood in for by
        the one the tests run in, which holds the same packages."""
        path = self.cwd / program
        return sys.executable if Path(program).name == "python" and not path.exists() else program

    def is_module(self, module: str) -> bool:
        base = self.cwd / Path(*module.split("."))
        local = [base.with_suffix(".py"), base / "__init__.py", base / "__main__.py"]
        return any(p.is_file() for p in local) or importlib.util.find_spec(module.split(".")[0]) is not None

    def check_pulumi(self, words: list[str]) -> None:
        project = self.cwd / "Pulumi.yaml"
        if not any((self.cwd / name).is_file() for name in _PULUMI_FOLDERS):
            self.fail(words, f"no Pulumi project, policy pack or plugin in {self.cwd.relative_to(self.root) or '.'}")
        if not project.is_file():
            return
        stacks = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--stack"]
        if words[1:3] == ["stack", "select"]:
            stacks.append([w for w in words[3:] if not w.startswith("-")][0])
        for stack in stacks:
            if not _PLACEHOLDER.search(stack) and not (self.cwd / f"Pulumi.{stack}.yaml").is_file():
                self.fail(words, f"no stack file Pulumi.{stack}.yaml")
        if words[1:3] == ["config", "set"] and "--secret" not in words:
            key = [w for w in words[3:] if not w.startswith("-")][0].split("[", 1)[0]
            declared = (yaml.safe_load(project.read_text()) or {}).get("config", {})
            if ":" not in key and key not in declared:
                self.fail(words, f"{project.relative_to(self.root)} declares no config key {key}")
        if words[1:3] == ["stack", "output"]:
            name = [w for w in words[3:] if not w.startswith("-") and w not in stacks][0]
            sources = "".join(p.read_text() for p in self.cwd.glob("*.py"))
            if not re.search(rf"export\(\s*\"{re.escape(name)}\"", sources):
                self.fail(words, f"the program exports no {name}")


@functools.cache
def run_once(cwd: Path, words: tuple[str, ...]) -> tuple[int, str]:
    """A command's exit code and stderr; the same command on two pages runs once."""
    result = subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, result.stderr


def command_problems(path: Path, root: Path = ROOT, run: bool = True) -> list[str]:
    problems = []
    for number, block in enumerate(bash_blocks(path.read_text()), 1):
        checker = Checker(root, f"{path.relative_to(root)} block {number}", root, run)
        try:
            block_commands = commands(block)
        except ValueError as error:  # what bash would refuse too, such as an unclosed quote
            problems.append(f"{checker.where}: not a shell command: {error}")
            continue
        for words in block_commands:
            checker.check(words)
        problems += checker.problems
    return problems


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def link_problems(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for target in (m["target"] for m in _LINK.finditer(text)):
        if "://" in target or target.startswith("mailto:"):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            problems.append(f"{path.relative_to(root)}: link to a missing {file}")
        elif anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", linked.read_text(), re.M)
            if anchor not in {slug(h) for h in headings}:
                problems.append(f"{path.relative_to(root)}: no heading #{anchor} in {file or path.name}")
    return problems


# --- The project's own pages -----------------------------------------------------------------------------------


#: The pages checked: the README, docs/, and the two READMEs of parts a reader runs on their own (each written for a
#: reader in the project's folder).
PAGES = [*documents(), ROOT / "app" / "README.md", ROOT / "policy" / "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_of_the_page_runs_as_written(page: Path):
    assert command_problems(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_of_the_page_leads_somewhere(page: Path):
    assert link_problems(page) == []


def test_the_readme_is_a_front_door_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    blocks = bash_blocks(readme)
    assert DEPLOY in blocks
    assert TEST in blocks
    assert TEST in (ROOT / ".ci" / "run").read_text()


def test_every_page_of_docs_is_linked_from_the_readme_or_the_docs_index():
    linked = set()
    for page in (ROOT / "README.md", DOCS / "README.md"):
        linked |= {(page.parent / m["target"].partition("#")[0]).resolve() for m in _LINK.finditer(page.read_text())}
    assert {p for p in DOCS.glob("*.md") if p.name != "README.md"} <= linked


def test_every_project_setting_is_named_in_the_readme_or_docs():
    text = "".join(p.read_text() for p in documents())
    for key in yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]:
        assert f"`{key}`" in text, key


def test_every_workload_key_has_a_row_in_the_workloads_reference():
    reference = (DOCS / "workloads.md").read_text()
    for key in settings._WORKLOAD_KEYS:  # noqa: SLF001 (the set settings.py accepts, which the page documents)
        assert f"| `{key}` |" in reference, key


def test_every_release_tag_the_pages_name_is_the_version_with_a_changelog_section():
    """An install example names a tag a reader can fetch: the version pyproject.toml states, which the release
    workflow tags only when CHANGELOG.md has its section."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    named = {tag for page in PAGES for tag in re.findall(r"\bv(\d+\.\d+\.\d+)\b", page.read_text())}
    assert named <= {version}
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text()


# --- The checks themselves, on a made-up repository -------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("venv/\n")
    (tmp_path / "Makefile").write_text("STACK ?= dev\n.PHONY: test\ntest: venv/.installed\n\techo\n")
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\nconfig:\n  nodeCount:\n    type: integer\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text('import pulumi\npulumi.export(\n    "workloads", 1)\n')
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "__main__.py").write_text("import sys\nsys.exit(3)\n")
    return tmp_path


def problems_of(repo: Path, block: str) -> list[str]:
    page = repo / "page.md"
    fenced = textwrap.indent(f"```bash\n{block}\n```", "  ")
    page.write_text(f"text\n\n{fenced}\n")
    return command_problems(page, repo)


def test_commands_that_name_what_the_repository_has_pass(repo: Path):
    block = (
        "make test STACK=dev   # a comment with a bogus/path.py\n"
        "pulumi stack select --create dev && pulumi up --stack dev\n"
        "pulumi config set nodeCount 2 --stack dev; pulumi config set --secret undeclared '<v>'\n"
        "pulumi config set azure-native:location westeurope\n"
        "pulumi stack output workloads --stack dev\n"
        "az keyvault purge --name <vault name> \\\n    --subscription <id>\n"
        "cd tool && ls __main__.py && cd ..\n"
        "venv/bin/python -m tool.nothing"
    )
    assert problems_of(repo, block) == ["page.md block 1: `venv/bin/python -m tool.nothing`: no module tool.nothing"]


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("make tests", "the Makefile has no target tests"),
        ("make test STAKC=prod", "the Makefile declares no variable STAKC"),
        ("pulumi up --stack prod", "no stack file Pulumi.prod.yaml"),
        ("pulumi stack select --create prod", "no stack file Pulumi.prod.yaml"),
        ("pulumi config set nodecount 2", "Pulumi.yaml declares no config key nodecount"),
        ("pulumi stack output workload", "the program exports no workload"),
        ("cat docs/missing.md", "no file docs/missing.md"),
        ("cd nowhere", "no directory nowhere"),
        ("cd tool && pulumi install", "no Pulumi project, policy pack or plugin in tool"),
        ("python3 -m tool --help", None),
    ],
)
def test_a_command_naming_what_the_repository_lacks_is_reported(repo: Path, block: str, problem: str | None):
    found = problems_of(repo, block)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0], found


def test_an_unclosed_quote_is_reported_as_the_shell_would_refuse_it(repo: Path):
    assert problems_of(repo, "pulumi config set --path 'ids[0]' <the prod's id>") == [
        "page.md block 1: not a shell command: No closing quotation"
    ]


def test_a_module_run_with_help_must_exit_0(repo: Path):
    (found,) = problems_of(repo, f"{sys.executable} -m tool --help")
    assert "exit 3" in found


def test_a_link_to_a_missing_page_or_heading_is_reported(repo: Path):
    (repo / "other.md").write_text("# Other page\n\n## The `byo` stack, in brief\n")
    page = repo / "page.md"
    page.write_text(
        "[ok](other.md#the-byo-stack-in-brief) [web](https://example.org/x) [gone](gone.md) [bad](other.md#nope)\n"
        "```bash\n[not a link](inside-code.md)\n```\n"
    )
    assert link_problems(page, repo) == ["page.md: link to a missing gone.md", "page.md: no heading #nope in other.md"]
