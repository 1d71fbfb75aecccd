"""`tests/mutate.py`'s own arithmetic: which mutants a sample draws and runs, and what the report counts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import mutate
import pytest

KILLED, SURVIVED = 1, 0


@pytest.fixture
def mutants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int | None]:
    """One source file with 40 mutants: 20 killed, 5 survived, 15 not run; the equivalents list is empty."""
    codes: dict[str, int | None] = {f"m.x_f__mutmut_{i}": KILLED for i in range(20)}
    codes |= {f"m.x_g__mutmut_{i}": SURVIVED for i in range(5)}
    codes |= {f"m.x_h__mutmut_{i}": None for i in range(15)}
    (tmp_path / "m.py.meta").write_text(json.dumps({"exit_code_by_key": codes}), encoding="utf-8")
    (tmp_path / "equivalents.txt").write_text("", encoding="utf-8")
    monkeypatch.setattr(mutate, "MUTANTS", tmp_path)
    monkeypatch.setattr(mutate, "SAMPLE", tmp_path / "sample.txt")
    monkeypatch.setattr(mutate, "EQUIVALENTS", tmp_path / "equivalents.txt")
    monkeypatch.setattr(mutate, "mutated_files", lambda: [Path("m.py")])
    return codes


def test_a_sample_draws_the_share_of_all_files_and_runs_only_what_is_not_killed(
    mutants: dict[str, int | None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runs: list[list[str]] = []
    monkeypatch.setattr(mutate, "run_mutmut", runs.append)
    monkeypatch.setattr(mutate, "generate", lambda: runs.append(["generate"]))
    mutate.sample(percent=50, seed=1, max_children="2")
    drawn = mutate.SAMPLE.read_text(encoding="utf-8").split()
    assert len(drawn) == len(set(drawn)) == 20 and set(drawn) <= set(mutants)
    (generated, (run, children, *names)) = runs
    assert generated == ["generate"]
    assert (run, children) == ("run", "--max-children")
    assert names[0] == "2" and set(names[1:]) == {n for n in drawn if mutants[n] != KILLED}

    # A second file of 60 mutants, all killed: 10 % of the 100 is 10, drawn from both files alike, and a small file
    # gets no more than its share.
    other = {f"n.x_k__mutmut_{i}": KILLED for i in range(60)}
    (tmp_path / "n.py.meta").write_text(json.dumps({"exit_code_by_key": other}), encoding="utf-8")
    monkeypatch.setattr(mutate, "mutated_files", lambda: [Path("m.py"), Path("n.py")])
    runs.clear()
    drawn_by_seed = []
    for seed in range(20):
        mutate.sample(percent=10, seed=seed, max_children="2")
        drawn = mutate.SAMPLE.read_text(encoding="utf-8").split()
        assert len(drawn) == 10 and runs[0] == ["generate"]
        runs.clear()
        drawn_by_seed.append(sum(name.startswith("n.") for name in drawn))
    assert 0 < min(drawn_by_seed) and max(drawn_by_seed) < 10 and 4 <= sum(drawn_by_seed) / 20 <= 8


def test_the_sample_report_counts_only_the_drawn_mutants_and_the_full_one_all_run(
    mutants: dict[str, int | None], capsys: pytest.CaptureFixture[str]
) -> None:
    mutate.SAMPLE.write_text("m.x_f__mutmut_0\nm.x_f__mutmut_1\nm.x_f__mutmut_2\nm.x_g__mutmut_0\n", encoding="utf-8")
    assert mutate.report(minimum=80, sample_only=True) == 1
    total = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("total"))
    assert total.split()[1:4] == ["4", "3", "0"] and total.endswith("75.0%")
    assert mutate.report(minimum=0) == 0
    total = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("total"))
    assert total.split()[1:3] == ["40", "20"] and total.endswith("80.0%")


def test_the_wilson_interval_holds_the_sample_score_and_narrows_with_the_sample() -> None:
    small = mutate.wilson(Counter(killed=19, survived=1))
    large = mutate.wilson(Counter(killed=950, survived=50))
    assert small[0] < 95 < small[1] and large[0] < 95 < large[1]
    assert small[1] - small[0] > large[1] - large[0] > 0
    assert round(large[0], 1) == 93.5 and round(large[1], 1) == 96.2
    assert mutate.wilson(Counter()) == (0.0, 100.0)
