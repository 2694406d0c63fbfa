"""The docs name only outputs that exist, and say what a user sets for the `cuda` system feature."""

from __future__ import annotations

import re

from tests.nix.standin import REPO, outputs


def test_every_documented_output_exists() -> None:
    names = set(outputs('builtins.attrNames self.packages."x86_64-linux"'))
    for doc in ("README.md", "docs/nix.md"):
        text = (REPO / doc).read_text()
        named = set(re.findall(r"\.#([A-Za-z0-9_-]+)", text))
        assert named, doc
        assert named <= names, f"{doc} names outputs that do not exist: {named - names}"


def test_docs_say_how_to_provide_the_cuda_feature() -> None:
    for doc in ("README.md", "docs/nix.md"):
        text = (REPO / doc).read_text()
        assert "extra-system-features" in text, doc
        assert "nix-required-mounts" in text, doc
    assert "trusted user" in (REPO / "docs" / "nix.md").read_text()
    assert "extra-system-features cuda" in (REPO / "nix" / "lib" / "default.nix").read_text()
