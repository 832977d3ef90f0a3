#!/bin/sh
# equifl-restartable equifl ARGS... --run-dir DIR
#
# Runs an aggregator (`equifl ... server ...`) so that a container restarted on the
# same run folder continues the run; the image installs it as
# /usr/local/bin/equifl-restartable (deploy/Dockerfile), deploy/compose and
# deploy/kubernetes/federation start the aggregator through it.
#
# - When DIR already holds a run (DIR/checkpoints/round-000000.safetensors, written
#   as a run starts) it appends --resume: `equifl server` refuses such a folder
#   without it, and --resume refuses a folder without one.
# - It passes SIGTERM and SIGINT on to equifl as SIGTERM (the server stops; the open
#   round ends without aggregation) and then exits 143 (128 + SIGTERM) where equifl
#   exits 0, so a Kubernetes Job counts an aggregator stopped before the end of its
#   run (node drained, pod deleted) as failed and starts it again, instead of
#   complete. A run that ends by itself exits with equifl's status.
#
# POSIX sh (debian:12-slim has dash); no other tool needed.
set -u

if [ "$#" -lt 2 ]; then
  echo "usage: equifl-restartable equifl [ARGS...] --run-dir DIR" >&2
  exit 2
fi
run_dir=""
previous=""
for arg in "$@"; do
  if [ "$previous" = "--run-dir" ]; then run_dir=$arg; fi
  case "$arg" in --run-dir=*) run_dir=${arg#--run-dir=} ;; esac
  previous=$arg
done
if [ -z "$run_dir" ]; then
  echo "equifl-restartable: the command needs --run-dir DIR, the run folder to continue" >&2
  exit 2
fi
if [ -e "$run_dir/checkpoints/round-000000.safetensors" ]; then
  echo "equifl-restartable: $run_dir holds a run; continuing it with --resume" >&2
  set -- "$@" --resume
fi

# A background command of a non-interactive shell ignores SIGINT, so both signals
# reach equifl as SIGTERM. The trap is set before equifl starts so that no signal
# is lost in between.
child=""
stopped=""
trap 'stopped=yes; if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; fi' TERM INT
"$@" &
child=$!
if [ -n "$stopped" ]; then kill -TERM "$child" 2>/dev/null; fi
# `wait` returns early (above 128) when a trapped signal arrives: wait again until
# equifl has exited, for its own status.
wait "$child"
status=$?
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
  status=$?
done
if [ -n "$stopped" ] && [ "$status" -eq 0 ]; then status=143; fi
exit "$status"
