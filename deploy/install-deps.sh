#!/usr/bin/env bash
# Installs everything equifl needs to build and test on a fresh Debian 12 machine.
# Safe to run again: apt-get skips what is already installed.
#   deploy/install-deps.sh               # build and test
#   deploy/install-deps.sh --build-only  # only what building the equifl binary needs
#                                        # (deploy/Dockerfile's build stage)
#   deploy/install-deps.sh --media-demo  # that, espeak-ng and ffmpeg, which speak and
#                                        # render the media demo's corpus
#                                        # (deploy/demo-media.sh)
set -euo pipefail

build_only=no
media_demo=no
case "${1:-}" in
  "") ;;
  --build-only) build_only=yes ;;
  --media-demo) build_only=yes media_demo=yes ;;
  *)
    echo "usage: deploy/install-deps.sh [--build-only | --media-demo]" >&2
    exit 2
    ;;
esac

packages=(
  # Toolchain; clang builds the Torch-free targets with its thread-safety analysis,
  # sanitizers and libFuzzer, whose runtimes are in libclang-rt-dev (only recommended
  # by clang, so not installed with it here).
  cmake ninja-build g++ clang libclang-rt-dev pkg-config ccache clang-format
  # LibTorch (CPU) and the BLAS it must use: without libopenblas0-pthread a 4096^2
  # matrix product falls back to the reference BLAS and takes a minute.
  libtorch-dev libopenblas0-pthread
  # Transport and wire format.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libssl-dev libabsl-dev
  libxxhash-dev
  # Utilities; Boost.Beast serves the dashboard, prometheus-cpp's core its metrics.
  libboost-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libsqlite3-dev prometheus-cpp-dev
  # The media importer: audio decoding, resampling and the front end's FFT; video
  # decoding with FFmpeg's libraries; SentencePiece's encoder program for
  # --sentencepiece (its library cannot share a process with gRPC's protobuf).
  libsndfile1-dev libsoxr-dev libfftw3-dev
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  sentencepiece
)
test_packages=(
  # Tests, benchmarks and their independent numerical references.
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-numpy
  # The dashboard's tests: a real browser, an independent Prometheus text parser, curl;
  # and the deployment check (deploy/check-deploy.sh) of the compose file.
  chromium python3-prometheus-client curl docker-compose
  # Makes the video decoder's test clips; the SentencePiece tests' reference ids.
  ffmpeg python3-sentencepiece
)
# The deployment check renders the kustomizations with kubectl; Debian's is in
# kubernetes-client, but a machine may already have kubectl from another package,
# which kubernetes-client cannot be installed over.
if ! command -v kubectl > /dev/null; then test_packages+=(kubernetes-client); fi
if [ "$build_only" = no ]; then packages+=("${test_packages[@]}"); fi
if [ "$media_demo" = yes ]; then packages+=(espeak-ng ffmpeg); fi

sudo_prefix=()
if [ "$(id -u)" -ne 0 ]; then sudo_prefix=(sudo); fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
"${sudo_prefix[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_prefix[@]}" apt-get install -y -q \
  --no-install-recommends "${missing[@]}"
