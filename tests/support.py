"""Small helpers shared by the test suites (importable as `support`: tests/ is on sys.path)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """An ASGI app under uvicorn in a thread on a free 127.0.0.1 port: real HTTP, real
    concurrency, and the app's lifespan (model loading) run before the first request."""

    def __init__(self, app: Any, **options: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            **options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"{self.url}: the server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def roc_auc_on(model, frame, target: str = "diagnosis", positive: str = "malignant") -> float:
    """A loaded model's ROC AUC on a labelled frame (its id and target columns dropped): proof
    that what a registry hands back is the trained model, not merely something unpickled."""
    from sklearn.metrics import roc_auc_score

    features = frame.drop(columns=["id", target])
    column = list(model.classes_).index(positive)
    return roc_auc_score(frame[target] == positive, model.predict_proba(features)[:, column])


def champion_trained_for(root: Any, dataset: str) -> str:
    """Register and promote a dummy two-class model whose metadata says it was trained for
    `dataset`, in the registry at `root`; returns its version."""
    import io

    import joblib
    from sklearn.dummy import DummyClassifier

    from mlcycle.model.registry import Registry

    model = io.BytesIO()
    joblib.dump(DummyClassifier().fit([[0], [1]], ["a", "b"]), model)
    registry = Registry(str(root))
    meta = registry.register(
        {"model.joblib": model.getvalue()},
        {
            "dataset": dataset,
            "metrics": {},
            "gate": {"decision": "promoted"},
            "lineage": {},
            "schema": {"label": "cultivar", "classes": ["a", "b"], "features": []},
        },
    )
    registry.promote(meta.version, ["first"])
    return meta.version
