# python3 and the Python packages the flake names. The interpreter is the host's bare python3.11 (nixpkgs' is 3.14:
# all-packages.nix `python3 = python314;`); every dependency's modules come from one host folder (host.json's
# `site`, a copy of the test virtualenv's site-packages without trtllm-nix) instead of one store path each.
# Imitated from nixpkgs (tests/nix/standin-nixpkgs/README.md has the files):
# - buildPythonApplication builds a wheel from `src` and installs it (pypa build and install hooks), then wraps each
#   program as wrap.sh does: the site folders of the package and its dependencies are patched into the script
#   itself (`patchPythonScript`: `site.addsitedir` lines), the script moves to `.NAME-wrapped`, and the wrapper sets
#   only PATH and PYTHONNOUSERSITE. No PYTHONPATH: `sys.executable` is a bare interpreter. The site folders of
#   dependencies built here (a wheel, e.g. smg-grpc-proto) are patched in too, as wrap.sh adds every propagated
#   Python dependency's site-packages (`_addToPythonPath` over `pythonPath`); the stand-in modules of host.site have
#   none of their own.
# - pythonImportsCheck imports the listed modules after the install.
# - withPackages keeps only Python modules and their dependencies (requiredPythonModules): a buildPythonApplication
#   is dropped silently; toPythonModule makes it a module. (Recorded only: nothing here builds an environment.)
{ lib, record, host, hostTool }:
let
  pythonId = "python3.14";
  sitePackages = "lib/python3.11/site-packages";
  isModule = drv: (drv.pythonModule or null) == pythonId;
  mark = drv: drv // { pythonModule = pythonId; };

  # A nixpkgs Python package with the dependencies nixpkgs propagates for it (only the ones listed here; a test
  # that needs another module lists it itself). Its modules are in host.site; huggingface-hub brings the stand-in
  # `hf` program (../host-tools/hf over the stand-in Hub).
  module = pname: dependencies: mark (record "python-package" {
    inherit pname dependencies;
    version = "standin";
    tool = if pname == "huggingface-hub" then ./host-tools/hf else "";
    buildCommand = ''
      mkdir -p $out
      if [ -n "$tool" ]; then
        mkdir -p $out/bin
        printf '#!${host.shell}\nexec %s %s %s "$@"\n' ${host.python} "$tool" ${lib.escapeShellArg host.hub} > $out/bin/hf
        chmod +x $out/bin/hf
      fi
    '';
    passthru = { inherit dependencies; } // optional.${pname} or { };
    meta.mainProgram = if pname == "huggingface-hub" then "hf" else pname;
  });

  names = {
    numpy = [ ];
    tritonclient = [ "numpy" ];
    grpcio = [ ];
    protobuf = [ ];
    tokenizers = [ "huggingface-hub" ];
    jinja2 = [ ];
    starlette = [ ];
    pydantic = [ ];
    fastapi = [ "starlette" "pydantic" ];
    uvicorn = [ ];
    uvloop = [ ];
    httptools = [ ];
    httpx = [ ];
    prometheus-client = [ ];
    nvidia-ml-py = [ ];
    huggingface-hub = [ "httpx" ];
    setuptools = [ ];
    pytest = [ ];
    hypothesis = [ ];
    mypy = [ ];
    openai = [ "httpx" "pydantic" ];
    torch = [ "numpy" ];
    safetensors = [ ];
    packaging = [ ];
    xgrammar = [ "pydantic" "torch" "numpy" ];
    psycopg = [ ]; # trtllm-nix[postgresql]
    # smg's (nix/smg.nix)
    setproctitle = [ ];
    grpcio-health-checking = [ "grpcio" "protobuf" ];
    pyyaml = [ ];
  };
  # passthru.optional-dependencies as nixpkgs declares it (tritonclient: grpc = [ grpcio packaging ], no http).
  optional.tritonclient.optional-dependencies.grpc = [ packages.grpcio packages.packaging ];
  packages = builtins.mapAttrs (pname: deps: module pname (map (d: packages.${d}) deps)) names;

  closure = drvs: builtins.genericClosure {
    startSet = map (drv: { key = drv.pname; inherit drv; }) (builtins.filter isModule drvs);
    operator = item: map (drv: { key = drv.pname; inherit drv; }) (builtins.filter isModule (item.drv.dependencies or [ ]));
  };

  # wrap.sh's wrapPythonPrograms for each program in $out/bin.
  wrapPrograms = ''
    for program in $out/bin/*; do
      [ -f "$program" ] || continue
      name=$(basename "$program")
      sed -i "1s|^#!.*|#!${host.python}|" "$program"
      sites="'$out/${sitePackages}', '${host.site}'$dependencySites"
      sed -i "1a import sys;import site;import functools;sys.argv[0] = '$name';functools.reduce(lambda k, p: site.addsitedir(p, k), [$sites], site._init_pathinfo());" "$program"
      mv "$program" "$out/bin/.$name-wrapped"
      printf '#! %s -e\nexport PATH=%s${"$"}{PATH:+:}$PATH\nexport PYTHONNOUSERSITE=true\nexec -a "$0" "%s" "$@"\n' \
        ${host.shell} "$out/bin" "$out/bin/.$name-wrapped" > "$program"
      chmod +x "$program"
    done
  '';

  build = kind: application: args:
    let drv = record kind (args // {
      passthru = (args.passthru or { }) // { dependencies = args.dependencies or [ ]; };
      imports = args.pythonImportsCheck or [ ];
      buildCommand = ''
        export HOME=$TMPDIR
        mkdir -p "$TMPDIR/dist"
        if [ "''${format:-}" = wheel ]; then  # a released wheel (format = "wheel"): installed as it is
          cp "$src" "$TMPDIR/dist/$(basename "$src" | cut -d- -f2-)"  # without the store hash
        else
          cp -r "$src" "$TMPDIR/source" && chmod -R u+w "$TMPDIR/source"
          PYTHONPATH=${host.site} ${host.python} -m pip wheel -q --no-deps --no-index --no-build-isolation \
            --wheel-dir "$TMPDIR/dist" "$TMPDIR/source" 2>&1 | (grep -v -i 'warning\|!!\|\*\*\*\|^ *$\|corresp\|license' || true)
        fi
        PYTHONPATH=${host.site} ${host.python} -m pip install -q --no-deps --no-index \
          --target "$out/${sitePackages}" "$TMPDIR"/dist/*.whl
        if [ -d "$out/${sitePackages}/bin" ]; then mv "$out/${sitePackages}/bin" "$out/bin"; fi  # a library has none
        dependencySites=
        for dependency in $dependencies; do
          if [ -d "$dependency/${sitePackages}" ]; then dependencySites="$dependencySites, '$dependency/${sitePackages}'"; fi
        done
        ${wrapPrograms}
        for module in $imports; do
          PYTHONNOUSERSITE=true ${host.python} -c "import site; [site.addsitedir(p) for p in ['$out/${sitePackages}', '${host.site}'$dependencySites]]; import $module"
        done
      '';
    });
    in if application then drv else mark drv;

  python3Packages = packages // {
    buildPythonApplication = build "buildPythonApplication" true;
    buildPythonPackage = build "buildPythonPackage" false;
    toPythonModule = mark;
  };

  python3 = record "python" {
    pname = "python3";
    version = "3.14";
    meta.mainProgram = "python3";
    buildCommand = "mkdir -p $out/bin; ln -s ${host.python} $out/bin/python3";
  } // {
    pkgs = python3Packages;
    pythonVersion = "3.14";
    inherit sitePackages;
    withPackages = f:
      let
        chosen = f python3Packages;
        modules = map (item: item.drv) (closure chosen);
      in
      record "python.withPackages" {
        name = "python3-3.14-env";
        dependencies = modules;
        passthru = { modules = map (drv: drv.pname) modules; requested = map (drv: drv.pname or drv.name) chosen; };
        meta.mainProgram = "python3";
      };
  };
in
{ inherit python3 python3Packages; }
