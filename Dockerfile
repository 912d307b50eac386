# TSV CRM backend: the `crm` command and the Prefect worker that runs the flows.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRM_HOME=/data \
    CHROMIUM_PATH=/usr/bin/chromium \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1

# Debian's Chromium drives the portal (Playwright's own browser download is not used); DejaVu for PDFs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-dejavu-core ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 crm && mkdir -p /data && chown crm:crm /data

WORKDIR /app
COPY pyproject.toml README.md alembic.ini prefect.yaml ./
COPY crm_core ./crm_core
COPY tasks ./tasks
COPY flows ./flows
COPY alembic ./alembic
# Editable install keeps alembic/ next to the code, where `crm db upgrade` finds it.
RUN pip install -e .

USER crm
VOLUME ["/data"]
ENTRYPOINT ["crm"]
CMD ["--help"]
