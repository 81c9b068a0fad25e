# celeba-search worker image: the project and its pinned dependencies; runs `search.run`.
#   docker compose build    (see docker-compose.yml and README, "Many machines")
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /src
# Dependencies first, so editing the code does not reinstall TensorFlow.
COPY requirements.lock ./
RUN pip install -r requirements.lock
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
