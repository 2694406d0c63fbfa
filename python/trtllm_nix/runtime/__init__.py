"""Enter an unpacked container image root (bubblewrap), with the host's NVIDIA driver made visible."""
