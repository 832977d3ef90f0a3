#!/usr/bin/env bash
# A federated run on videos, recordings and transcripts made on this machine:
# espeak-ng speaks an emotion corpus and FFmpeg renders a clip for each
# (deploy/make-media-corpus.sh: English, German, Japanese; male and female voices;
# the female speakers' video carries less of the emotion, a planted and reducible
# bias), `equifl data import-media` turns it into three clients' shards (RGB video
# frames, log-mel audio, byte-token text), and `equifl sim` trains on them twice with
# the real server and client code: FedAvg, then group DRO
# (deploy/config/demo-media.yaml). Prints both final reports: per view (fusion,
# video alone, audio alone, text alone) and per group.
# Expects the build of deploy/dev.sh (build/default), espeak-ng and ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."
equifl=build/default/app/equifl
config=deploy/config/demo-media.yaml
demo=build/demo-media
rm -rf "$demo/shards" "$demo/run" "$demo/run-fedavg"
mkdir -p "$demo"

# A corpus from before videos were rendered is made again.
if ! head -1 "$demo/corpus/manifest.csv" 2> /dev/null | grep -q video; then
  rm -rf "$demo/corpus"
  echo "== deploy/make-media-corpus.sh: speech with espeak-ng, video with ffmpeg"
  deploy/make-media-corpus.sh "$demo/corpus"
fi
echo "== equifl data import-media: 3 clients (video frames, log-mel audio, byte-token text)"
"$equifl" data import-media "$demo/corpus/manifest.csv" --out "$demo/shards" --clients 3 \
  --video-fps 2 --video-size 32 --max-video-seconds 2 \
  --max-audio-seconds 4 --max-text-bytes 128 --group-attribute gender \
  --labels neutral,happy,angry,sad --seed 1

sim_config="$demo/sim.yaml"
report() {  # the final report: views, then the cells' groups
  sed -n '/^Views/,/^simulated/p' "$1" | grep -v '^simulated'
}
for method in fedavg group_dro; do
  sed -e "s/^  method: .*/  method: $method/" "$config" > "$sim_config"
  printf 'sim:\n  data:\n    source: shards\n    path: %s\n' "$demo/shards" >> "$sim_config"
  run_dir="$demo/run$([ "$method" = fedavg ] && echo -fedavg || true)"
  echo "== equifl sim, $method (log: $demo/$method.log)"
  "$equifl" sim "$sim_config" --run-dir "$run_dir" --report "$demo/$method.html" \
    > "$demo/$method.log" 2>&1 || { tail -20 "$demo/$method.log"; exit 1; }
  grep -E '^test ' "$demo/$method.log" || true
  report "$demo/$method.log"
done
echo "== reports: $demo/fedavg.html, $demo/group_dro.html"
