# flake.nix's outputs with the recording stand-in as its nixpkgs input, as `nix flake` would call them (self is
# the outputs plus outPath). `root` is a checkout (a copy with other pins in tests). Used by tests/nix/*.py.
{ root ? ../.. }:
let
  flake = import (root + "/flake.nix");
  nixpkgs = { outPath = ./standin-nixpkgs; lib = import ./standin-nixpkgs/lib.nix; };
  self = flake.outputs { inherit self nixpkgs; } // { outPath = root; };
in
self
