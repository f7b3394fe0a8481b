#!/bin/sh
# Healthy once Asterisk has fully booted (every module loaded, ARI and SIP listening).
out=$(/usr/sbin/asterisk -C "/srv/hotline/${HOTLINE_INSTANCE:?}/etc/asterisk.conf" \
      -rx "core waitfullybooted" 2>&1) || { echo "$out"; exit 1; }
case $out in *"fully booted"*) exit 0 ;; esac
echo "$out"
exit 1
