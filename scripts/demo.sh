#!/bin/sh
# demo.sh — the README's first command: install what is missing, build kiln, then check the
# bundled tiny GPT-2, print its IR summary and let it write text (reference interpreter).
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
echo "\$ kiln compile $model --emit=ir -o build/tiny.kir"
$kiln compile "$model" --emit=ir -o build/tiny.kir
echo "(wrote build/tiny.kir: $(grep -c '^  %' build/tiny.kir) nodes)"
echo
prompt=${1:-"And the LORD said unto Moses,"}
echo "\$ kiln run build/tiny.kir -p \"$prompt\" -n 60 --temperature 0.8 --seed 7 --stats"
$kiln run build/tiny.kir -p "$prompt" -n 60 --temperature 0.8 --seed 7 --stats
