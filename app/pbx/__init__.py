"""The local PBX sandbox: Asterisk 22 from Debian in a debootstrap root, run in a private mount namespace."""
