"""The project report builds from a real run, fits in 7 pages and quotes that run's numbers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader

from mlcycle.model.registry import Registry

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SECTIONS = (
    "1. The ML application",
    "2. Design and implementation",
    "The pipeline",
    "The prediction service",
    "The web UI",
    "CI/CD and deployment",
    "3. Reflection",
    "4. For a new contributor",
)


@pytest.fixture(scope="module")
def built(trained_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report") / "report.pdf"
    result = subprocess.run(
        [
            sys.executable,
            "scripts/build_report.py",
            "--root",
            str(trained_root),
            "--output",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    text = "\n".join(page.extract_text() for page in PdfReader(out).pages)
    # NFKC undoes the typesetter's ligatures ("ﬁ", "ﬂ").
    return out, re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text))


def test_at_most_seven_pages_with_every_section(built) -> None:
    pdf, text = built
    assert 1 <= len(PdfReader(pdf).pages) <= 7
    for heading in SECTIONS:
        assert heading in text, heading


def test_quotes_the_champion_of_the_run_it_was_built_from(built, trained_root: Path) -> None:
    pdf, text = built
    champion = Registry(str(trained_root)).champion()
    source = json.loads((pdf.parent / "build" / "report-source.json").read_text())
    assert source["version"] == champion.version
    assert champion.version in text
    metrics = champion.metrics
    row = " ".join(
        f"{metrics[k]:.4f}" for k in ("roc_auc", "accuracy", "precision", "recall", "f1", "brier")
    )
    assert row in text  # the results table, in the order of its columns


def test_says_what_the_operating_point_costs(built, trained_root: Path) -> None:
    _, text = built
    champion = Registry(str(trained_root)).champion()
    m, point = champion.metrics, champion.operating_point
    assert f"{point.threshold:.4f}" in text
    for suffix in ("", "_argmax"):  # recall, precision, specificity, false alarms per 100
        row = (
            " ".join(f"{m[k + suffix]:.4f}" for k in ("recall", "precision", "specificity"))
            + f" {m['false_alarms_per_100' + suffix]:.1f}"
        )
        assert row in text, row


def test_quotes_the_benchmark_results(built) -> None:
    _, text = built
    serve = json.loads((REPO / "bench/results/serve.json").read_text())
    mlcycle_c32 = serve["models"]["linear"]["servers"]["mlcycle"]["c32"]["requests_per_s"]
    assert f"{mlcycle_c32:,.0f}" in text
