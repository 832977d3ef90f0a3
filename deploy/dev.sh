#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs what equifl needs,
# builds it, and then runs the demo or the test suite.
#
#   deploy/dev.sh demo    # install, build, run a small federated training (deploy/demo.sh)
#   deploy/dev.sh test    # install, build, run every test (ctest's summary last)
#   deploy/dev.sh build   # install and build only
set -euo pipefail

cd "$(dirname "$0")/.."
action="${1:-demo}"
case "$action" in
  demo | test | build) ;;
  *)
    echo "usage: deploy/dev.sh [demo|test|build]" >&2
    exit 2
    ;;
esac

deploy/install-deps.sh
echo "== configure and build (preset 'default', build/default)"
cmake --preset default
cmake --build --preset default

case "$action" in
  demo)
    build/default/app/equifl --version
    deploy/demo.sh
    ;;
  test)
    echo "== tests"
    ctest --preset default
    ;;
esac
