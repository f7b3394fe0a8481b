#!/bin/sh
# Start Asterisk in the foreground with this instance's rendered config, as the sandbox does
# (app/pbx/sandbox.py: `asterisk -C <pbx dir>/etc/asterisk.conf -f -n -U asterisk -G asterisk`),
# without a chroot: the container is the root. Logs go to stdout (logger.conf's console).
set -eu
dir=/srv/hotline/${HOTLINE_INSTANCE:?}
conf=$dir/etc/asterisk.conf
wait=${HOTLINE_CONFIG_WAIT:-300}
waited=0
while [ ! -s "$conf" ]; do
  if [ "$waited" -ge "$wait" ]; then
    echo "asterisk: no config at $conf after ${wait} s: the app image renders it" \
         "(\`hotline pbx render\`, the init service of docker/compose.yaml)" >&2
    exit 1
  fi
  [ $((waited % 15)) -eq 0 ] && echo "asterisk: waiting for the rendered config $conf"
  sleep 1
  waited=$((waited + 1))
done
# What Asterisk writes (sandbox.PBX_WRITES) is its own; everything else it only reads.
mkdir -p "$dir/spool/recording"
for sub in run log spool db cache; do
  mkdir -p "$dir/$sub"
  find "$dir/$sub" ! -user asterisk -exec chown -h asterisk:asterisk {} +
done
exec /usr/sbin/asterisk -C "$conf" -f -n -U asterisk -G asterisk "$@"
