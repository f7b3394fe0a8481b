#!/usr/bin/env bash
# Build the node's images from nothing but Debian's mirror and PyPI (no image registry):
#   1. base images: minimal Debian roots made with debootstrap, imported once
#      (hotline/base-sid for Asterisk 22, hotline/base-bookworm for the app and PostgreSQL);
#   2. hotline/asterisk, hotline/app and hotline/postgres with `docker build --network host`.
# A base image that exists is reused; its root's tarball is kept under $CACHE, so a removed
# base image is imported again without debootstrap. Docker's layer cache skips every build
# step whose Dockerfile line and files did not change.
#
# Usage: docker/build.sh [--rebase]   (--rebase: make the base roots again from the mirror)
# Settings: HOTLINE_DEBIAN_MIRROR (default: this machine's apt mirror),
#           HOTLINE_DOCKER_CACHE (default /var/lib/hotline/docker).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${HOTLINE_DOCKER_CACHE:-/var/lib/hotline/docker}
REBASE=0
[ "${1:-}" = "--rebase" ] && REBASE=1
START=$(date +%s)

step() { printf '\n==> [%4ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }
fail() { echo "docker/build.sh: $*" >&2; exit 1; }

command -v docker >/dev/null || fail "docker is not installed: apt-get install docker.io"
docker info >/dev/null 2>&1 || fail "the docker daemon does not answer: start it (dockerd, or systemctl start docker)"

# The mirror this machine's own apt uses (as app/pbx/sandbox.py's debian_mirror): deb822
# sources first, then sources.list; `security` selects the security archive instead.
apt_uri() {
  local want=$1 f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    if [ "$want" = security ]; then
      uri=$(awk '/^URIs:/ && /security/ {print $2; exit}' "$f")
    else
      uri=$(awk '/^URIs:/ && !/security/ {print $2; exit}' "$f")
    fi
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  if [ -f /etc/apt/sources.list ]; then
    if [ "$want" = security ]; then
      uri=$(awk '$1 == "deb" && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list)
    else
      uri=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] && { echo "$uri"; return; }
  fi
  if [ "$want" = security ]; then echo http://deb.debian.org/debian-security
  else echo http://deb.debian.org/debian; fi
}
MIRROR=${HOTLINE_DEBIAN_MIRROR:-$(apt_uri main)}
SECURITY=$(apt_uri security)

# base_image SUITE: hotline/base-SUITE from a debootstrap minbase root of that suite.
base_image() {
  local suite=$1 image=hotline/base-$1
  local tarball=$CACHE/base-$suite.tar
  if [ "$REBASE" = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    step "$image exists (reused; --rebase makes it again)"
    return
  fi
  if [ "$REBASE" = 1 ] || [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install debootstrap"
    [ "$(id -u)" = 0 ] || fail "making the base roots (debootstrap) needs root: run it with sudo"
    local root=$CACHE/root-$suite
    rm -rf "$root" "$tarball.tmp"
    mkdir -p "$CACHE"
    step "debootstrap --variant=minbase $suite from $MIRROR (about a minute)"
    debootstrap --variant=minbase "$suite" "$root" "$MIRROR" 2>&1 \
      | awk '/^I: (Retrieving|Validating|Unpacking|Configuring)/ { n[$2]++; if (n[$2] % 40 != 1) next }
             { print "    " $0; fflush() }' \
      || fail "debootstrap of $suite from $MIRROR failed (see above; HOTLINE_DEBIAN_MIRROR sets the mirror)"
    [ -x "$root/usr/bin/apt-get" ] || fail "debootstrap of $suite failed (see above)"
    # apt inside the images: the same mirror, with updates and security for a stable suite.
    {
      echo "deb $MIRROR $suite main"
      if [ "$suite" != sid ]; then
        echo "deb $MIRROR $suite-updates main"
        echo "deb $SECURITY $suite-security main"
      fi
    } > "$root/etc/apt/sources.list"
    # apt inside the images checks the mirror's Release files as this machine's apt does
    # (a machine whose mirror is a dated snapshot turns off the expiry check).
    apt-config dump 2>/dev/null | grep -E '^Acquire::Check-(Valid-Until|Date) ' \
      > "$root/etc/apt/apt.conf.d/99hotline-as-host" || rm -f "$root/etc/apt/apt.conf.d/99hotline-as-host"
    # The CAs this machine trusts beyond Debian's (a site's TLS-inspecting proxy, say): pip in
    # the builds reaches PyPI as this machine does (ca-certificates adds them to the bundle).
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
      mkdir -p "$root/usr/local/share/ca-certificates"
      cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    fi
    # No documentation or other languages' messages in the images.
    cat > "$root/etc/dpkg/dpkg.cfg.d/01-hotline-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
EOF
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    step "root of $suite kept in $tarball ($(du -h "$tarball" | cut -f1))"
  fi
  step "importing $tarball as $image"
  docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
    "$tarball" "$image:latest" >/dev/null
}

# image NAME DOCKERFILE CONTEXT: build hotline/NAME (docker's layer cache skips what is done);
# the steps show here, the whole output is kept in $CACHE/build-NAME.log.
image() {
  local name=$1 dockerfile=$2 context=$3 t0 log=$CACHE/build-$1.log
  t0=$(date +%s)
  mkdir -p "$CACHE"
  step "building hotline/$name ($dockerfile)"
  # The classic builder: `--network host` reaches the mirror and PyPI as this machine does.
  if ! DOCKER_BUILDKIT=0 docker build --network host --force-rm -t "hotline/$name:latest" \
      -f "$dockerfile" "$context" 2>&1 | tee "$log" \
      | { grep --line-buffered -E '^(Step [0-9]+/[0-9]+ : |Successfully built)' \
          | sed -u 's/^/    /'; true; }; then
    tail -n 25 "$log" >&2
    fail "building hotline/$name failed (whole output: $log)"
  fi
  step "hotline/$name ready ($(( $(date +%s) - t0 )) s)"
}

base_image sid
base_image bookworm
image asterisk docker/asterisk/Dockerfile docker/asterisk
image postgres docker/postgres/Dockerfile docker/postgres
image app docker/app/Dockerfile .
docker image prune -f --filter label=org.hotline.image >/dev/null 2>&1 || true
step "images built: $(docker images --filter reference='hotline/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}' | sort | paste -sd, - | sed 's/,/, /g')"
