# sclesion: multi-sequence spinal-cord MS lesion segmentation as a BIDS App.
#
#   docker build -t sclesion:0.1.0 .                       CPU image (the default)
#   docker build -t sclesion:0.1.0-cuda \
#       --build-arg TORCH_INDEX=https://pypi.org/simple .  CUDA image (PyPI's Linux torch is the
#                                                          CUDA build; or a download.pytorch.org/whl/cuXXX index)
#
# Everything the app needs at run time is fetched here, at build time: the app never downloads.
# The image runs as uid 1000 and writes only to OUTPUT_DIR, the work directory and /tmp, so
# `docker run --read-only --tmpfs /tmp` works. Usage: docs/containers.md.
FROM python:3.11.11-slim-bookworm

ARG SCT_VERSION=6.5
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG SCLESION_VERSION=0.1.0

LABEL org.opencontainers.image.title="sclesion" \
      org.opencontainers.image.description="Multi-sequence spinal-cord MS lesion segmentation (BIDS App)" \
      org.opencontainers.image.version="${SCLESION_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/sclesion/sclesion" \
      org.opencontainers.image.documentation="https://github.com/sclesion/sclesion/blob/main/docs/containers.md"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# No prompts from apt, no pip version check, no bytecode written next to read-only sources.
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NIPYPE_NO_ET=1 \
    NO_ET=1

# git and curl fetch SCT and its models; gcc is in SCT's documented requirements. tcmalloc
# replaces glibc's malloc at run time (LD_PRELOAD below): glibc hands every block above 32 MB
# back to the kernel on free, so each inference window page-faults its activations in again;
# tcmalloc reuses them (1.2-1.4x faster inference on two cores, lower peak memory: docs/status.md).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git curl bzip2 ca-certificates procps gcc \
        libtcmalloc-minimal4 \
    && ln -s "$(find /usr/lib -name libtcmalloc_minimal.so.4 -print -quit)" \
        /usr/local/lib/libtcmalloc_minimal.so.4 \
    && rm -rf /var/lib/apt/lists/*

# Spinal Cord Toolbox at a pinned release (-i in place, -y no questions, -c no dependency
# check), then the contrast-agnostic cord model that `sct_deepseg -task` needs, so that
# centrelines never trigger a download at run time.
RUN git clone --depth 1 --branch "${SCT_VERSION}" \
        https://github.com/spinalcordtoolbox/spinalcordtoolbox.git /opt/sct
WORKDIR /opt/sct
RUN ./install_sct -iyc \
    && /opt/sct/bin/sct_deepseg -install-task seg_sc_contrast_agnostic \
    && rm -rf /root/.cache
ENV PATH="/opt/sct/bin:${PATH}" \
    SCT_DIR=/opt/sct

# torch first, from the chosen index, so that `pip install .` finds it satisfied.
WORKDIR /opt/sclesion
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
COPY pyproject.toml setup.cfg README.md ./
COPY bids_app/ bids_app/
RUN pip install --no-cache-dir . && sclesion --version
COPY models/ models/

# Every cache and config folder points into /tmp, which stays writable under a read-only root
# and a read-only HOME. torch's threads come from --omp-nthreads; other OpenMP/BLAS pools stay
# at one thread so that --nprocs parallel workflows do not oversubscribe the CPUs.
ENV HOME=/tmp/home \
    MPLCONFIGDIR=/tmp/matplotlib \
    XDG_CACHE_HOME=/tmp/cache \
    XDG_CONFIG_HOME=/tmp/config \
    NIPYPE_CONFIG_DIR=/tmp/nipype \
    TORCH_HOME=/tmp/torch \
    DENO_DIR=/tmp/deno \
    SCLESION_MODELS=/opt/sclesion/models \
    SCLESION_IMAGE="sclesion/sclesion:${SCLESION_VERSION}" \
    OMP_NUM_THREADS=1 \
    LD_PRELOAD=/usr/local/lib/libtcmalloc_minimal.so.4 \
    TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD=107374182400

RUN groupadd --gid 1000 sclesion \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /tmp/home sclesion
USER 1000:1000
WORKDIR /tmp
ENTRYPOINT ["sclesion"]
CMD ["--help"]
