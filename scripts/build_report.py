"""Build the project report: docs/report.md (a Jinja2 template over Markdown) -> PDF.

    .venv/bin/python scripts/build_report.py [--root ROOT] [--output docs/report.pdf]

Every figure in the report comes from a source, never from the text: the champion's metrics
and plots from a real pipeline run (a fresh one under docs/build/root unless --root names a
trained root), serving and pipeline speed from bench/results/*.json. The HTML is printed to
PDF by the headless Chromium the UI tests use. docs/build/report-source.json records which
run the report was built from.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import markdown
from chromium import EXECUTABLE, FLAGS
from jinja2 import Environment, FileSystemLoader, StrictUndefined

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

if TYPE_CHECKING:
    from mlcycle.model.version import ModelVersion


def champion_of(root: str, train: bool) -> ModelVersion:
    """The champion's record, running the pipeline first when asked (or when none exists)."""
    from mlcycle.config import load_config
    from mlcycle.model.registry import Registry
    from mlcycle.pipeline.local import run_pipeline

    if train or Registry(root).champion_version() is None:
        result = run_pipeline(root, load_config(REPO / "configs" / "breast_cancer.yaml"))
        if not result.ok:
            raise SystemExit(f"the pipeline failed; log: {result.log_path}")
    champion = Registry(root).champion()
    if champion is None:
        raise SystemExit("the pipeline ran but promoted no champion: nothing to report")
    return champion


def figures() -> dict[str, Any]:
    """The benchmark results, as committed under bench/results/."""
    return {
        path.stem: json.loads(path.read_text())
        for path in sorted((REPO / "bench" / "results").glob("*.json"))
    }


def render_html(champion: ModelVersion, images: dict[str, str]) -> str:
    env = Environment(
        loader=FileSystemLoader(DOCS),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["f4"] = lambda v: f"{v:.4f}"
    env.filters["f1"] = lambda v: f"{v:.1f}"
    env.filters["int"] = lambda v: f"{v:,.0f}"
    text = env.get_template("report.md").render(m=champion, bench=figures(), images=images)
    body = markdown.markdown(text, extensions=["tables", "fenced_code", "attr_list"])
    css = (DOCS / "report.css").read_text()
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>mlcycle: project report</title><style>{css}</style></head>"
        f"<body>{body}</body></html>"
    )


def print_pdf(html: Path, pdf: Path) -> None:
    chromium = shutil.which("chromium") or EXECUTABLE
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *FLAGS,
                "--no-pdf-header-footer",
                f"--user-data-dir={profile}",
                f"--print-to-pdf={pdf}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    if not pdf.exists() or pdf.stat().st_size == 0:
        raise SystemExit(f"chromium wrote no PDF to {pdf}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", help="a trained root to report on (default: train afresh into docs/build/root)"
    )
    parser.add_argument("--output", type=Path, default=DOCS / "report.pdf")
    args = parser.parse_args()

    build = args.output.resolve().parent / "build" if args.root else DOCS / "build"
    if not args.root and build.exists():
        shutil.rmtree(build)
    build.mkdir(parents=True, exist_ok=True)
    root = args.root or str(build / "root")
    champion = champion_of(root, train=not args.root)

    from mlcycle.model.registry import Registry

    images = {"predict": str(DOCS / "images" / "predict.png")}
    for name in ("roc_curve.png", "confusion_matrix.png", "calibration_curve.png"):
        target = build / name
        target.write_bytes(Registry(root).read_artifact(champion.version, name))
        images[name.removesuffix(".png")] = str(target)
    html = build / "report.html"
    html.write_text(render_html(champion, images))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    print_pdf(html, args.output.resolve())
    (build / "report-source.json").write_text(
        json.dumps(
            {"root": root, "version": champion.version, "metrics": champion.metrics}, indent=2
        )
        + "\n"
    )
    print(f"wrote {args.output} from version {champion.version} in {root}")


if __name__ == "__main__":
    main()
