#!/bin/sh
# One-shot start of the node (compose service `init`): the database schema, then the PBX's
# config (rendered from dialplans/ into the volume the asterisk container runs from, with the
# agents' SIP accounts from the database), then the prompts into the sounds volume. Each step
# is idempotent; a later start redoes only what changed.
set -eu
echo "init: database schema"
hotline db upgrade
echo "init: PBX config for instance ${HOTLINE_INSTANCE:-main}"
hotline pbx render
echo "init: voice prompts"
hotline prompts build
echo "init: done"
