#!/usr/bin/env bash
# Makes a small emotion-style corpus on this machine, with its manifest for
# `equifl data import-media`: espeak-ng speaks a few sentences in English, German and
# Japanese with a male and a female voice; the emotion (neutral, happy, angry, sad)
# is carried by pitch, rate and loudness, and the transcript is the text (with an
# interjection that hints at the emotion in some clips). FFmpeg renders each clip's
# video: 2 s of a noisy 48x48 picture whose colour leans towards the emotion's
# (grey, yellow, red, blue) by a jittered amount. Nothing is downloaded.
#
# A reducible bias is planted in the video: the female speakers' clips lean a third
# as far towards their emotion's colour, so the video of the female group says less
# about the emotion than the male group's (audio and text are as informative for
# both), and a model fitted mostly to male clips reads female clips worse than it
# could.
#
#   deploy/make-media-corpus.sh OUT [TAKES]   # OUT/manifest.csv, OUT/clips/*.wav, *.mp4
#
# Each of 8 sentences per language is spoken TAKES times (1..9, default 3) per voice and
# emotion, each take with its pitch, rate and loudness jittered (seeded, so the corpus
# is the same every time): 3 languages x 2 voices x 4 emotions x 8 x 3 = 576 clips.
set -euo pipefail
out=${1:?usage: deploy/make-media-corpus.sh OUT [TAKES]}
takes=${2:-3}
if ! [[ $takes =~ ^[1-9]$ ]]; then
  echo "make-media-corpus: TAKES must be 1..9, not '$takes'" >&2
  exit 2
fi
RANDOM=7  # seeds bash's generator: the same jitter every time
for tool in espeak-ng ffmpeg; do
  command -v $tool > /dev/null || {
    echo "make-media-corpus: needs $tool (deploy/install-deps.sh --media-demo installs it)" >&2
    exit 2
  }
done
mkdir -p "$out/clips"

en=("the train leaves at seven" "please put the book on the table" "we walked to the old bridge"
  "the meeting moved to thursday" "she bought bread and milk" "the window faces the garden"
  "my brother lives in the city" "the letter arrived this morning")
de=("der Zug fährt um sieben" "leg das Buch bitte auf den Tisch" "wir gingen zur alten Brücke"
  "das Treffen ist am Donnerstag" "sie kaufte Brot und Milch" "das Fenster zeigt zum Garten"
  "mein Bruder wohnt in der Stadt" "der Brief kam heute Morgen")
ja=("でんしゃは しちじに でます" "ほんを つくえに おいてください" "ふるい はしまで あるきました"
  "かいぎは もくようびです" "パンと ミルクを かいました" "まどは にわに むいています"
  "あには まちに すんでいます" "てがみは けさ とどきました")
emotions=(neutral happy angry sad)
# Prosody per emotion: espeak-ng's pitch (0-99), words per minute, amplitude.
pitch=(50 72 40 30)
speed=(160 190 200 120)
amplitude=(100 130 170 70)
# Colour per emotion (RGB) and grey, towards which the female clips fade.
red=(128 230 220 40)
green=(128 200 40 70)
blue=(128 40 40 200)
# Interjections that hint at the emotion in the text (every other clip).
declare -A hint=([en, 1]="wonderful!" [en, 2]="this is outrageous!" [en, 3]="oh no."
  [de, 1]="wunderbar!" [de, 2]="unerhört!" [de, 3]="oh nein."
  [ja, 1]="すてき!" [ja, 2]="ひどい!" [ja, 3]="ざんねん.")

manifest="$out/manifest.csv"
echo "id,label,group,language,video,audio,text" > "$manifest"
count=0
for language in en de ja; do
  declare -n sentences=$language
  for gender in male female; do
    voice="$language+$([[ $gender == male ]] && echo m3 || echo f3)"
    for e in 0 1 2 3; do
      p=${pitch[$e]} s=${speed[$e]} a=${amplitude[$e]}
      # The planted bias: female clips lean a third as far towards the emotion's colour.
      lean=$([[ $gender == male ]] && echo 60 || echo 20)
      for ((i = 0; i < 8; i++)); do
        for ((take = 0; take < takes; take++)); do
          id="$language-$gender-${emotions[$e]}-$i-$take"
          text=${sentences[$i]}
          if (((i + take) % 2 == 0 && e > 0)); then text="${hint[$language, $e]} $text"; fi
          # Jitter: pitch +-8, rate +-15 words a minute, amplitude +-15.
          espeak-ng -v "$voice" -p $((p + RANDOM % 17 - 8)) -s $((s + RANDOM % 31 - 15)) \
            -a $((a + RANDOM % 31 - 15)) -w "$out/clips/$id.wav" "$text"
          # The video's colour: grey leaning lean% towards the emotion's, each channel
          # jittered by +-40; two clips render at a time.
          colour=
          for channel in red green blue; do
            declare -n level=$channel
            value=$((128 + (level[e] - 128) * lean / 100 + RANDOM % 81 - 40))
            colour+=$(printf '%02x' $((value < 0 ? 0 : value > 255 ? 255 : value)))
            unset -n level
          done
          if (($(jobs -r | wc -l) >= 2)); then wait -n; fi
          ffmpeg -loglevel error -y -f lavfi -i "color=c=0x$colour:s=48x48:r=8:d=2" \
            -vf "noise=alls=60:allf=t" -pix_fmt yuv420p -c:v libx264 "$out/clips/$id.mp4" &
          printf '%s,%s,%s,%s,clips/%s.mp4,clips/%s.wav,"%s"\n' "$id" "${emotions[$e]}" \
            "$gender" "$language" "$id" "$id" "${text//\"/\"\"}" >> "$manifest"
          count=$((count + 1))
        done
      done
    done
  done
  unset -n sentences
done
wait
echo "make-media-corpus: $count clips in $out/clips, manifest $manifest"
