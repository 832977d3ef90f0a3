#!/bin/bash
# Audio import throughput (bench/RESULTS.md, "Media import"): speech clips made
# with espeak-ng (English and German, four voices, about 2 s each), a third kept
# as WAV, a third encoded to FLAC and a third to OGG/Vorbis by ffmpeg, imported by
# `equifl data import-media` with one thread and with two, beside ffmpeg decoding
# and resampling the same files to 16 kHz mono float in one process per format
# (the concat demuxer, so process start-up is not counted), in the same run.
# Then five rounds of federated training (`equifl sim`) on the clips imported with
# audio alone, their transcript alone (byte tokens; the sentence says nothing of the
# label) and both: training samples per second per modality.
#
#   bench/media_import.sh BUILD_DIR WORK_DIR [CLIPS]
#
# Needs espeak-ng and ffmpeg (apt-get install espeak-ng ffmpeg). Prints audio
# seconds per wall second of each, and training samples per second.
set -euo pipefail
source "$(dirname "$0")/media_bench.sh"
build=${1:?build folder, e.g. build/default}
work=${2:?a scratch folder}
clips=${3:-300}
equifl="$build/app/equifl"
mkdir -p "$work/clips"
rm -rf "$work/shards-1" "$work/shards-2"

sentences=("the weather is lovely today" "please close the door behind you"
  "I cannot believe it happened again" "we will meet at the station at noon"
  "heute ist das Wetter schön" "bitte schließ die Tür hinter dir"
  "ich kann nicht glauben, dass es wieder passiert ist" "wir treffen uns mittags am Bahnhof")
voices=(en+m3 en+f3 de+m3 de+f3)
labels=(calm angry)
manifest="$work/manifest.csv"
echo "id,label,group,language,audio" > "$manifest"
for ((index = 0; index < clips; index++)); do
  voice=${voices[$((index % 4))]}
  language=${voice%%+*}
  group=$([[ $voice == *m3 ]] && echo male || echo female)
  label=${labels[$((index / 4 % 2))]}
  offset=$([[ $language == de ]] && echo 4 || echo 0)
  sentence=${sentences[$((offset + index / 8 % 4))]}
  speed=$([[ $label == angry ]] && echo 200 || echo 140)
  pitch=$([[ $label == angry ]] && echo 70 || echo 40)
  id=$(printf 'clip-%04d' "$index")
  case $((index % 3)) in
    0) file=$id.wav ;;
    1) file=$id.flac ;;
    2) file=$id.ogg ;;
  esac
  if [[ ! -s "$work/clips/$file" ]]; then
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$work/clips/$id.raw.wav" "$sentence"
    case $file in
      *.wav) mv "$work/clips/$id.raw.wav" "$work/clips/$file" ;;
      *) ffmpeg -loglevel error -y -i "$work/clips/$id.raw.wav" "$work/clips/$file" &&
        rm "$work/clips/$id.raw.wav" ;;
    esac
  fi
  echo "$id,$label,$group,$language,clips/$file" >> "$manifest"
done

write_concat_lists wav flac ogg
ffmpeg_decode() {
  local format
  for format in wav flac ogg; do
    ffmpeg -loglevel error -threads 1 -f concat -safe 0 -i "$work/$format.list" -ac 1 -ar 16000 \
      -f f32le -y /dev/null 2>> "$work/ffmpeg.log"
  done
}
ffmpeg_seconds=$(best_of_3 ffmpeg_decode)
time_imports "$manifest" --max-audio-seconds 4 --clients 2
# The decoded duration, as equifl reports it ("audio: 300 recordings, 642.2 s ...").
audio_seconds=$(sed -n 's/^audio: [0-9]* recordings, \([0-9.]*\) s.*/\1/p' "$work/import-2.log")
grep -q 'longer than' "$work/import-2.log" && echo "note: some clips were cut at 4 s" >&2
rate() { echo "$audio_seconds / $1" | bc -l; }
printf 'audio: %d clips (WAV, FLAC, OGG thirds), %.1f s; best of 3 runs each\n' "$clips" \
  "$audio_seconds"
printf 'ffmpeg decode + resample to 16 kHz mono (1 process per format, 1 thread): %.2f s, %.0f audio s/s\n' \
  "$ffmpeg_seconds" "$(rate "$ffmpeg_seconds")"
report_imports "decode, resample, log-mel, write shards" "audio s/s"

# Training throughput per modality: the same clips imported with audio alone, the
# transcript alone (byte tokens) and both, each trained for 5 rounds x 2 epochs.
text_manifest="$work/manifest-text.csv"
both_manifest="$work/manifest-both.csv"
echo "id,label,group,language,text" > "$text_manifest"
echo "id,label,group,language,audio,text" > "$both_manifest"
tail -n +2 "$manifest" | while IFS=, read -r id label group language audio; do
  index=$((10#${id#clip-}))
  voice=${voices[$((index % 4))]}
  offset=$([[ ${voice%%+*} == de ]] && echo 4 || echo 0)
  sentence=${sentences[$((offset + index / 8 % 4))]}
  echo "$id,$label,$group,$language,\"$sentence\"" >> "$text_manifest"
  echo "$id,$label,$group,$language,$audio,\"$sentence\"" >> "$both_manifest"
done
for variant in audio text both; do
  case $variant in
    audio) source_manifest=$manifest ;;
    text) source_manifest=$text_manifest ;;
    both) source_manifest=$both_manifest ;;
  esac
  rm -rf "$work/train-$variant"
  "$equifl" data import-media "$source_manifest" --out "$work/train-$variant" --clients 2 \
    --max-audio-seconds 4 --max-text-bytes 128 > "$work/train-$variant.import.log"
  training_throughput "$variant" "$work/train-$variant" "$work/train-$variant.import.log"
done
