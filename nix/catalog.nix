# The model catalog, read from the same JSON file Python reads (python/trtllm_nix/catalog.json), plus the pure
# naming helpers both sides agree on (tests/nix/test_nix.py proves it). Needs no nixpkgs.
let
  data = builtins.fromJSON (builtins.readFile ../python/trtllm_nix/catalog.json);

  # "NVFP4" -> "nvfp4", without nixpkgs' lib.toLower.
  lower = s: builtins.replaceStrings
    [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ]
    [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ] s;
  # qwen3-32b-nvfp4-tp4-sm100-trtllm1.1.0: model, quantization, parallelism, GPU architecture, TensorRT-LLM.
  # The architecture is what the derivation asks the build for (--gpu-arch, refused on another GPU).
  engineNameFor = model: variant: gpuArch:
    let
      entry = data.models.${model};
      v = entry.variants.${variant};
      pp = if v.pp == 1 then "" else "-pp${toString v.pp}";
    in
    "${model}-${lower entry.quant}-tp${toString v.tp}${pp}-${gpuArch}-trtllm${data.runtime.tensorrt_llm}";
in
data // {
  inherit lower engineNameFor;

  engineName = model: variant: engineNameFor model variant data.models.${model}.gpu_arch;

  # Flake output names: the TP1 variant carries no suffix, as in the seed (qwen3-32b-engine, -tp2, -tp4).
  variantSuffix = variant: if variant == "tp1" then "" else "-${variant}";
}
