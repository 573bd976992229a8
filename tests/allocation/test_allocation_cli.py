"""The command line: a result for a valid instance, exit 2 naming the culprit otherwise."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.allocation.__main__ import main

ROOT = Path(__file__).resolve().parents[2]

VALID: dict[str, Any] = {
    "n_choices": 2,
    "slots": [0, 1],
    "workshops": [
        {"id": "W1", "slot": 0, "capacity": 1, "eligible": None},
        {
            "id": "W2",
            "slot": 0,
            "capacity": 2,
            "eligible": ["mayor"],
            "groups": [{"id": "W2-a", "capacity": 1}, {"id": "W2-b", "capacity": 1}],
        },
        {"id": "W3", "slot": 1, "capacity": 1, "eligible": None},
    ],
    "participants": [
        {
            "id": "P1",
            "category": "mayor",
            "city": "Łódź",
            "sector": "public",
            "prefs": {"0": ["W1", "W2"], "1": ["W3"]},
        },
        {"id": "P2", "category": "other", "city": "Łódź", "sector": "private", "prefs": {"0": ["W1"], "1": ["W3"]}},
    ],
    "mixing": {"attribute": "city", "max_per_group": 1},
}


def write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_valid_instance_gives_result_json(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    completed = subprocess.run(
        [sys.executable, "-m", "app.allocation", write(tmp_path, VALID), "--seed", "3", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["seed"] == 3 and result["method"] == "fair"
    assert {a["participant"] for a in result["assignments"]} == {"P1", "P2"}
    assert all(set(a) == {"participant", "workshop", "group", "slot", "rank"} for a in result["assignments"])
    assert result["stats"]["overall"]["left_with_nothing"] == 0


@pytest.mark.parametrize("objective", ["fair", "linear", "rank-maximal"])
def test_objectives_and_explanations_on_stdout(
    tmp_path: Path, objective: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([write(tmp_path, VALID), "--objective", objective, "--explain"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == objective
    assert len(result["explanations"]) == 4


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    change(data)
    return data


BAD = [
    ("unknown workshop", lambda d: d["participants"][0]["prefs"].update({"0": ["W9"]}), ["P1", "W9"]),
    ("ranked twice", lambda d: d["participants"][1]["prefs"].update({"0": ["W1", "W1"]}), ["P2", "W1"]),
    ("negative capacity", lambda d: d["workshops"][0].update(capacity=-1), ["W1"]),
    ("negative group capacity", lambda d: d["workshops"][1]["groups"][0].update(capacity=-1), ["W2-a"]),
    ("slot mismatch", lambda d: d["participants"][1]["prefs"].update({"1": ["W1"]}), ["P2", "W1"]),
    ("too many choices", lambda d: d["participants"][0]["prefs"].update({"0": ["W1", "W2", "W1"]}), ["P1"]),
    ("groups do not sum", lambda d: d["workshops"][1].update(capacity=3), ["W2"]),
    ("duplicate participant", lambda d: d["participants"].append(copy.deepcopy(d["participants"][0])), ["P1"]),
    ("duplicate workshop", lambda d: d["workshops"].append(copy.deepcopy(d["workshops"][2])), ["W3"]),
    ("duplicate group", lambda d: d["workshops"][1]["groups"][1].update(id="W2-a"), ["W2-a"]),
    ("unknown slot", lambda d: d["participants"][0]["prefs"].update({"7": ["W1"]}), ["P1", "7"]),
    ("workshop in unknown slot", lambda d: d["workshops"][2].update(slot=5), ["W3"]),
    ("missing category", lambda d: d["participants"][1].pop("category"), ["P2", "category"]),
    ("bad mix attribute", lambda d: d["mixing"].update(attribute="shoe size"), ["mixing.attribute"]),
    ("bad n_choices", lambda d: d.update(n_choices=0), ["n_choices"]),
]


@pytest.mark.parametrize(("name", "change", "named"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_naming_the_culprit(
    tmp_path: Path, name: str, change: Any, named: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([write(tmp_path, broken(change))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    for word in named:
        assert word in captured.err
    assert "Traceback" not in captured.err


def test_unreadable_and_malformed_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main([str(bad)]) == 2
    assert main([write(tmp_path, [1, 2])]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bad_input_subprocess_has_no_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "app.allocation", write(tmp_path, broken(BAD[0][1]))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "P1" in completed.stderr and "W9" in completed.stderr
    assert "Traceback" not in completed.stderr
