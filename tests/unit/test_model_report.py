"""The per-version HTML model report."""

import re

from mlcycle.model.report import render_report
from mlcycle.model.version import ModelVersion

PNG = b"\x89PNG\r\n\x1a\nfake"


def _metadata(**changes):
    meta = {
        "dataset": "demo",
        "version": "20260101-000000-abcdef",
        "created_at": "2026-01-01T00:00:00+00:00",
        "gate": {
            "decision": "promoted",
            "promote": True,
            "reasons": ["roc_auc 0.9900 passes threshold 0.98"],
        },
        "metrics": {
            "roc_auc": 0.99,
            "accuracy": 0.95,
            "precision": 0.9,
            "recall": 0.96,
            "f1": 0.93,
            "brier": 0.04,
        },
        "evaluation": {"classes": ["a", "b"], "confusion": [[5, 1], [0, 6]], "test_rows": 12},
        "champion_at_evaluation": {
            "version": "old",
            "metrics": {
                "roc_auc": 0.98,
                "accuracy": 0.95,
                "precision": 0.92,
                "recall": 0.9,
                "f1": 0.91,
                "brier": 0.05,
            },
        },
        "training": {
            "chosen": "lr",
            "scoring": "roc_auc",
            "candidates": [
                {
                    "name": "lr",
                    "estimator": "logistic_regression",
                    "best_params": {"C": 1.0},
                    "cv_score": 0.99,
                    "cv_std": 0.01,
                    "grid_size": 3,
                    "seconds": 0.4,
                }
            ],
        },
        "data": {
            "validation": {
                "warnings": [
                    {
                        "rule": "unknown_column",
                        "column": "<script>x</script>",
                        "message": "not a known feature; dropped",
                        "count": None,
                        "examples": [],
                        "file": None,
                    }
                ],
                "info": {
                    "rows": 60,
                    "class_counts": {"a": 30, "b": 30},
                    "rows_by_file": {"up.csv": 60},
                },
            },
            "cleaning": {
                "rows_out": 58,
                "dropped_columns": ["id"],
                "dropped_duplicate_rows": 2,
                "dropped_unlabelled_rows": 0,
                "missing_values_left_for_imputation": {"x": 3},
            },
        },
        "schema": {
            "label": "y",
            "classes": ["a", "b"],
            "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}],
        },
        "model": {"file": "model.joblib", "sha256": "f" * 64, "candidate": "lr"},
        "onnx": {"status": "exported", "input_dtype": "float32", "max_abs_diff": 3e-7},
        "lineage": {
            "data_hash": "d" * 64,
            "snapshot_uri": "gs://b/p/snap",
            "pipeline_run": "run-1",
            "git_commit": "abc123",
            "code_version": "c0de",
            "libraries": {"scikit-learn": "1.9.1"},
            "parameters": {"cv_folds": 5},
        },
    }
    return ModelVersion.model_validate(meta | changes)


def test_report_holds_every_section_with_the_run_s_numbers() -> None:
    html = render_report(_metadata(), {"roc_curve.png": PNG, "confusion_matrix.png": PNG})
    for heading in (
        "Gate decision",
        "Test metrics",
        "Data",
        "Validation",
        "Cleaning",
        "Training",
        "Serving",
        "Lineage",
    ):
        assert f">{heading}</h" in html
    assert "roc_auc 0.9900 passes threshold 0.98" in html
    assert (
        "0.9900" in html and "0.9800" in html and "+0.0100" in html
    )  # challenger, champion, delta
    assert "up.csv" in html and "gs://b/p/snap" in html and "abc123" in html
    assert "5-fold" in html and "max_abs_diff" not in html and "3.0e-07" in html


def test_images_are_embedded_and_nothing_is_fetched() -> None:
    html = render_report(_metadata(), {"roc_curve.png": PNG})
    assert html.count("data:image/png;base64,") == 1
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_everything_from_data_is_escaped() -> None:
    html = render_report(_metadata(), {})
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_first_version_has_no_champion_column_values() -> None:
    html = render_report(_metadata(champion_at_evaluation=None, onnx=None), {})
    assert "There was no champion to compare with." in html
    assert "No ONNX export recorded" in html


def test_cleaning_says_which_rule_dropped_duplicates_and_counts_shared_rows() -> None:
    meta = _metadata()
    meta.data.cleaning.deduplicate = "records"
    meta.data.cleaning.rows_sharing_features_kept = 7
    html = render_report(meta, {})
    assert "duplicate rows dropped: 2, by rule: the same record twice" in html
    assert "share every feature and the label with another (distinct records): 7" in html


def test_cleaning_of_a_version_before_the_rule_says_it_dropped_by_features() -> None:
    html = render_report(_metadata(), {})  # no `deduplicate` field, as older versions
    assert "duplicate rows dropped: 2, by rule: rows equal once the id" in html
    assert "before the rule was configurable" in html
