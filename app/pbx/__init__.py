"""The local PBX sandbox: Asterisk 22 from Debian in a debootstrap root, own mount namespace."""
