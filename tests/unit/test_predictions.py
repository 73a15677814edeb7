"""The prediction log's layout: what the API writes is what feedback and drift read."""

from datetime import UTC, datetime, timedelta

from mlcycle import predictions

CLASSES = ["benign", "malignant"]
TYPES = {"radius": "numeric", "colour": "categorical"}


def _rows(when: datetime, request_id: str, n: int, version: str = "v1") -> list[dict]:
    return [
        {
            "time": when,
            "request_id": request_id,
            "row": i,
            "version": version,
            "label": "benign",
            "warnings": "[]",
            "p.benign": 0.8,
            "p.malignant": 0.2,
            "f.radius": float(i) if i else None,
            "f.colour": "red",
        }
        for i in range(n)
    ]


def test_rows_written_are_read_back_with_their_types(tmp_path):
    now = datetime.now(UTC)
    uri = predictions.write_part(str(tmp_path), "v1", _rows(now, "r1", 3), CLASSES, TYPES)
    assert f"/predictions/date={now.date().isoformat()}/version=v1/" in uri
    frame = predictions.read(str(tmp_path))
    assert list(frame["row"]) == [0, 1, 2]
    feats = predictions.features(frame)
    assert list(feats.columns) == ["radius", "colour"]
    assert feats["radius"].isna().tolist() == [True, False, False]
    assert feats["radius"].dtype == "float64"


def test_read_filters_by_time_and_version(tmp_path):
    root, now = str(tmp_path), datetime.now(UTC)
    old = now - timedelta(days=3)
    predictions.write_part(root, "v1", _rows(old, "old", 2), CLASSES, TYPES)
    predictions.write_part(root, "v1", _rows(now, "new", 2), CLASSES, TYPES)
    predictions.write_part(root, "v2", _rows(now, "other", 1, "v2"), CLASSES, TYPES)
    assert len(predictions.read(root)) == 5
    recent = predictions.read(root, since=now - timedelta(hours=1))
    assert set(recent["request_id"]) == {"new", "other"}
    assert set(
        predictions.read(root, since=now - timedelta(hours=1), version="v2")["request_id"]
    ) == {"other"}


def test_an_empty_log_reads_as_no_rows(tmp_path):
    assert predictions.read(str(tmp_path)).empty


def test_a_root_whose_path_looks_like_a_partition_is_read_whole(tmp_path):
    root = tmp_path / "date=2000-01-01" / "version=old"
    now = datetime.now(UTC)
    predictions.write_part(str(root), "v1", _rows(now, "r1", 2), CLASSES, TYPES)
    assert len(predictions.read(str(root), since=now - timedelta(hours=1), version="v1")) == 2
