"""Asterisk 22 managed by the engine: a Debian testing root filesystem, our config, a chroot."""
