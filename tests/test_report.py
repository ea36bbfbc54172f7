"""The README's number tables are generated from bench/results: they must match, and none may be empty."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def report_module():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_are_the_results():
    report = report_module()
    text = (ROOT / "README.md").read_text()
    blocks = list(report.BLOCK.finditer(text))
    assert {m.group(2) for m in blocks} == set(report.TABLES)  # every generator has its place
    for m in blocks:
        assert m.group(3).strip(), f"the README's {m.group(2)} table is empty: run bench/report.py"
        assert "bench/results/" in m.group(3)  # says where its numbers come from
    assert report.render(text) == text, "README tables differ from bench/results: run bench/report.py"


def test_render_replaces_only_the_marked_blocks(monkeypatch):
    report = report_module()
    monkeypatch.setitem(report.TABLES, "quality", lambda: ["| a |", "| --- |", "| 1 |"])
    text = "before\n<!-- bench:quality -->\nold\n<!-- /bench:quality -->\nafter\n<!-- bench:nothing -->\nx\n<!-- /bench:nothing -->\n"
    out = report.render(text)
    assert out == ("before\n<!-- bench:quality -->\n| a |\n| --- |\n| 1 |\n<!-- /bench:quality -->\nafter\n"
                   "<!-- bench:nothing -->\nx\n<!-- /bench:nothing -->\n")


def test_merge_keeps_other_rows_and_the_commands_behind_them(tmp_path, monkeypatch):
    import json
    import sys

    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    old = {"command": "bench/models.py --models a b c", "ranking": [{"model": m, "v": 0} for m in "abc"],
           "rating": [{"model": "r", "v": 0}]}
    (tmp_path / "x.json").write_text(json.dumps(old))
    monkeypatch.setattr(sys, "argv", [str(ROOT / "bench" / "models.py"), "--models", "b", "d", "--merge"])
    fields, commands = common.merge_results("x", {"ranking": [{"model": "b", "v": 1}, {"model": "d", "v": 1}],
                                                  "rating": []})
    assert [(r["model"], r["v"]) for r in fields["ranking"]] == [("a", 0), ("b", 1), ("c", 0), ("d", 1)]
    assert fields["rating"] == old["rating"]             # a table this run did not make stays as it was
    assert commands == ["bench/models.py --models a b c", "bench/models.py --models b d --merge"]
    # once every model of a command has been re-run, that command made none of the rows: dropped
    (tmp_path / "x.json").write_text(json.dumps({**old, "commands": commands}))
    _, commands = common.merge_results("x", {"ranking": [{"model": m, "v": 2} for m in "abc"]})
    assert commands == ["bench/models.py --models b d --merge", "bench/models.py --models b d --merge"]


def test_merge_replaces_each_method_of_a_model(tmp_path, monkeypatch):
    # explain_methods.json holds one row per (model, method): a re-run replaces every one of them.
    import json

    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    old = [{"model": m, "method": k, "v": 0} for m in "ab" for k in ("occlusion", "shapley", "exact")]
    (tmp_path / "y.json").write_text(json.dumps({"command": "x", "results": old}))
    new = [{"model": "a", "method": k, "v": 1} for k in ("occlusion", "shapley")]
    fields, _ = common.merge_results("y", {"results": new})
    got = [(r["model"], r["method"], r["v"]) for r in fields["results"]]
    assert got == [("a", "occlusion", 1), ("a", "shapley", 1),           # a's exact row: not re-made
                   ("b", "occlusion", 0), ("b", "shapley", 0), ("b", "exact", 0)]
