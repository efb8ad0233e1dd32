# docketwatch as a service: `docketwatch run`, configuration and database on the /data volume.
# README.md, "Deployment", shows how to build and run it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip install . && rm -rf /src

RUN groupadd --system --gid 10001 docketwatch \
    && useradd --system --uid 10001 --gid docketwatch --home-dir /data --no-create-home docketwatch \
    && mkdir /data && chown docketwatch:docketwatch /data

# The configuration's [database] url decides where the database is: in this image set it
# to sqlite:////data/docketwatch.db (or a PostgreSQL URL). XDG_DATA_HOME keeps even the
# default SQLite file (/data/docketwatch/docketwatch.db) on the volume, so none is lost
# with the container. Paths in the configuration (a Markdown digest's `dir`) are relative
# to its folder, /data.
ENV DOCKETWATCH_CONFIG=/data/docketwatch.toml \
    XDG_DATA_HOME=/data
VOLUME /data
WORKDIR /data
USER docketwatch

# Unhealthy when no `docketwatch run` keeps a fresh heartbeat or a source keeps failing.
HEALTHCHECK --interval=60s --timeout=30s --start-period=2m --retries=3 \
    CMD ["docketwatch", "status", "--health"]
# SIGTERM (docker stop) cancels requests in flight and exits 0 within about 5 seconds.
CMD ["docketwatch", "run"]
