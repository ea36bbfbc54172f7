"""``python -m recsys``: output, JSON, and exit code 2 with one line on bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from recsys.cli import main
from recsys.progress import TqdmProgress


def run(args, capsys):
    code = main(args + ["--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_pop_prints_hr_and_ndcg(capsys, tmp_path):
    code, out, _ = run(["evaluate", "--model", "pop", "--json", str(tmp_path / "r.json")], capsys)
    assert code == 0
    assert "hr@10" in out and "ndcg@10" in out and "leave-one-out by time" in out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["results"][0]["metrics"]["ndcg@10"] == pytest.approx(0.0449, abs=1e-4)
    assert saved["results"][0]["candidates"] == "full ranking"


def test_train_then_recommend_reuses_the_artifact(capsys):
    code, out, _ = run(["train", "--model", "pop"], capsys)
    assert code == 0 and "trained" in out
    code, out, _ = run(["train", "--model", "pop"], capsys)
    assert "loaded" in out
    code, out, _ = run(["recommend", "--model", "pop", "--user", "1", "--k", "5"], capsys)
    assert code == 0 and "English Patient" in out and out.count("\n") >= 6


def test_info(capsys):
    code, out, _ = run(["info"], capsys)
    assert code == 0 and "943" in out and "1,682" in out and "100,000" in out


@pytest.mark.parametrize("args, message", [
    (["recommend", "--model", "pop", "--user", "999999"], "unknown user"),
    (["info", "--dataset", "/no/such/folder"], "no such file"),
    (["train", "--model", "pop", "--param", "half_life_days=-2"], "half_life_days must be a number > 0"),
    (["train", "--model", "pop", "--param", "alpha=1"], "no parameter"),
    (["train", "--model", "pop", "--param", "oops"], "key=value"),
])
def test_bad_input_exits_2_with_one_line(capsys, args, message):
    code, out, err = run(args, capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_bad_csv_reports_file_line_column(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user,item,rating\n1,2,3\n1,4,five\n")
    code, _, err = run(["info", "--dataset", str(path)], capsys)
    assert code == 2 and "bad.csv, line 3, column 'rating'" in err


def test_bad_k_and_unknown_model_exit_2(capsys):
    for args in (["evaluate", "--k", "0"], ["evaluate", "--model", "nope"]):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2


def test_module_entry_point_runs():
    env = {**os.environ}
    proc = subprocess.run([sys.executable, "-m", "recsys", "info"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0 and "interactions" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "recsys", "info", "--dataset", "nope.csv"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("python -m recsys: error:")


def test_progress_prints_lines_where_no_bar_can_be_drawn(capsys):
    # Under pytest stderr is captured (not a terminal): a minutes-long fit must still say where it is,
    # as it does in a CI log or `make run | tee`.
    with TqdmProgress("gpt", every=3600) as bar:
        bar(0.0, "epoch 1")
        bar(0.5, "epoch 20")  # within `every` of the first line: not printed
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["gpt:   0% after 0 s, epoch 1"], lines
    with TqdmProgress("bert", every=0) as bar:
        for epoch in range(3):
            bar(epoch / 2, f"epoch {epoch + 1}")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" after ")[0] for line in lines] == ["bert:   0%", "bert:  50%", "bert: 100%"], lines
