#!/bin/bash
# Video import throughput (bench/RESULTS.md, "Media import: video"): CLIPS clips made
# with ffmpeg (4 s of a scrolling test pattern, 320x240 at 25 frames a second; half
# H.264 in MP4, half VP9 in WebM; the label is the pattern's hue, turned by 0 or 180
# degrees give or take 30), imported by `equifl data import-media` with one
# thread and with two (--video-fps 2 --video-size 64: 8 frames a clip), beside ffmpeg
# decoding the same files in one process per container (the concat demuxer, so
# process start-up is not counted, `-threads 1`), in the same run. Both decode every
# frame of a clip (equifl keeps 8 of its 100 but must decode the rest to reach them),
# so the rate compared is source frames decoded per wall second. Then five rounds of
# federated training (`equifl sim`) on the imported video alone: training samples per
# second.
#
#   bench/video_import.sh BUILD_DIR WORK_DIR [CLIPS]
#
# Needs ffmpeg (apt-get install ffmpeg).
set -euo pipefail
source "$(dirname "$0")/media_bench.sh"
build=${1:?build folder, e.g. build/default}
work=${2:?a scratch folder}
clips=${3:-160}
equifl="$build/app/equifl"
mkdir -p "$work/clips"
rm -rf "$work/shards-1" "$work/shards-2"

manifest="$work/manifest.csv"
echo "id,label,group,video" > "$manifest"
for ((index = 0; index < clips; index++)); do
  id=$(printf 'clip-%04d' "$index")
  label=$((index % 2 == 0 ? 0 : 1))
  hue=$((label * 180 + index * 37 % 61 - 30))
  direction=$((index / 2 % 2 == 0 ? -1 : 1))
  if ((index % 4 < 2)); then file=$id.mp4 codec=(-c:v libx264 -preset fast); else
    file=$id.webm codec=(-c:v libvpx-vp9 -deadline realtime -cpu-used 8)
  fi
  if [[ ! -s "$work/clips/$file" ]]; then
    ffmpeg -loglevel error -y -f lavfi -i "testsrc2=s=320x240:r=25:d=4" \
      -vf "scroll=horizontal=$((direction))*0.01,hue=h=$hue" -pix_fmt yuv420p \
      "${codec[@]}" "$work/clips/$file"
  fi
  echo "$id,$([[ $label == 0 ]] && echo warm || echo cold),g$((index / 2 % 2)),clips/$file" \
    >> "$manifest"
done

write_concat_lists mp4 webm
source_frames=$((clips * 100))
ffmpeg_decode() {
  local format
  for format in mp4 webm; do
    ffmpeg -loglevel error -threads 1 -f concat -safe 0 -i "$work/$format.list" -f null - \
      2>> "$work/ffmpeg.log"
  done
}
ffmpeg_seconds=$(best_of_3 ffmpeg_decode)
time_imports "$manifest" --video-fps 2 --video-size 64 --max-video-seconds 4 --clients 2
rate() { echo "$source_frames / $1" | bc -l; }
printf 'video: %d clips (H.264/MP4 and VP9/WebM halves), 4 s of 320x240 at 25 fps each, %d source frames; best of 3 runs each\n' \
  "$clips" "$source_frames"
printf 'ffmpeg decode (1 process per container, 1 thread, -f null): %.2f s, %.0f frames/s\n' \
  "$ffmpeg_seconds" "$(rate "$ffmpeg_seconds")"
report_imports "decode, sample 2 fps, scale + crop to 64x64 RGB, write shards" "frames/s"
grep '^video:' "$work/import-2.log"
training_throughput video "$work/shards-2" "$work/import-2.log" "video (8 frames of 64x64)"
