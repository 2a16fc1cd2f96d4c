# syntax=docker/dockerfile:1.7
# pyllm component image: python -m component on a Unix socket in a shared volume.
#   docker build -t pyllm .                                  # offline engine only
#   docker build -t pyllm --build-arg SPACY_MODEL=en_core_web_sm .   # with an NER model

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
# Dependencies first, from the lock file only, so code changes keep this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY component ./component
RUN uv sync --frozen --no-dev --no-editable

# tiktoken downloads its encodings at first use; bake them in at build time.
# TIKTOKEN_CACHE_DIR is a tokenizer cache folder, not a secret:
# hadolint ignore=DL3064
ENV TIKTOKEN_CACHE_DIR=/opt/tiktoken
RUN mkdir -p "$TIKTOKEN_CACHE_DIR" \
 && /app/.venv/bin/python -c "import tiktoken; [tiktoken.get_encoding(n) for n in ('o200k_base', 'cl100k_base')]"

# Optional spaCy NER pipeline (PERSON, LOCATION, ...): a package name for `spacy download`.
ARG SPACY_MODEL=""
RUN if [ -n "$SPACY_MODEL" ]; then /app/.venv/bin/python -m spacy download "$SPACY_MODEL"; fi

FROM ${PYTHON_IMAGE}
# 65532: the uid of distroless' nonroot, the user the bridge daprd runs as.
RUN groupadd --system --gid 65532 pyllm \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin pyllm \
 && mkdir -p /tmp/dapr-components-sockets /var/cache/pyllm \
 && chown 65532:65532 /tmp/dapr-components-sockets /var/cache/pyllm
COPY --from=build --chown=65532:65532 /app /app
COPY --from=build --chown=65532:65532 /opt/tiktoken /opt/tiktoken
# TIKTOKEN_CACHE_DIR is a tokenizer cache folder, not a secret:
# hadolint ignore=DL3064
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TIKTOKEN_CACHE_DIR=/opt/tiktoken \
    TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="" \
    DAPR_COMPONENTS_SOCKETS_FOLDER=/tmp/dapr-components-sockets
WORKDIR /app
USER 65532:65532
VOLUME ["/tmp/dapr-components-sockets", "/var/cache/pyllm"]
EXPOSE 9464
# Kubernetes sends SIGTERM, waits terminationGracePeriodSeconds (30 s by default),
# then SIGKILL: in-flight calls get 25 s, which leaves time to remove the socket.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "component.healthcheck"]
ENTRYPOINT ["python", "-m", "component"]
CMD ["--grace-period", "25", "--log-format", "json"]
