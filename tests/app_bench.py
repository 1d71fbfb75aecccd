"""Shutdown latency of the real app against the local fakes, and its dependencies' size: `python tests/app_bench.py`.

Prints the time from SIGTERM to exit, mid-sleep and mid-backoff (median and max over 5 runs), which the tests only
bound generously to catch a hang; then the installed size of `app/requirements.txt` (from the package index).
The steady-state cost (token requests, challenges, GETs per poll) is `python -m twin.bench`'s part.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "app")]

from secret_reader.reader import STOPPED_LINE  # noqa: E402

from tests.app_fakes import APP_DIR, App, FakeAzure, app_env, key_vault_error, start_proxy  # noqa: E402
from twin.proxy import Proxy  # noqa: E402
from twin.run import GUARD_MARK  # noqa: E402


def shutdown(runs: int) -> None:
    with tempfile.TemporaryDirectory() as shared:
        proxy = start_proxy(Path(shared))
        try:
            for moment in ("sleep", "backoff"):
                times = [_time_to_exit(moment, proxy) for _ in range(runs)]
                print(
                    f"SIGTERM to exit, mid-{moment}: median {statistics.median(times) * 1000:.0f} ms "
                    f"over {runs} runs (max {max(times) * 1000:.0f} ms)"
                )
        finally:
            proxy.stop()


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


def installed_size() -> None:
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
            print(f"installed size: pip failed ({done.stderr.strip().splitlines()[-1:]})")
            return
        total = sum(f.stat().st_size for f in Path(target).rglob("*") if f.is_file() and not f.is_symlink())
        dists = sorted(p.name.removesuffix(".dist-info") for p in Path(target).glob("*.dist-info"))
        print(f"installed size of app/requirements.txt: {total / 1e6:.1f} MB in {len(dists)} distributions")
        print("  " + ", ".join(dists))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-size", action="store_true", help="do not reach PyPI")
    args = parser.parse_args()
    os.environ.pop("PYTHONPATH", None)
    shutdown(args.runs)
    if not args.skip_size:
        installed_size()


if __name__ == "__main__":
    main()
