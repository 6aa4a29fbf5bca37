#!/bin/sh
# Validate the Electrum client harness against Electrum 4.3.4's own watchtower.
# Needs Debian's python3-electrum (4.3.4); runs offline in ~12 s.
exec /usr/bin/python3 "$(dirname "$0")/check_reference.py" "$@"
