"""`python -m twin` as a new user meets it: clear refusals for bad stacks and options, and the app's own exit."""

from __future__ import annotations

from dataclasses import replace

import pytest

import twin.__main__ as cli
from twin.declared import from_program
from twin.mocks import run_program
from twin.model import Declarations

FAST = ["--reads", "1", "--poll-interval", "0.05", "--timeout", "20"]


def test_missing_stack_file_is_named_with_the_stack_files_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--stack", "nosuchstack"]) == 1
    err = capsys.readouterr().err
    assert "No stack file Pulumi.nosuchstack.yaml" in err
    assert "Pulumi.dev.yaml" in err
    assert "Traceback" not in err


def test_invalid_setting_prints_the_settings_error_alone(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "run_program", lambda stack: run_program({"nodeCount": "0"}, stack=stack))
    assert cli.main(["--stack", "dev"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: invalid stack settings:")
    assert "nodeCount" in err and "'0'" in err
    assert "Traceback" not in err


BAD_OPTIONS = {
    "no reads": (["--reads", "0"], "--reads: '0' is not a positive whole number of reads"),
    "negative reads": (["--reads", "-1"], "--reads: '-1' is not a positive whole number of reads"),
    "fractional reads": (["--reads", "1.5"], "--reads: '1.5' is not a positive whole number of reads"),
    "zero poll interval": (["--poll-interval", "0"], "--poll-interval: '0' is not a positive finite number of seconds"),
    "negative poll interval": (["--poll-interval", "-1"], "--poll-interval: '-1' is not a positive finite number"),
    "infinite poll interval": (["--poll-interval", "inf"], "--poll-interval: 'inf' is not a positive finite number"),
    "poll interval not a number": (["--poll-interval", "nan"], "--poll-interval: 'nan' is not a positive finite"),
    "word for a poll interval": (["--poll-interval", "soon"], "--poll-interval: 'soon' is not a positive finite"),
    "zero timeout": (["--timeout", "0"], "--timeout: '0' is not a positive finite number of seconds"),
}


@pytest.mark.parametrize(("argv", "message"), BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_bad_option_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.setattr(cli, "run_program", lambda stack: pytest.fail("ran the program despite a bad option"))
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_app_exiting_early_is_reported_with_its_exit_code_and_last_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pod running as the namespace's default account gets a token file but no client id: the app exits 2."""

    def without_client_id(program: object) -> Declarations:
        declared = from_program(program)  # type: ignore[arg-type]
        (reader,) = declared.workloads
        return replace(declared, workloads=(replace(reader, service_account_name="default"),))

    monkeypatch.setattr(cli, "from_program", without_client_id)
    assert cli.main([*FAST, "--timeout", "60"]) == 1
    err = capsys.readouterr().err
    assert "reader: the app exited with code 2 before reading the secret 1 times: " in err
    assert "configuration error: AZURE_CLIENT_ID: is not set" in err
    assert "in 60 s" not in err


def test_dev_stack_reads_through_the_whole_chain(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(FAST) == 0
    out = capsys.readouterr().out
    assert "Every workload's app (1) read its own secret 1 times through the whole chain." in out
    assert "Isolation" not in out  # one workload: no pairs to prove
    assert "Traceback" not in out
