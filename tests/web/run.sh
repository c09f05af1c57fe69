#!/bin/sh
# Browser tests of the dashboard (tests/web/run.mjs) in headless Debian Chromium.
# Installs what is missing first: Debian's chromium (and nodejs/npm) with apt-get,
# playwright-core with `npm ci` into tests/web/node_modules. Never downloads a browser.
#
#   sh tests/web/run.sh            (DIFFD_BIN defaults to build/diffd)
#   sh tests/web/run.sh --install  (only install, e.g. from make deps)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ]; then
		$SUDO apt-get update -q
	fi
	$SUDO apt-get install -y -q --no-install-recommends "$@" ||
		{ $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends "$@"; }
}

missing=""
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
if [ -n "$missing" ]; then
	echo "web: installing$missing"
	# shellcheck disable=SC2086
	apt_install $missing fonts-dejavu-core
fi

if [ ! -f "$HERE/node_modules/playwright-core/package.json" ] ||
	! cmp -s "$HERE/package-lock.json" "$HERE/node_modules/.diffd-lock" 2>/dev/null; then
	echo "web: npm ci (playwright-core; no browser download)"
	(cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
	cp "$HERE/package-lock.json" "$HERE/node_modules/.diffd-lock"
fi

[ "${1:-}" = "--install" ] && exit 0
exec node "$HERE/run.mjs"
