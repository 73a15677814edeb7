"""Small helpers shared by the test suites (importable as `support`: tests/ is on sys.path)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def roc_auc_on(model, frame, target: str = "diagnosis", positive: str = "malignant") -> float:
    """A loaded model's ROC AUC on a labelled frame (its id and target columns dropped): proof
    that what a registry hands back is the trained model, not merely something unpickled."""
    from sklearn.metrics import roc_auc_score

    features = frame.drop(columns=["id", target])
    column = list(model.classes_).index(positive)
    return roc_auc_score(frame[target] == positive, model.predict_proba(features)[:, column])
