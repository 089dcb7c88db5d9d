#!/usr/bin/env bash
# Real human speech for the benchmarks (Debian packages; needs root or sudo):
# asterisk-core-sounds-en-wav (Allison Smith, CC-BY-SA-3.0) and pocketsphinx-testdata (LibriVox and others).
set -euo pipefail
pkgs=(asterisk-core-sounds-en-wav pocketsphinx-testdata espeak-ng flite)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
