"""Rotation, end to end: a secret changed in Key Vault reaches the file in each files workload's pod, and its app.

For every workload whose pod mounts a SecretProviderClass, a pod is started and its app reads once; then the first
object's secret gets a new value in the twin's Key Vault, and the lag is measured until the driver's next rotation
pass rewrote the file and, when the app reads that file (`SECRET_FILE`), until it logged the change. The goal is
the one the driver's docs set: within the rotation poll interval, plus 5 s for the fetch and the app's own poll.
The driver's passes are `SecretsStore.start(interval)`'s, started by the caller with the interval it injects.
When the stack's add-on has rotation off the driver makes no passes, so each files workload's proof fails, saying
so, rather than proving what the cluster would not do.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from aks_workload_identity import facts
from twin import csi
from twin.model import Workload
from twin.run import READ_LINE, Twin
from twin.webhook import PodRejected

#: The slack on top of the poll interval: the provider's sign-in and reads, and the app's next look at the file.
GOAL_SLACK_SECONDS = 5.0
#: The app's log line when the file's content changed (secret_reader.files).
CHANGED_LINE = r"INFO The secret file .* changed: now "
#: What the twin appends to the old value to make the new one.
ROTATED_SUFFIX = "-rotated"


@dataclass(frozen=True)
class Rotation:
    workload: str
    #: `<vault>/<secret>` that changed.
    secret: str
    interval: float
    #: Seconds from the change in Key Vault to the rewritten file, and to the app's log line; None: not seen.
    file_lag: float | None
    log_lag: float | None
    #: The app reads the file (file mode), so its log must follow too.
    app_reads_file: bool = True
    #: Why the proof could not run for this workload ("" when it ran).
    problem: str = ""

    @property
    def goal(self) -> float:
        return self.interval + GOAL_SLACK_SECONDS

    @property
    def ok(self) -> bool:
        lags = (self.file_lag, self.log_lag) if self.app_reads_file else (self.file_lag,)
        return not self.problem and all(lag is not None and lag <= self.goal for lag in lags)

    def render(self) -> str:
        if self.problem:
            return f"  {self.workload}: rotation not proven: {self.problem}"

        def shown(lag: float | None) -> str:
            return "not within the wait" if lag is None else f"{lag:.1f} s"

        verdict = "within" if self.ok else "NOT within"
        app = f"app logged it after {shown(self.log_lag)}" if self.app_reads_file else "the app reads Key Vault"
        return (
            f"  {self.workload}: {self.secret} changed in Key Vault -> file rewritten after {shown(self.file_lag)}, "
            f"{app}; {verdict} the goal of {self.goal:g} s "
            f"(poll interval {self.interval:g} s + {GOAL_SLACK_SECONDS:g} s)"
        )


def prove(twin: Twin, interval: float, app_poll_interval: float = 0.2, timeout: float = 30.0) -> list[Rotation]:
    """One rotation per files workload of the configured twin, whose store passes every `interval` seconds."""
    declarations = twin.declarations
    assert declarations is not None, "configure() first"
    addon = csi.addon_of(declarations)
    results = []
    for workload in declarations.workloads:
        if not csi.volumes_of(declarations, workload):
            continue
        if addon is None or not addon.rotation:
            # The driver never re-reads Key Vault: a changed secret reaches the pod only when it is re-created.
            off = f'rotation is off (the add-on\'s {facts.SECRET_ROTATION_CONFIG} is not "true")'
            results.append(Rotation(workload.name, "", interval, None, None, problem=off))
            continue
        results.append(_one(twin, workload, interval, app_poll_interval, timeout))
    return results


def _one(twin: Twin, workload: Workload, interval: float, app_poll: float, timeout: float) -> Rotation:
    def failed(problem: str) -> Rotation:
        return Rotation(workload.name, "", interval, None, None, problem=problem)

    try:
        app = twin.launch(app_poll, workload=workload)
    except PodRejected as refused:  # the API server's refusal or the kubelet's failed mount
        return failed(str(refused))
    with app:
        mount = app.mount
        if mount is None or not mount.objects:
            return failed("the pod has no mounted secrets")
        if not app.wait_for(READ_LINE, 1, timeout):
            return failed(f"the app did not read its file: {app.last_line}")
        name, old = next(iter(mount.objects.items()))  # the file's name; `old.name` is the secret's
        changed = csi.rotate_secret(twin, mount.spc.vault_name, old.name, old.value + ROTATED_SUFFIX)
        secret = f"{changed.vault_name}/{changed.name}"
        at = time.monotonic()
        deadline = at + timeout
        while not any(r[1] == name and r[3] == changed.version for r in mount.rotations):
            if time.monotonic() > deadline:
                return Rotation(workload.name, secret, interval, None, None, facts.SECRET_FILE_ENV in workload.env)
            time.sleep(0.05)
        written = next(r[0] for r in mount.rotations if r[1] == name and r[3] == changed.version)
        if facts.SECRET_FILE_ENV not in workload.env:
            return Rotation(workload.name, secret, interval, written - at, None, app_reads_file=False)
        logged = app.wait_for(CHANGED_LINE, 1, max(0.0, deadline - time.monotonic()))
        log_at = next((t for t, line in app.lines if logged and t >= at and _changed(line)), None)
        return Rotation(workload.name, secret, interval, written - at, None if log_at is None else log_at - at)


def _changed(line: str) -> bool:
    return re.search(CHANGED_LINE, line) is not None
