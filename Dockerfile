# syntax=docker/dockerfile:1
#
# One recipe, three images; pick one with --target:
#   pipeline  what every Vertex AI pipeline step runs in, and `mlcycle run|submit|watch`
#             (extras `cloud` and `export`: the cloud SDK, so Cloud Build can submit from it,
#             and the ONNX converter, so every model it trains gets its fast path)
#   api       the prediction API: `mlcycle serve` (extra `api`; no cloud SDK, no converter)
#   ui        the web UI: `mlcycle ui` (extra `ui`; no cloud SDK)
#
#   docker build --target api -t mlcycle-api .
#
# Every Python package comes from constraints.txt, the project's one lock file, installed by
# uv (pinned there too): seconds where pip takes minutes. Build stages hold the source and
# the installers; the final stages hold only a virtualenv, the configs and a user.
#
# PYTHON_IMAGE: any Debian-based image with Python 3.11 and `python -m venv`. The container
# tier (make test-containers) passes one it made locally, with no registry pull.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: one virtualenv per set of extras ------------------------------------------------
# UV_COMPILE_BYTECODE: the images ship every .pyc. The runtime sets PYTHONDONTWRITEBYTECODE,
# so without them each Vertex AI step and each Cloud Run cold start compiles its imports.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON=/opt/venv/bin/python
WORKDIR /src
COPY constraints.txt ./
RUN python -m venv /opt/uv \
 && /opt/uv/bin/pip install --constraint constraints.txt "uv==$(sed -n 's/^uv==//p' constraints.txt)" \
 && python -m venv /opt/venv
# The dependencies come first, installed through an empty stand-in package in its own
# folder, so that this slow layer depends on the lock only. The real source is then built in
# a folder that never held a build of the stand-in (an old build/lib/mlcycle/__init__.py
# once shipped in place of the real one).
COPY pyproject.toml README.md /stub/
RUN mkdir -p /stub/src/mlcycle && touch /stub/src/mlcycle/__init__.py
COPY pyproject.toml README.md ./

FROM build AS build-pipeline
RUN /opt/uv/bin/uv pip install --constraint constraints.txt "/stub[cloud,export]"
COPY src ./src
RUN /opt/uv/bin/uv pip install --no-deps --reinstall --constraint constraints.txt . \
 && /opt/venv/bin/python -c "import mlcycle, mlcycle.pipeline.components, kfp, google.cloud.aiplatform, skl2onnx, onnx, onnxruntime; print('mlcycle', mlcycle.__version__)"

FROM build AS build-api
RUN /opt/uv/bin/uv pip install --constraint constraints.txt "/stub[api]"
COPY src ./src
RUN /opt/uv/bin/uv pip install --no-deps --reinstall --constraint constraints.txt . \
 && /opt/venv/bin/python -c "import mlcycle, mlcycle.api.app, onnxruntime; print('mlcycle', mlcycle.__version__)"

FROM build AS build-ui
RUN /opt/uv/bin/uv pip install --constraint constraints.txt "/stub[ui]"
COPY src ./src
RUN /opt/uv/bin/uv pip install --no-deps --reinstall --constraint constraints.txt . \
 && /opt/venv/bin/python -c "import mlcycle, mlcycle.ui.app; print('mlcycle', mlcycle.__version__)"

# -- runtime: what the three images share ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG GIT_COMMIT=""
# /data is the default root; created here so that a named volume mounted on it is writable
# by the non-root user (Docker copies the mount point's owner into a new volume).
RUN groupadd --gid 10001 mlcycle \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin mlcycle \
 && install -d -o 10001 -g 10001 /data
WORKDIR /app
COPY configs ./configs
# python3 on PATH must be the virtualenv's: Vertex AI runs each step as `python3 -m kfp...`.
# gcsfs's experimental HNS support makes a layout call per operation (and stalls against an
# emulator): off, as in the tests.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false \
    MLCYCLE_ROOT=/data \
    MLCYCLE_CONFIG=/app/configs/breast_cancer.yaml \
    MLCYCLE_GIT_COMMIT=${GIT_COMMIT}

# -- targets --------------------------------------------------------------------------------
FROM runtime AS pipeline
COPY --from=build-pipeline /opt/venv /opt/venv
# Root by default: Vertex AI's /gcs/ mount, where KFP writes every step's artifacts, is
# known to work for root, and non-root writers have failed there (kubeflow/pipelines#5673,
# #6530; see docs/deploy.md). The non-root user exists; the container tier runs every step
# as 10001, or build a non-root image with --build-arg PIPELINE_USER=10001:10001.
ARG PIPELINE_USER=0:0
USER ${PIPELINE_USER}
ENTRYPOINT ["mlcycle"]
CMD ["run"]

FROM runtime AS ui
COPY --from=build-ui /opt/venv /opt/venv
USER 10001:10001
# Cloud Run sets PORT (it must be obeyed: a fixed --port here once ignored it); 8080 when
# nothing does, as under docker compose.
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["mlcycle"]
CMD ["ui", "--host", "0.0.0.0"]

# Last, so that a plain `docker build .` gives the API.
FROM runtime AS api
COPY --from=build-api /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["mlcycle"]
# The port comes from PORT (Cloud Run) or AIP_HTTP_PORT (Vertex AI), else 8080.
CMD ["serve", "--host", "0.0.0.0"]
