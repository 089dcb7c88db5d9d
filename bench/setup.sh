#!/usr/bin/env bash
# What the benchmarks need beyond `make setup`:
# - real human speech (Debian packages; needs root or sudo): asterisk-core-sounds-en-wav (Allison Smith,
#   CC-BY-SA-3.0), pocketsphinx-testdata (LibriVox and others), codec2-examples (amateur-radio speakers);
#   for bench/train_passive.py also the Asterisk prompts in es, fr, it and ru (CC-BY-SA-3.0) and
#   KTuberling's recorded words in ~20 languages (ktuberling-data, GPL-2+);
#   espeak-ng and flite for synthetic speakers;
# - the `bench` extra (a second speaker encoder for bench/cloning.py; Perth for bench/watermark.py).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(asterisk-core-sounds-en-wav pocketsphinx-testdata codec2-examples espeak-ng flite
      asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav
      asterisk-prompt-it-menardi-wav ktuberling-data)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
make setup >/dev/null
.venv/bin/python -m pip install -q -c constraints.txt -e '.[bench]'
