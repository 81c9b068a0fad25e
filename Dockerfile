# celeba-search worker image: the project and its pinned dependencies; runs `search.run`.
#   docker compose build    (see docker-compose.yml and docs/operations.md, "Many machines")
# Pinned by digest: a tag moves, a digest does not. The digest is the one public Dockerfiles
# document for python:3.11-slim (not pulled here): check it with
#   docker buildx imagetools inspect python:3.11-slim
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /src
# Dependencies first, so editing the code does not reinstall TensorFlow.
COPY requirements.lock ./
# Every file checked against its hash in the lock (pip-compile --generate-hashes).
RUN pip install --require-hashes -r requirements.lock
# GPU machines add their accelerator packages, e.g. --build-arg EXTRA_PACKAGES="jax[cuda12]"
ARG EXTRA_PACKAGES=""
RUN if [ -n "$EXTRA_PACKAGES" ]; then pip install $EXTRA_PACKAGES; fi

COPY pyproject.toml README.md ./
COPY data ./data
COPY model ./model
COPY search ./search
RUN pip install --no-deps . && rm -rf /src

# The code lives in site-packages, so /work/data (cache, synthetic faces, CelebA) and
# /work/studies can be volumes without hiding it.
RUN useradd --create-home --uid 1000 search \
    && mkdir -p /work/data /work/studies \
    && chown -R search:search /work
WORKDIR /work
USER search

ENTRYPOINT ["python", "-m", "search.run"]
CMD ["--preset", "demo"]
