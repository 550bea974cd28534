#!/usr/bin/env bash
# Installs what zili needs to build and test: Debian packages (when missing) and a
# Python venv holding the pinned torch wheel (its libtorch is what zili links) plus the
# reference packages the parity tests use. The venv lives outside the clone, keyed by
# the pinned versions (scripts/env.sh), so a fresh clone reuses it. A second run prints
# nothing and takes a fraction of a second.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/env.sh"

debian_packages=(build-essential cmake ninja-build pkg-config python3-venv
  libsentencepiece-dev sentencepiece libcli11-dev libspdlog-dev nlohmann-json3-dev catch2
  clang-14 libclang-rt-14-dev libonig-dev libutf8proc-dev)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f "$ZILI_VENV/.complete" ]; then
  echo "setup: creating the Python venv $ZILI_VENV (torch wheel + test references; several GB the first time)"
  rm -rf "$ZILI_VENV"
  "${ZILI_PYTHON:-python3}" -m venv "$ZILI_VENV"
  "$ZILI_VENV/bin/python" -m pip install -q --upgrade pip
  "$ZILI_VENV/bin/python" -m pip install -q -r "$here/requirements.txt"
  touch "$ZILI_VENV/.complete"
fi

# Reference files the peer tests read, fetched once from PyPI into the cache (never the clone):
# mistral-common's wheel carries Mistral's real tokenizers (tekken, 131k tokens); llama-cpp-python's
# source package carries llama.cpp (its vocabulary test files, its chat templates).
assets="$ZILI_CACHE/assets"
for spec in mistral-common==1.13.1 llama-cpp-python==0.3.36; do
  [ -f "$assets/.$spec" ] && continue
  echo "setup: fetching $spec into $assets"
  mkdir -p "$assets"
  # A source package's metadata is built in a throw-away environment that pip fills from PyPI;
  # that step has failed once here for no lasting reason, so it gets three tries.
  for try in 1 2 3; do
    if "$ZILI_VENV/bin/python" -m pip download -q --no-deps --no-binary llama-cpp-python \
      -d "$assets" "$spec" >"$assets/fetch.log" 2>&1; then
      touch "$assets/.$spec"
      break
    fi
    [ "$try" = 3 ] && { cat "$assets/fetch.log" >&2; echo "setup: could not fetch $spec from PyPI" >&2; exit 1; }
    sleep 5
  done
done
