# syntax=docker/dockerfile:1
#
# One recipe, three images; pick one with --target:
#   pipeline  what every Vertex AI pipeline step runs in, and `mlcycle run|submit|watch`
#             (carries the cloud SDK, extra `cloud`, so Cloud Build can submit from it)
#   api       the prediction API: `mlcycle serve` (extra `api`; no cloud SDK)
#   ui        the web UI: `mlcycle ui` (extra `ui`; no cloud SDK)
#
#   docker build --target api -t mlcycle-api .
#
# Every Python package comes from constraints.txt, the project's one lock file. Build stages
# hold the source and pip; the final stages hold only a virtualenv, the configs, and a
# non-root user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: one virtualenv per set of extras ------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
# An empty package stands in for the source so that this (slow) layer depends on the lock
# only: a code change does not reinstall the dependencies.
RUN mkdir -p src/mlcycle && touch src/mlcycle/__init__.py

FROM build AS build-pipeline
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --constraint constraints.txt ".[cloud]"
COPY src ./src
RUN /opt/venv/bin/pip install --no-deps --force-reinstall --constraint constraints.txt .

FROM build AS build-api
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --constraint constraints.txt ".[api]"
COPY src ./src
RUN /opt/venv/bin/pip install --no-deps --force-reinstall --constraint constraints.txt .

FROM build AS build-ui
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --constraint constraints.txt ".[ui]"
COPY src ./src
RUN /opt/venv/bin/pip install --no-deps --force-reinstall --constraint constraints.txt .

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
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MLCYCLE_ROOT=/data \
    MLCYCLE_CONFIG=/app/configs/breast_cancer.yaml \
    MLCYCLE_GIT_COMMIT=${GIT_COMMIT}

# -- targets --------------------------------------------------------------------------------
FROM runtime AS pipeline
COPY --from=build-pipeline /opt/venv /opt/venv
# Numeric, so that "run as non-root" checks can verify it without /etc/passwd. An escape
# hatch, should Vertex AI's /gcs mount refuse a non-root writer (not verified offline; see
# docs/deploy.md): --build-arg PIPELINE_USER=0.
ARG PIPELINE_USER=10001:10001
USER ${PIPELINE_USER}
ENTRYPOINT ["mlcycle"]
CMD ["run"]

FROM runtime AS ui
COPY --from=build-ui /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["mlcycle"]
CMD ["ui", "--host", "0.0.0.0", "--port", "8080"]

# Last, so that a plain `docker build .` gives the API.
FROM runtime AS api
COPY --from=build-api /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["mlcycle"]
# The port comes from PORT (Cloud Run) or AIP_HTTP_PORT (Vertex AI), else 8080.
CMD ["serve", "--host", "0.0.0.0"]
