#!/usr/bin/env bash
# tests/api/test_insomnia.py runs insomnia/mlcycle.json's unit tests with Insomnia's own CLI,
# inso: insomnia-inso 3.6.0 (the only 3.x release on the npm registry), pinned with all its
# dependencies by insomnia/cli/package.json and package-lock.json, installed into
# insomnia/cli/node_modules. It does not install on Node 20 as published; each step below says
# what it works around. Idempotent: a quick no-op when this install is already in place.
# CI runs `make test` as root on a clean Debian 12 machine (Node 20 + npm from /usr/bin).
set -euo pipefail
script="$(readlink -f "$0")"
cd "$(dirname "$script")/../insomnia/cli"
inso=node_modules/.bin/inso
libcurl=node_modules/@getinsomnia/node-libcurl
stamp=node_modules/.mlcycle-inso
want="insomnia-inso 3.6.0 node $(node --version 2>/dev/null) $(cat package.json package-lock.json "$script" | sha256sum | cut -c1-16)"

# Done already: the stamp of this lock, script and node, and inso answers with its version.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ "$("$inso" --version 2>/dev/null)" = "3.6.0" ]; then
    exit 0
fi

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$tool is missing: inso needs Node.js 20 and npm (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
done

# The native part of inso's HTTP client (@getinsomnia/node-libcurl) is compiled here: it needs
# libcurl's headers and curl-config (libcurl4-openssl-dev), a C++ compiler and make.
missing=()
command -v curl-config >/dev/null 2>&1 || missing+=(libcurl4-openssl-dev)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "inso's native build needs: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing ${missing[*]} for inso's native build"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node-gyp compiles against the running Node's headers. Left to itself it downloads them (to
# ~/.cache/node-gyp) from the Node.js website, which is not reachable from CI; Debian's and
# NodeSource's nodejs packages ship them under <prefix>/include/node, so point node-gyp there.
# A nodedir already set (npm_config_nodedir or an .npmrc) is kept if it has the headers.
if [ -z "${npm_config_nodedir:-}" ] || [ ! -f "${npm_config_nodedir}/include/node/common.gypi" ]; then
    npm_config_nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
fi
if [ ! -f "$npm_config_nodedir/include/node/common.gypi" ] || [ ! -f "$npm_config_nodedir/include/node/node_version.h" ]; then
    echo "Node's headers are missing under $npm_config_nodedir/include/node: inso's native build" \
        "needs them (they come with Debian's or NodeSource's nodejs package)" >&2
    exit 1
fi
headers="$(awk '/define NODE_(MAJOR|MINOR|PATCH)_VERSION/ {printf "%s.", $3}' \
    "$npm_config_nodedir/include/node/node_version.h")"
if [ "v${headers%.}" != "$(node --version)" ]; then
    echo "Node's headers under $npm_config_nodedir/include/node are v${headers%.}, node is" \
        "$(node --version): inso's native module would not load" >&2
    exit 1
fi
export npm_config_nodedir
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

started=$SECONDS
echo "installing Insomnia's CLI (insomnia-inso 3.6.0) into insomnia/cli (~1 min, ~175 MB)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# Exactly the committed lock. The lock overrides nan (node-libcurl pins 2.15.0, which does not
# build against Node 20's V8) with 2.30.0. --ignore-scripts: node-libcurl's install script would
# build before it is patched (below), after first trying to download a prebuilt binary from
# GitHub, and @scarf/scarf's install script only sends install analytics.
if ! npm ci --ignore-scripts --no-audit --no-fund >"$log" 2>&1; then
    cat "$log" >&2
    echo "npm ci in insomnia/cli failed" >&2
    exit 1
fi

# Node 20's V8 no longer has v8::Object::CreationContext(); GetCreationContext() replaced it and
# returns a MaybeLocal. node-libcurl 2.3.5-2 still calls the old one in src/Easy.cc.
easy="$libcurl/src/Easy.cc"
old='arr->CreationContext()'
new='arr->GetCreationContext().ToLocalChecked()'
if ! grep -qF "$old" "$easy"; then
    echo "$easy no longer calls $old: check whether the patch in scripts/ensure-inso.sh is still needed" >&2
    exit 1
fi
sed -i "s/arr->CreationContext()/$new/g" "$easy"
if grep -qF -e '->CreationContext()' "$easy"; then
    echo "$easy still calls CreationContext() after the patch" >&2
    exit 1
fi

# Now build node-libcurl from source (its install script, as npm runs it): build_from_source
# keeps node-pre-gyp from looking for a prebuilt binary on GitHub first.
if ! npm_config_build_from_source=true npm rebuild @getinsomnia/node-libcurl --foreground-scripts \
    >"$log" 2>&1; then
    grep -v -- '-Wdeprecated-declarations\|Wcast-function-type' "$log" | tail -60 >&2
    echo "building @getinsomnia/node-libcurl failed (full log above, compiler warnings left out)" >&2
    exit 1
fi
if ! node -e "require('@getinsomnia/node-libcurl')" >"$log" 2>&1; then
    cat "$log" >&2
    echo "@getinsomnia/node-libcurl was built but does not load" >&2
    exit 1
fi
version="$("$inso" --version)"
if [ "$version" != "3.6.0" ]; then
    echo "inso --version says $version, expected 3.6.0" >&2
    exit 1
fi
echo "$want" >"$stamp"
echo "inso $version ready in insomnia/cli ($((SECONDS - started)) s)"
