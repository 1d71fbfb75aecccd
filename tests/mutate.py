"""`make mutate`: mutmut over the code the tests hold to its promises, wired to this project's layout.

mutmut names a mutant after its file's path (`components/aks_workload_identity/cluster.py` →
`components.aks_workload_identity.cluster`) and activates it
only in a module of that name. Here the components import as `aks_workload_identity` and the app as
`secret_reader` (in the tests and in the app's own subprocesses), so this script runs mutmut's own command line
with these additions:

- mutant names use the import names (`aks_workload_identity.cluster.…`, `secret_reader.config.…`), and
  `mutants/aks_workload_identity` links to the mutated `mutants/components/aks_workload_identity`, ahead of the
  editable install;
- every Python subprocess the tests start (the app, under `tests/app_fakes.py` or the twin) inherits the active
  mutant, though the tests give it an environment of its own, and imports the mutated app from `mutants/app`;
- while mutmut maps functions to the tests that reach them, the functions such a subprocess runs count for the
  test that started it (a `sitecustomize` ahead of the twin's loopback guard records them), so an app mutant is
  run against the tests that run the app; and what a shared fixture runs (the whole program, once per stack)
  counts for every test that reads its value, not only for the first;
- a mutant's tests run fastest first.

`python tests/mutate.py run --max-children 2` runs mutmut (any mutmut command works the same way), trying again
every mutant that no test killed last time;
`python tests/mutate.py report` prints the score per file, with the equivalent mutants that
`tests/mutation-equivalents.txt` accepts left out of the count, and exits 1 below `--min` percent.
`python tests/mutate.py generate` writes the mutants without running them;
`python tests/mutate.py sample --percent 5` writes them, draws a random twentieth of all of them and runs those not yet
killed; `report --sample` scores just them, with the interval the whole score lies in.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENTS = ROOT / "tests" / "mutation-equivalents.txt"
#: The mutants `sample` drew last.
SAMPLE = MUTANTS / "sample.txt"
# Source directory prefix → the name the code is imported by.
IMPORT_NAMES = {"components.aks_workload_identity.": "aks_workload_identity.", "app.secret_reader.": "secret_reader."}
HITS_ENV = "MUTATE_SUBPROCESS_HITS"
MUTANT_ENV = "MUTANT_UNDER_TEST"
#: mutmut's exit codes of a killed mutant: a test failed, or pytest itself did.
KILLED = (1, 3)

# Loaded first by the app's interpreter (its directory goes first on PYTHONPATH): during mutmut's stats run it
# records each mutated function the subprocess enters in the file HITS_ENV names; then it loads the next
# sitecustomize on the path (the twin's loopback guard) in its place, as if it were the only one.
SITECUSTOMIZE = f"""
import os, sys

_hits = os.environ.get("{HITS_ENV}")
if _hits and os.environ.get("{MUTANT_ENV}") == "stats":
    import mutmut.mutation.trampoline as _trampoline

    _seen = set()

    def _record(name, caller=None):
        if name not in _seen:
            _seen.add(name)
            with open(_hits, "a", encoding="utf-8") as f:
                f.write(name + "\\n")

    _trampoline.record_trampoline_hit = _record

_here = os.path.dirname(os.path.abspath(__file__))
for _entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    _next = os.path.join(_entry, "sitecustomize.py")
    if _entry and os.path.abspath(_entry) != _here and os.path.isfile(_next):
        import importlib.util

        _spec = importlib.util.spec_from_file_location("sitecustomize", _next)
        _module = importlib.util.module_from_spec(_spec)
        sys.modules["sitecustomize"] = _module
        _spec.loader.exec_module(_module)
        break
"""


def import_name(module_name: str) -> str:
    for prefix, name in IMPORT_NAMES.items():
        if module_name.startswith(prefix):
            return name + module_name[len(prefix) :]
    return module_name


class SubprocessMutants:
    """A pytest plugin: Python subprocesses carry the active mutant, and in the stats run report what they ran."""

    def __init__(self, hook_dir: Path) -> None:
        self.hook_dir = hook_dir
        self.hits: Path | None = None
        self.fixture_hits: dict[tuple[int, str], set[str]] = {}

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        env = dict(env)
        mutant = os.environ.get(MUTANT_ENV)
        if mutant is not None:
            env[MUTANT_ENV] = mutant
        if self.hits is not None:
            env[HITS_ENV] = str(self.hits)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.hook_dir), env.get("PYTHONPATH", "")) if p)
        return env

    def install(self) -> None:
        original = subprocess.Popen.__init__
        plugin = self

        def popen_init(self, args, *rest, **kwargs):  # type: ignore[no-untyped-def]
            argv = [args] if isinstance(args, (str, bytes)) else list(args)
            if argv and str(argv[0]) == sys.executable and kwargs.get("env") is not None:
                kwargs["env"] = plugin.environment(kwargs["env"])
            original(self, args, *rest, **kwargs)

        subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):  # type: ignore[no-untyped-def]
        """What a fixture runs counts for every test that uses its value, not only the first: a session fixture runs
        the whole program once, and each test then reads what it declared."""
        if os.environ.get(MUTANT_ENV) != "stats":
            yield
            return
        from mutmut.state import state

        earlier = set(state()._stats)
        state()._stats.clear()
        yield
        hits = set(state()._stats)
        state()._stats.update(earlier)
        self.fixture_hits[(id(fixturedef), repr(getattr(request, "param", None)))] = hits

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item) -> None:  # type: ignore[no-untyped-def]
        if os.environ.get(MUTANT_ENV) == "stats":
            self.hits = self.hook_dir / f"hits-{os.getpid()}.txt"
            self.hits.unlink(missing_ok=True)

    def pytest_runtest_makereport(self, item, call) -> None:  # type: ignore[no-untyped-def]
        """After the test's teardown (its subprocesses stopped), the functions they ran count for it."""
        if call.when != "teardown" or self.hits is None:
            return
        from mutmut.state import state

        names: set[str] = set()
        if self.hits.exists():
            names.update(self.hits.read_text(encoding="utf-8").split())
            self.hits.unlink()
        self.hits = None
        params = getattr(getattr(item, "callspec", None), "params", {})
        for argname, fixturedefs in item._fixtureinfo.name2fixturedefs.items():
            key = (id(fixturedefs[-1]), repr(params.get(argname)))
            names.update(self.fixture_hits.get(key, ()))
        nodeid = item.nodeid.removeprefix("mutants/")
        for name in names:
            state().tests_by_mangled_function_name[name].add(nodeid)


def run_mutmut(argv: list[str]) -> None:
    os.chdir(ROOT)
    # This script's own directory must not shadow the copies of the tests' helpers in mutants/tests.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "tests"]
    import mutmut.__main__ as cli
    import mutmut.mutation.file_mutation as file_mutation
    import mutmut.utils.format_utils as format_utils
    from mutmut.runners import harness

    path_name = format_utils.get_mutant_name

    def mutant_name(relative_source_path: Path, mutant_method_name: str) -> str:
        return import_name(path_name(relative_source_path, mutant_method_name))

    for module in (format_utils, cli, file_mutation):
        module.get_mutant_name = mutant_name  # type: ignore[attr-defined]

    if argv[:1] == ["run"] and not [a for a in argv[1:] if not a.startswith("-") and not a.isdigit()]:
        forget_survivors()
    MUTANTS.mkdir(exist_ok=True)
    link = MUTANTS / "aks_workload_identity"
    if not link.is_symlink():
        link.symlink_to(Path("components", "aks_workload_identity"), target_is_directory=True)
    hook_dir = Path(tempfile.mkdtemp(prefix="mutate-hook-"))
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    plugin = SubprocessMutants(hook_dir)
    plugin.install()

    execute = harness.PytestRunner.execute_pytest

    def execute_pytest(self, params, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["plugins"] = [*kwargs.get("plugins", []), plugin]
        return execute(self, params, **kwargs)

    harness.PytestRunner.execute_pytest = execute_pytest  # type: ignore[method-assign]

    regular_run = harness.PytestRunner._pytest_args_regular_run

    def fastest_first(self, tests):  # type: ignore[no-untyped-def]
        """A mutant's tests in order of their duration: most mutants die in the first test that fails (-x)."""
        from mutmut.state import state

        durations = state().duration_by_test
        return regular_run(self, sorted(tests, key=lambda test: (durations.get(test, 0.0), test)))

    harness.PytestRunner._pytest_args_regular_run = fastest_first  # type: ignore[method-assign]
    if argv == ["generate"]:
        cli.copy_src_dir()
        cli.copy_also_copy_files()
        cli.create_mutants(2)
        return
    sys.argv = ["mutmut", *argv]
    cli.cli()


def forget_survivors() -> None:
    """mutmut keeps each mutant's result until its function changes; a mutant no test killed is tried again, so a
    run after new tests counts what they kill."""
    for source in mutated_files():
        meta = MUTANTS / f"{source}.meta"
        if meta.exists():
            data = json.loads(meta.read_text(encoding="utf-8"))
            codes = data["exit_code_by_key"]
            data["exit_code_by_key"] = {k: v if v in KILLED else None for k, v in codes.items()}
            meta.write_text(json.dumps(data, indent=4), encoding="utf-8")


def equivalents() -> dict[str, str]:
    """`tests/mutation-equivalents.txt`: one accepted equivalent mutant a line, `name  # why`."""
    accepted = {}
    for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
        name, _, why = line.partition("#")
        if name.strip():
            accepted[name.strip()] = why.strip()
    return accepted


def mutated_files() -> list[Path]:
    """The Python files `[tool.mutmut] source_paths` names, as mutmut walks them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    files = []
    for entry in map(Path, config["source_paths"]):
        files += (
            sorted(p.relative_to(ROOT) for p in (ROOT / entry).rglob("*.py")) if (ROOT / entry).is_dir() else [entry]
        )
    return files


def report(minimum: float, sample_only: bool = False) -> int:
    accepted = equivalents()
    chosen = set(SAMPLE.read_text(encoding="utf-8").split()) if sample_only else None
    rows = []
    totals: Counter[str] = Counter()
    survivors = []
    seen = set()
    for source in mutated_files():
        meta = MUTANTS / f"{source}.meta"
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"] if meta.exists() else {}
        seen.update(codes)
        if chosen is not None:
            codes = {name: code for name, code in codes.items() if name in chosen}
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if name in accepted:
                counts["equivalent"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            else:
                status = {0: "survived", 33: "no tests", None: "not run"}.get(code, "other")
                counts[status] += 1
                if code is not None:
                    survivors.append((name, status))
        counts["total"] = len(codes)
        totals.update(counts)
        rows.append((source.as_posix(), counts))
    columns = ("mutants", "killed", "equiv.", "survived", "no tests", "not run", "other", "score")
    print(f"{'file':44} " + " ".join(f"{c:>8}" for c in columns))
    for source, counts in [*rows, ("total", totals)]:
        score = percent(counts)
        shown = f"{score:7.1f}%" if score is not None else f"{'-':>8}"
        print(
            f"{source:44} {counts['total']:8} {counts['killed']:8} {counts['equivalent']:8} {counts['survived']:8} "
            f"{counts['no tests']:8} {counts['not run']:8} {counts['other']:8} {shown}"
        )
    for name, status in survivors:
        print(f"{status}: {name}")
    for name in sorted(set(accepted) - seen):
        print(f"listed as equivalent but no longer generated: {name}")
    if chosen is not None:
        low, high = wilson(totals)
        print(f"a random sample of {len(chosen)} mutants: the score of all of them is {low:.1f}-{high:.1f} % (95 %)")
    if totals["not run"]:
        print(f"{totals['not run']} mutants not run yet: the score counts only those run")
    return 0 if (percent(totals) or 0.0) >= minimum and not (minimum and totals["not run"]) else 1


def percent(counts: Counter[str]) -> float | None:
    """Killed out of the mutants run, the accepted equivalents left out; None when none was run."""
    run = counts["killed"] + counts["survived"] + counts["no tests"] + counts["other"]
    return 100.0 * counts["killed"] / run if run else None


def wilson(counts: Counter[str]) -> tuple[float, float]:
    """The 95 % Wilson interval of the score, for a score measured on a random sample."""
    n = counts["killed"] + counts["survived"] + counts["no tests"] + counts["other"]
    if not n:
        return 0.0, 100.0
    p, z = counts["killed"] / n, 1.96
    centre, spread = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * (centre - spread) / (1 + z * z / n), 100 * (centre + spread) / (1 + z * z / n)


def generate() -> None:
    """Writes the mutants of the code as it is now (a `.meta` per file under mutants/) without running any, in a
    process of its own, as `run` would before running them."""
    subprocess.run([sys.executable, __file__, "generate"], check=True, stdout=subprocess.DEVNULL)


def sample(percent: float, seed: int, max_children: str) -> None:
    """Draws `percent` of all the mutants in scope, each equally likely, whatever they scored before (a simple random
    sample, so the Wilson interval `report --sample` prints holds for the whole score), writes their names to
    mutants/sample.txt and runs those no test has killed yet."""
    generate()
    codes: dict[str, int | None] = {}
    for source in mutated_files():
        codes |= json.loads((MUTANTS / f"{source}.meta").read_text(encoding="utf-8"))["exit_code_by_key"]
    chosen = random.Random(seed).sample(sorted(codes), math.ceil(len(codes) * percent / 100))
    to_run = [name for name in chosen if codes[name] not in KILLED]
    SAMPLE.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    print(f"sampled {len(chosen)} of {len(codes)} mutants (seed {seed}); running the {len(to_run)} no test has killed")
    if to_run:
        run_mutmut(["run", "--max-children", max_children, *to_run])


def main() -> None:
    if sys.argv[1:2] == ["sample"]:
        parser = argparse.ArgumentParser(prog="tests/mutate.py sample")
        parser.add_argument("--percent", type=float, default=5.0, help="share of all the mutants to draw")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-children", default="2")
        args = parser.parse_args(sys.argv[2:])
        sample(args.percent, args.seed, args.max_children)
        return
    if sys.argv[1:2] == ["report"]:
        parser = argparse.ArgumentParser(prog="tests/mutate.py report")
        parser.add_argument("--min", type=float, default=0.0, help="fail below this percent, or with mutants not run")
        parser.add_argument("--sample", action="store_true", help="count only the mutants `sample` drew")
        args = parser.parse_args(sys.argv[2:])
        raise SystemExit(report(args.min, args.sample))
    run_mutmut(sys.argv[1:])


if __name__ == "__main__":
    main()
