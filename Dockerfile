# A Catchment in a container: one process, its root on a volume, TLS left to a reverse proxy.
#
#   docker build -t duckstring-catchment .
#   docker run -p 7474:7474 -v duckstring-data:/data -e DUCKSTRING_API_KEY=$KEY duckstring-catchment
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# git (and ssh) for deploys from a git reference; tini as PID 1, so that every process a Duck
# leaves behind is reaped and a stop signal reaches uvicorn.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client tini \
    && rm -rf /var/lib/apt/lists/*

# This package, from this repository.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /build

# Never run as root: the Catchment runs Pond authors' code in its Ducks.
RUN useradd --system --uid 10001 --create-home --home-dir /home/duckstring duckstring \
    && mkdir -p /data \
    && chown duckstring:duckstring /data
USER duckstring
WORKDIR /home/duckstring

ENV DUCKSTRING_ROOT=/data
VOLUME /data
EXPOSE 7474

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7474/api/health', timeout=4)"]

# Exactly one process: no --workers (a second one would refuse the root's lock anyway).
ENTRYPOINT ["tini", "--"]
# The packaged app under uvicorn, waking once a second when idle (uvicorn's own command: ten).
CMD ["python", "-m", "duckstring.catchment", "--host", "0.0.0.0", "--port", "7474"]
