#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what equifl needs,
# builds it, and then runs the demo or the test suite.
#
#   deploy/dev.sh demo    # install, build the equifl binary only, run a small federated
#                         # training (deploy/demo.sh)
#   deploy/dev.sh demo-media  # the same on speech, transcripts and video that espeak-ng
#                         # and ffmpeg make here: import-media, then FedAvg and group
#                         # DRO (deploy/demo-media.sh)
#   deploy/dev.sh test    # install, build everything, run every test; then the clang
#                         # build of the Torch-free targets (thread-safety analysis as
#                         # errors, ASan, UBSan, the fuzz targets) and its tests, with
#                         # a few seconds of each fuzz target
#   deploy/dev.sh build   # install and build everything
set -euo pipefail

cd "$(dirname "$0")/.."
action="${1:-demo}"
case "$action" in
  demo | demo-media | test | build) ;;
  *)
    echo "usage: deploy/dev.sh [demo|demo-media|test|build]" >&2
    exit 2
    ;;
esac

# The demo builds only the binary, so it needs none of the test tools (a browser,
# kubectl, docker-compose).
if [ "$action" = demo ]; then
  deploy/install-deps.sh --build-only
elif [ "$action" = demo-media ]; then
  deploy/install-deps.sh --media-demo
else
  deploy/install-deps.sh
fi
echo "== configure (preset 'default', build/default)"
cmake --preset default

case "$action" in
  demo)
    echo "== build the equifl binary (what the demo runs; 'build' builds tests and benchmarks too)"
    cmake --build --preset default --target equifl
    build/default/app/equifl --version
    deploy/demo.sh
    ;;
  demo-media)
    cmake --build --preset default --target equifl
    deploy/demo-media.sh
    ;;
  build)
    cmake --build --preset default
    ;;
  test)
    echo "== build (preset 'default')"
    cmake --build --preset default
    echo "== tests"
    ctest --preset default
    echo "== clang build of the Torch-free targets: thread-safety analysis as errors, ASan, UBSan,"
    echo "   the fuzz targets (preset 'fuzz', build/fuzz)"
    cmake --preset fuzz
    cmake --build --preset fuzz
    echo "== tests of the clang build under ASan and UBSan, and 10 s of each fuzz target"
    ctest --preset fuzz
    ;;
esac
