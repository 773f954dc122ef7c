"""--scoring-only recomputes exactly what a run stored: calibrated actDCF/Cllr and bootstrap CIs, also for a
demo-style result merged from sub-runs (score files under ``<sub>/scores``, calibration under ``<sub>/train``,
the bootstrap count in the sub-run's config, the telephone run's relabelled seeds); a re-rendered report is
noted, not a failure."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from spoofbench.cli import main
from spoofbench.demo.merge import merge_results
from spoofbench.reproduce.record import record_command
from spoofbench.reproduce.reproduce import is_derived_output, scoring_only


def _merged_demo(tiny_run: Path, out: Path) -> Path:
    """Two copies of the tiny run merged the way the demo merges its ladder and telephone sub-runs."""
    runs = {}
    for sub in ("ladder", "telephone"):
        shutil.copytree(tiny_run, out / sub, ignore=shutil.ignore_patterns("manifest.json"))
        result = json.loads((out / sub / "result.json").read_text())
        if sub == "telephone":  # the telephone run scores per-seed checkpoints labelled DETECTOR@seedN, seed 0
            for cell in result["cells"]:
                cell["detector"] = f"{cell['detector']}@seed7"
            (out / sub / "result.json").write_text(json.dumps(result))
        runs[sub] = result
    merge_results(out, runs, name="demo-like", trained_on={"ladder": ["A"], "telephone": ["A"]},
                  not_ood_evidence={})
    assert main(["report", str(out), "-q"]) == 0
    record_command(out, ["demo"], {"name": "demo-like"}, [0], {"settings": {}}, command="demo",
                   digest_cache=out.parent / "digests")
    return out


def test_scoring_only_recomputes_calibrated_metrics_and_cis_of_a_merged_demo(tiny_run, tmp_path):
    stored = json.loads((tiny_run / "result.json").read_text())["cells"][0]["metrics"]
    assert stored["calibrated"] and stored["eer_ci95"] and stored["cllr"] != stored["cllr_raw"]
    demo = _merged_demo(tiny_run, tmp_path / "demo")
    merged = json.loads((demo / "result.json").read_text())
    assert "bootstrap" not in merged["config"] and any(c["seed"] == 7 for c in merged["cells"])

    report = scoring_only(demo, digest_cache=tmp_path / "digests")
    assert report.status == "reproduced", (report.reason, [(c.cell, c.note) for c in report.cells])
    assert len(report.cells) == 8 and all(c.status == "identical" for c in report.cells)

    # `spoofbench report` again (here: an edited report) is a re-render, not a failed reproduction
    (demo / "report.md").write_text((demo / "report.md").read_text() + "\nre-rendered\n")
    assert main(["report", str(demo), "-q"]) == 0
    (demo / "report.html").unlink()
    again = scoring_only(demo, digest_cache=tmp_path / "digests")
    assert again.status == "reproduced", again.reason
    assert any(f.startswith("re-rendered: report.html is absent") for f in again.findings), again.findings
    assert main(["reproduce", str(demo), "--scoring-only", "-q"]) == 0


def test_scoring_only_fails_without_the_calibration_or_with_an_edited_score_file(tiny_run, tmp_path):
    demo = _merged_demo(tiny_run, tmp_path / "demo")
    cell = json.loads((demo / "result.json").read_text())["cells"][0]
    calibration = next((demo / "ladder" / "train").glob("*/calibration.json"))
    calibration.rename(calibration.with_suffix(".bak"))
    missing = scoring_only(demo, digest_cache=tmp_path / "digests")
    assert missing.status == "not_reproduced"
    assert any(c.status == "failed" and "calibration is missing" in c.note for c in missing.cells)
    calibration.with_suffix(".bak").rename(calibration)

    score_file = demo / cell["score_file"]
    lines = score_file.read_text().splitlines()
    ident, value = lines[-1].rsplit(maxsplit=1)
    score_file.write_text("\n".join(lines[:-1] + [f"{ident} {float(value) + 5.0}"]) + "\n")
    edited = scoring_only(demo, digest_cache=tmp_path / "digests")
    assert edited.status == "not_reproduced"
    assert any(f.startswith("changed: file ladder/scores/") for f in edited.findings), edited.findings


def test_derived_outputs():
    assert is_derived_output("report.md") and is_derived_output("telephone/report.html")
    assert is_derived_output("tables/ladder.csv") and is_derived_output("plots/det.png")
    assert not is_derived_output("result.json") and not is_derived_output("ladder/scores/x/a_eval/none.txt")
