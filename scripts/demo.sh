#!/bin/sh
# demo.sh — the README's first command: install what is missing, build kiln, compile the
# bundled tiny GPT-2 into one standalone executable and let it write text.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
kiln=build/driver/kiln
model=models/tiny/model.xml
echo "\$ kiln check $model"
$kiln check "$model"
echo
echo "\$ kiln compile $model -o build/tiny -v"
$kiln compile "$model" -o build/tiny -v
echo
echo "\$ ldd build/tiny    # nothing but the C library"
ldd build/tiny | sed 's/ (0x[0-9a-f]*)//'
echo
prompt=${1:-"And the LORD said unto Moses,"}
echo "\$ build/tiny -p \"$prompt\" -n 80 --temperature 0.8 --seed 7 --stats"
build/tiny -p "$prompt" -n 80 --temperature 0.8 --seed 7 --stats
