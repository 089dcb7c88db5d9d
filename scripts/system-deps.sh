#!/usr/bin/env bash
# Debian packages the Python install cannot bring: FFmpeg's shared libraries, which torchcodec
# (coqui-tts's audio loader) opens at run time, and SoX, whose pitch, tempo and reverb effects are
# the watermark's edits (detection/edits.py): the tools a person stripping a mark would use;
# FluidSynth and its General MIDI SoundFont (FluidR3_GM, MIT licence) play a song's backing;
# PostgreSQL's server and Redis, which the tests start to run the records on a database server and the
# heavy work on Celery workers (neither is used by default); Chromium and its WebDriver, in which the
# tests drive the web interface. Installs them when missing and we may; else says what to do.
set -euo pipefail
needed=(sox postgresql redis-server chromium chromium-driver libfluidsynth3 fluid-soundfont-gm libavutil57 libavcodec59 libavformat59 libavfilter8 libavdevice59 libswresample4 libswscale6)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "voicekit needs these Debian packages (FFmpeg libraries for torchcodec, SoX for the watermark edits, FluidSynth and a SoundFont for songs, PostgreSQL, Redis and Chromium for the tests): ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
