{
  description = "Recording stand-in for the part of nixpkgs that trtllm-nix uses (tests only)";
  outputs = { self }: { lib = import ./lib.nix; };
}
