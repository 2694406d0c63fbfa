# The stand-in for stdenv's generic builder (pkgs/stdenv/generic/setup.sh), reduced to what the flake's builders
# use: strict mode as stdenv sets it (errexit, nounset, pipefail), PATH from the bin folders of nativeBuildInputs,
# buildInputs and propagated inputs, then the host's tools mounted into the sandbox (extra-sandbox-paths) standing
# for stdenv's own (coreutils, bash, findutils, ...), and `buildCommand` evaluated as genericBuild evaluates it.
set -eu -o pipefail
PATH=
for input in ${nativeBuildInputs:-} ${buildInputs:-}; do
  if [ -d "$input/bin" ]; then PATH=$PATH${PATH:+:}$input/bin; fi
done
export PATH=$PATH${PATH:+:}/usr/bin:/bin
eval "$buildCommand"
