# sclesion BIDS App: CPU image by default; --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124
# (and TORCH_VERSION) gives a CUDA build. Everything the app needs at run time is fetched here, at build time.
FROM python:3.11.11-slim-bookworm

ARG SCT_VERSION=6.5
ARG TORCH_VERSION=2.6.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG SCLESION_VERSION=0.1.0

LABEL org.opencontainers.image.title="sclesion" \
      org.opencontainers.image.description="Multi-sequence spinal-cord MS lesion segmentation (BIDS App)" \
      org.opencontainers.image.version="${SCLESION_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/sclesion/sclesion"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git curl bzip2 ca-certificates procps \
    && rm -rf /var/lib/apt/lists/*

# Spinal Cord Toolbox at a pinned release, with the deepseg cord model used for centrelines.
RUN git clone --depth 1 --branch "${SCT_VERSION}" \
        https://github.com/spinalcordtoolbox/spinalcordtoolbox.git /opt/sct \
    && cd /opt/sct && ./install_sct -iyc \
    && /opt/sct/bin/sct_deepseg -install-task seg_sc_contrast_agnostic \
    && rm -rf /opt/sct/.git /root/.cache
ENV PATH="/opt/sct/bin:${PATH}" \
    SCT_DIR=/opt/sct

WORKDIR /opt/sclesion
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
COPY pyproject.toml setup.cfg README.md ./
COPY bids_app/ bids_app/
COPY models/ models/
RUN pip install --no-cache-dir . && sclesion --version

# Read-only root and read-only HOME work: every cache points at /tmp.
ENV HOME=/tmp/home \
    MPLCONFIGDIR=/tmp/matplotlib \
    TORCH_HOME=/tmp/torch \
    XDG_CACHE_HOME=/tmp/cache \
    NIPYPE_NO_ET=1 \
    NO_ET=1 \
    SCLESION_MODELS=/opt/sclesion/models \
    OMP_NUM_THREADS=1

RUN useradd --create-home --uid 1000 sclesion
USER sclesion
WORKDIR /tmp
ENTRYPOINT ["sclesion"]
CMD ["--help"]
