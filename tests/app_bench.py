"""Steady-state cost and shutdown latency of the real app against the local fake: `python tests/app_bench.py`.

Prints, for 100 polls: token requests, authorized secret GETs and 401 challenges the fake saw (a correct app
makes one token request per token lifetime and answers one challenge per process); then the median time from
SIGTERM to exit, mid-sleep and mid-backoff; then the installed size of `app/requirements.txt` (from PyPI).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.app_fakes import APP_DIR, App, FakeAzure, app_env, key_vault_error  # noqa: E402


def steady_state(polls: int, interval: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeAzure(Path(tmp)) as fake:
        with App(app_env(fake, POLL_INTERVAL_SECONDS=interval), Path(tmp)) as app:
            started = time.monotonic()
            app.wait_for(r"^Your secret is ", count=polls, timeout=120)
            elapsed = time.monotonic() - started
            gets, tokens, challenges = fake.count("get"), fake.count("token"), fake.count("challenge")
            app.stop()
        print(f"steady state: {polls} polls at POLL_INTERVAL_SECONDS={interval} in {elapsed:.1f} s")
        print(f"  token requests seen:  {tokens}")
        print(f"  secret GETs seen:     {gets} (authorized; may include one in flight)")
        print(f"  401 challenges seen:  {challenges}")


def shutdown(runs: int) -> None:
    for moment in ("sleep", "backoff"):
        times = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp, FakeAzure(Path(tmp)) as fake:
                if moment == "backoff":
                    fake.fail_secret_reads(key_vault_error(403, "Forbidden", "ForbiddenByRbac"))
                with App(app_env(fake, POLL_INTERVAL_SECONDS="30"), Path(tmp)) as app:
                    app.wait_for(r"Retrying in" if moment == "backoff" else r"^Your secret is ")
                    code, seconds = app.stop(signal.SIGTERM)
                    assert code == 0, app.output
                    times.append(seconds)
        print(
            f"SIGTERM to exit, mid-{moment}: median {statistics.median(times) * 1000:.0f} ms "
            f"over {runs} runs (max {max(times) * 1000:.0f} ms)"
        )


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
    parser.add_argument("--polls", type=int, default=100)
    parser.add_argument("--interval", default="0.01")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-size", action="store_true", help="do not reach PyPI")
    args = parser.parse_args()
    os.environ.pop("PYTHONPATH", None)
    steady_state(args.polls, args.interval)
    shutdown(args.runs)
    if not args.skip_size:
        installed_size()


if __name__ == "__main__":
    main()
