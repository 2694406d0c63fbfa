# The part of nixpkgs' lib that the flake (flake.nix, nix/*.nix except the NixOS module) calls, written from the
# documented semantics of nixpkgs' lib (lib/attrsets.nix, lib/lists.nix, lib/strings.nix, lib/meta.nix,
# lib/licenses.nix, lib/fetchers.nix). The module is checked against the real nixpkgs.lib by
# scripts/nix-module-check instead. A function the flake starts calling that is missing here fails evaluation in
# `make test`, so this file grows with the flake and never silently passes.
let
  lib = rec {
    id = x: x;
    mapAttrs = builtins.mapAttrs;
    attrNames = builtins.attrNames;
    attrValues = builtins.attrValues;
    filterAttrs = pred: set: builtins.listToAttrs (map (name: { inherit name; value = set.${name}; })
      (builtins.filter (name: pred name set.${name}) (builtins.attrNames set)));
    genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: builtins.listToAttrs (map (name: f name set.${name}) (builtins.attrNames set));
    mapAttrsToList = f: set: map (name: f name set.${name}) (builtins.attrNames set);
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalAttrs = cond: set: if cond then set else { };
    optionalString = cond: s: if cond then s else "";
    concatStringsSep = builtins.concatStringsSep;
    concatMapStringsSep = sep: f: list: builtins.concatStringsSep sep (map f list);
    concatLists = builtins.concatLists;
    concatMap = f: list: builtins.concatLists (map f list);
    toLower = builtins.replaceStrings
      [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ]
      [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
    splitString = sep: s: builtins.filter builtins.isString (builtins.split (builtins.replaceStrings
      [ "." "[" "]" "(" ")" "*" "+" "?" "^" "$" "|" ] [ "\\." "\\[" "\\]" "\\(" "\\)" "\\*" "\\+" "\\?" "\\^" "\\$" "\\|" ] sep) s);
    elem = builtins.elem;
    length = builtins.length;
    unique = list: builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ] list;
    # lib.strings.escapeShellArg: safe words unquoted, everything else in single quotes.
    escapeShellArg = arg:
      let s = toString arg; in
      if builtins.match "[[:alnum:],._+:@%/-]+" s != null then s
      else "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] s}'";
    escapeShellArgs = args: builtins.concatStringsSep " " (map escapeShellArg args);
    # lib.meta.getExe: the meta.mainProgram of a package, else a warning and its pname.
    getExe = drv:
      if drv ? meta.mainProgram then "${drv}/bin/${drv.meta.mainProgram}"
      else throw "standin lib.getExe: ${drv.name} has no meta.mainProgram (nixpkgs warns and guesses)";
    getExe' = drv: name: "${drv}/bin/${name}";
    getName = drv: drv.pname or drv.name;
    fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    licenses = {
      asl20 = { spdxId = "Apache-2.0"; free = true; };
      unfree = { shortName = "unfree"; free = false; };
    };
    sourceTypes.binaryNativeCode = { shortName = "binaryNativeCode"; isSource = false; };
    fetchers.proxyImpureEnvVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy"
      "HTTP_PROXY" "HTTPS_PROXY" "FTP_PROXY" "ALL_PROXY" "NO_PROXY" ];
    # Used only by nix/module.nix, which the flake exposes but never evaluates itself.
    mkDefault = x: x;
  };
in
lib
