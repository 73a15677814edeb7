"""Feedback's core: items checked against the log, corrections, live metrics, append-only files."""

from datetime import UTC, datetime, timedelta

import pytest

from mlcycle import feedback, predictions

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def item(rid: str, label: str, predicted: str, row: int = 0, version: str = "v1", at: int = 0):
    return feedback.Feedback(
        request_id=rid,
        row=row,
        label=label,
        version=version,
        predicted=predicted,
        received_at=NOW + timedelta(seconds=at),
    )


def test_live_metrics_are_accuracy_and_the_positive_class_s_recall() -> None:
    items = [
        item("a", "malignant", "malignant"),
        item("b", "malignant", "benign"),
        item("c", "benign", "benign"),
        item("d", "benign", "malignant"),
        item("e", "malignant", "malignant", version="v0"),  # another version's: not counted
    ]
    live = feedback.live_metrics(items, "v1", "malignant")
    assert (live.rows, live.accuracy, live.recall) == (4, 0.5, 0.5)
    none = feedback.live_metrics([], "v1", "malignant")
    assert none.rows == 0 and none.accuracy is None and none.recall is None
    no_positive = feedback.live_metrics(items, "v1", None)
    assert no_positive.accuracy == 0.5 and no_positive.recall is None


def test_a_later_label_for_the_same_row_corrects_the_earlier(tmp_path) -> None:
    root = str(tmp_path)
    feedback.append(root, [item("a", "benign", "benign"), item("a", "benign", "benign", row=1)])
    feedback.append(root, [item("a", "malignant", "benign", at=5)])
    stored = feedback.read(root)
    assert len(stored) == 2 and stored[("a", 0)].label == "malignant"
    assert len(list((tmp_path / "feedback").rglob("*.jsonl"))) == 2  # nothing rewritten


def test_match_names_each_refused_item_by_index_and_id() -> None:
    logged = {("r1", 0): ("v1", "benign"), ("r1", 1): ("v1", "malignant")}
    accepted, problems = feedback.match(
        [("r1", 0, "malignant"), ("r2", 0, "benign"), ("r1", 5, "benign"), ("r1", 1, "x")],
        logged,
        {"r1"},
        lambda version: ["benign", "malignant"],
        NOW,
    )
    assert [(a.request_id, a.row, a.label, a.predicted) for a in accepted] == [
        ("r1", 0, "malignant", "benign")
    ]
    assert [(p.index, p.request_id, p.kind) for p in problems] == [
        (1, "r2", "unknown_id"),
        (2, "r1", "unknown_row"),
        (3, "r1", "unknown_label"),
    ]


@pytest.mark.parametrize("newest_only", [True, False])
def test_lookup_finds_ids_across_files(tmp_path, newest_only: bool) -> None:
    root, now = str(tmp_path), datetime.now(UTC)
    classes, types = ["benign", "malignant"], {"radius": "numeric"}

    def rows(rid: str, n: int, when: datetime) -> list[dict]:
        return [
            {
                "time": when,
                "request_id": rid,
                "row": i,
                "version": "v1",
                "label": "benign",
                "warnings": "[]",
                "p.benign": 0.9,
                "p.malignant": 0.1,
                "f.radius": 1.0,
            }
            for i in range(n)
        ]

    predictions.write_part(root, "v1", rows("old", 2, now - timedelta(days=2)), classes, types)
    predictions.write_part(root, "v1", rows("new", 3, now), classes, types)
    wanted = {"new"} if newest_only else {"new", "old", "absent"}
    found = predictions.lookup(root, wanted)
    assert set(found["request_id"]) == wanted - {"absent"}
    assert len(found) == (3 if newest_only else 5)
