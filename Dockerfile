# duckdb-spawn server image: `docker build -t duckdb-spawn:0.1.0 .`
# The Helm chart (helm/duckdb-spawn) runs it as uid/gid 10001 with a read-only root
# filesystem; the database lives on the volume mounted at /var/lib/duckdb-spawn.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build: install the package, its runtime dependencies and the lake extra (DuckLake's extension wheels,
# psycopg: storage.backend ducklake), not the dev extra, into a venv.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server ./server
COPY generated ./generated
RUN /opt/venv/bin/pip install '.[lake]' && /opt/venv/bin/pip uninstall --yes pip setuptools

# Run: the venv only, as a non-root user.
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 duckdb-spawn \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin duckdb-spawn \
 && mkdir -p /var/lib/duckdb-spawn \
 && chown 10001:10001 /var/lib/duckdb-spawn
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DUCKDB_PATH=/var/lib/duckdb-spawn/data_product.db
WORKDIR /var/lib/duckdb-spawn
USER 10001:10001
EXPOSE 50051 9464
ENTRYPOINT ["duckdb-spawn-server"]
