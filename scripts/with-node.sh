#!/usr/bin/env bash
# Runs a command under another Node.js release, installed once from the npm
# registry's node-linux-<arch> package (the binary the `node` package installs)
# into /opt/tessera-node/<version>, outside the repository.
#   scripts/with-node.sh 24.22.3 npm test
# npm_config_nodedir points node-gyp at that release's own headers, so native
# addons (better-sqlite3) built by `npm ci` under it match its ABI.
set -euo pipefail
version="${1:?usage: scripts/with-node.sh <version> <command> [args...]}"
shift
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "with-node.sh: no node-linux package for $(uname -m)" >&2; exit 2 ;;
esac
prefix="${TESSERA_NODE_DIR:-/opt/tessera-node}/$version"
home="$prefix/node_modules/node-linux-$arch"
if [ ! -x "$home/bin/node" ]; then
  echo "installing Node.js $version (node-linux-$arch) into $prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@$version"
fi
export PATH="$home/bin:$PATH"
export npm_config_nodedir="$home"
exec "$@"
