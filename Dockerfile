# TSV CRM backend: the `crm` command and the Prefect worker that runs the flows.
# PYTHON_IMAGE: where no registry can be reached, docker-compose.local.yml builds on a local stand-in.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRM_HOME=/data \
    CHROMIUM_PATH=/usr/bin/chromium \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1

# Debian's Chromium drives the portal (Playwright's own browser download is not used); DejaVu for PDFs.
# libatomic1: Playwright's bundled Node.js driver needs it, and neither the slim image nor Chromium has it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-dejavu-core ca-certificates libatomic1 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 crm && mkdir -p /data && chown crm:crm /data

WORKDIR /app
COPY pyproject.toml requirements.lock ./
# The dependencies first, from an empty package with the same metadata: a layer that a change of the code
# or the README leaves cached, so a deploy rebuilds only the last steps. requirements.lock holds the
# versions the tests passed with.
RUN mkdir -p crm_core tasks flows \
    && touch README.md crm_core/__init__.py tasks/__init__.py flows/__init__.py \
    && PIP_CONSTRAINT=requirements.lock pip install . && pip uninstall -y tsv-crm \
    && rm -rf build ./*.egg-info README.md crm_core tasks flows
COPY README.md prefect.yaml ./
COPY crm_core ./crm_core
COPY tasks ./tasks
COPY flows ./flows
# A regular install: the package carries its migrations, so `crm db upgrade` runs from site-packages.
# Only prefect.yaml and flows/ (the deployments' entrypoint for `prefect deploy`) stay in /app; the
# flows import crm_core and tasks from the installed package.
RUN pip install --no-deps . && rm -rf build ./*.egg-info crm_core tasks

USER crm
VOLUME ["/data"]
ENTRYPOINT ["crm"]
CMD ["--help"]
