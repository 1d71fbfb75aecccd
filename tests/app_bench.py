"""Shutdown latency of the real app against the local fakes, and its dependencies' size: `python tests/app_bench.py`.

Prints the time from SIGTERM to exit, mid-sleep and mid-backoff, which the tests only bound generously to catch a
hang; then the installed size of `app/requirements.txt` (from the package index). Each figure is printed beside its
goal; the exit code is 1 when one is missed (or cannot be measured); the last line says how long the bench took.
The steady-state cost and the lag after propagation are `python -m twin.bench`'s part.

Most of an exit is the interpreter's own: unloading the Azure SDK's modules, which a busy machine slows down many
times over. So each run of the app is paired with a run, just before it, of the same interpreter with the same
modules loaded that does nothing but wait for SIGTERM and return (the baseline), and the goal is on the app's own
part, the difference: its loop waking up mid-sleep or mid-backoff, its last lines, its threads ending. The median
of `--runs` pairs is the figure; the whole exit and the baseline are printed beside it.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "app")]

from secret_reader.reader import STOPPED_LINE  # noqa: E402

from tests.app_fakes import (  # noqa: E402
    APP_DIR,
    App,
    FakeAzure,
    app_env,
    app_process_env,
    key_vault_error,
    start_proxy,
)
from twin.proxy import Proxy  # noqa: E402
from twin.run import GUARD_MARK  # noqa: E402

# --- goals, stated once -----------------------------------------------------------------------------------------

#: The app's own part of SIGTERM to exit while its loop waits (its exit minus the baseline's): "about a tenth of a
#: second" (app/README.md), as the median of the pairs ...
GOAL_EXIT_MEDIAN_MS = 100
#: ... and in every pair at most the app's own bound on waiting for its loop (STOP_JOIN_SECONDS, 1 s), far inside
#: Kubernetes' 30 s grace period: a loop that did not wake up would take the whole 30 s poll interval.
GOAL_EXIT_MAX_MS = 1000
#: Runs (pairs) per moment by default: enough for a median that a few slow runs on a busy machine do not move.
RUNS = 15
#: The baseline: the app's interpreter with every module the app loads, waiting for SIGTERM as the app does
#: (the signal blocked, then `sigwait`), then returning at once.
BASELINE = (
    "import signal\n"
    "import secret_reader.__main__\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n"
    "print('ready', flush=True)\n"
    "signal.sigwait({signal.SIGTERM})\n"
)
#: Installed size of the app's dependencies: what they take today (about 26 MB) plus room for patch releases,
#: so a new dependency, or one that starts pulling in a large one, is noticed.
GOAL_INSTALLED_MB = 30.0


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def shutdown(runs: int) -> bool:
    ok = True
    with tempfile.TemporaryDirectory() as shared:
        proxy = start_proxy(Path(shared))
        try:
            for moment in ("sleep", "backoff"):
                pairs = [
                    (_baseline_exit(Path(shared)) * 1000, _time_to_exit(moment, proxy) * 1000) for _ in range(runs)
                ]
                own = [app - baseline for baseline, app in pairs]
                median, worst = statistics.median(own), max(own)
                met = median <= GOAL_EXIT_MEDIAN_MS and worst <= GOAL_EXIT_MAX_MS
                ok = ok and met
                print(
                    f"SIGTERM to exit, mid-{moment:<7} the app's own part: median {median:4.0f} ms "
                    f"(goal <= {GOAL_EXIT_MEDIAN_MS} ms), max {worst:4.0f} ms (goal <= {GOAL_EXIT_MAX_MS} ms) over "
                    f"{runs} pairs  {_verdict(met)}"
                )
                print(
                    f"  whole exit median {statistics.median(app for _, app in pairs):4.0f} ms, the baseline's "
                    f"{statistics.median(baseline for baseline, _ in pairs):4.0f} ms"
                )
        finally:
            proxy.stop()
    return ok


def _baseline_exit(workdir: Path) -> float:
    """Seconds from SIGTERM to exit of the baseline interpreter (`BASELINE`)."""
    process = subprocess.Popen(
        [sys.executable, "-c", BASELINE],
        env=app_process_env(workdir, {}),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
        seconds = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0, f"the baseline exited with {code}"
    return seconds


def _time_to_exit(moment: str, proxy: Proxy) -> float:
    with tempfile.TemporaryDirectory() as tmp, FakeAzure(Path(tmp), proxy=proxy) as fake:
        if moment == "backoff":
            fake.fail_secret_reads(key_vault_error(403, "Forbidden", "ForbiddenByRbac"))
        with App(app_env(fake, POLL_INTERVAL_SECONDS="30"), Path(tmp)) as app:
            app.wait_for(r"Retrying in" if moment == "backoff" else r"^Your secret is ")
            code, seconds = app.stop(signal.SIGTERM)
        # A measurement of a run that went wrong would be no measurement.
        assert code == 0 and any(line.endswith(STOPPED_LINE) for line in app.lines), app.output
        assert GUARD_MARK not in app.output and not fake.count("refused"), app.output
        return seconds


def installed_size() -> bool:
    with tempfile.TemporaryDirectory() as target:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--target",
                target,
                "-r",
                str(APP_DIR / "requirements.txt"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            print(f"installed size: pip failed ({done.stderr.strip().splitlines()[-1:]}); not measured  MISSED")
            return False
        total = sum(f.stat().st_size for f in Path(target).rglob("*") if f.is_file() and not f.is_symlink())
        dists = sorted(p.name.removesuffix(".dist-info") for p in Path(target).glob("*.dist-info"))
        met = total / 1e6 <= GOAL_INSTALLED_MB
        print(
            f"installed size of app/requirements.txt: {total / 1e6:.1f} MB (goal <= {GOAL_INSTALLED_MB:g} MB) "
            f"in {len(dists)} distributions  {_verdict(met)}"
        )
        print("  " + ", ".join(dists))
        return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"pairs per moment (default {RUNS})")
    parser.add_argument("--skip-size", action="store_true", help="do not reach PyPI")
    args = parser.parse_args()
    started = time.monotonic()
    os.environ.pop("PYTHONPATH", None)
    ok = shutdown(args.runs)
    if not args.skip_size:
        ok = installed_size() and ok
    verdict = "every goal met" if ok else "a goal was missed"
    print(f"app bench: {verdict}; took {time.monotonic() - started:.0f} s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
