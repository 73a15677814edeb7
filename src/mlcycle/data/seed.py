"""Default data for a first run: the only code that knows the breast-cancer data set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcycle import storage

if TYPE_CHECKING:
    import pandas as pd


def breast_cancer_frame() -> pd.DataFrame:
    """The Wisconsin Diagnostic Breast Cancer data as its CSV looks in the wild."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer(as_frame=True)
    features = raw.data.rename(columns=lambda c: c.replace(" ", "_"))
    # sklearn encodes 0 = malignant, 1 = benign; keep the names, not the codes.
    diagnosis = raw.target.map(dict(enumerate(raw.target_names)))
    ids = pd.Series(range(842302, 842302 + len(features)), name="id")
    return pd.concat([ids, diagnosis.rename("diagnosis"), features], axis=1)


SEEDERS = {"sklearn_breast_cancer": breast_cancer_frame}


def seed_incoming(incoming_uri: str, seed_data: str) -> str:
    """Write the named default data set into the incoming folder; returns the file's URI."""
    frame = SEEDERS[seed_data]()
    uri = storage.join(incoming_uri, f"{seed_data}.csv")
    storage.write_text(uri, frame.to_csv(index=False))
    return uri
