"""Regenerating bench/RESULTS.md keeps the sections measured by hand (run.py cannot remeasure
them) and writes everything else afresh."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import report  # noqa: E402

HAND = """
## Parser through Lark's public API

Measured by hand: a table.

| a | b |
|---|---|

## Hostile sizes

Measured by hand too.
"""


def test_regenerating_keeps_the_hand_written_sections(tmp_path: Path) -> None:
    data = json.loads((BENCH / "results.json").read_text(encoding="utf-8"))
    out = tmp_path / "RESULTS.md"
    out.write_text("# old title\n\n## Compile time against network count\n\nstale\n" + HAND)
    report.write_report(out, data)
    first = out.read_text(encoding="utf-8")
    assert "stale" not in first and "# old title" not in first
    assert first.startswith("# netc benchmark results")
    assert first.endswith(HAND), first[-400:]
    assert first.count("## Compile time against network count") == 1
    report.write_report(out, data)
    assert out.read_text(encoding="utf-8") == first


def test_the_repository_report_keeps_its_hand_written_sections() -> None:
    text = (BENCH / "RESULTS.md").read_text(encoding="utf-8")
    kept = "\n".join(report.hand_written(text))
    for title in report.HAND_WRITTEN:
        assert f"\n## {title}\n" in kept
        assert text.count(f"## {title}") == 1
