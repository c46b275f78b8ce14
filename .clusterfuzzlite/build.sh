#!/bin/bash -eu
# Builds every ipctorture fuzz target the way ClusterFuzzLite and OSS-Fuzz
# build a project: with their compilers and flags ($CC, $CXX, $CFLAGS,
# $CXXFLAGS: sanitizers, coverage instrumentation, libc++), linked with their
# engine ($LIB_FUZZING_ENGINE), into $OUT, each target with its seed corpus
# (<target>_seed_corpus.zip), dictionary (<target>.dict) and options
# (<target>.options) beside it.  Scratch space is $WORK.
#
# Sources: this tree at $SRC/ipctorture; dependencies found at $SRC/<name>
# (the Dockerfile puts them there) are built or used from there, and
# otherwise come from the system (ci/fuzz, which runs this script outside the
# container, supplies yaml-cpp's source only: the system's header-only
# libraries serve any standard library, its compiled yaml-cpp does not).
set -eu  # also when run as `bash build.sh`, which ignores the #! line's flags
src="$SRC/ipctorture"
deps="$WORK/deps"
generator="Unix Makefiles"
command -v ninja >/dev/null && generator=Ninja

# A CMake project at $SRC/$1, installed into $deps with the builder's flags.
dependency() {
  local name=$1
  shift
  [ -d "$SRC/$name" ] || return 0
  cmake -S "$SRC/$name" -B "$WORK/dep-$name" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$deps" -DBUILD_SHARED_LIBS=OFF "$@" >/dev/null
  cmake --build "$WORK/dep-$name" -j"$(nproc)"
  cmake --install "$WORK/dep-$name" >/dev/null
}

dependency yaml-cpp -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF \
  -DYAML_CPP_BUILD_CONTRIB=OFF
dependency json -DJSON_BuildTests=OFF -DJSON_Install=ON
dependency CLI11 -DCLI11_BUILD_TESTS=OFF -DCLI11_BUILD_EXAMPLES=OFF -DCLI11_BUILD_DOCS=OFF

include_path="$deps/include"
for d in spdlog fmt; do
  [ -d "$SRC/$d/include" ] && include_path="$include_path;$SRC/$d/include"
done
boost=()
[ -d "$SRC/boost/boost" ] && boost=(-DIPCT_BOOST_INCLUDE_DIR="$SRC/boost")

# The builder's $CFLAGS already carry -fsanitize=fuzzer-no-link and the
# sanitizers: the project adds neither (IPCT_FUZZ_INSTRUMENT=OFF, no
# IPCT_SANITIZE).  Build type None: no optimisation flags of CMake's own.
cmake -S "$src" -B "$WORK/build" -G "$generator" -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_PREFIX_PATH="$deps" -DCMAKE_INCLUDE_PATH="$include_path" "${boost[@]}" \
  -DIPCT_FUZZ=ON -DIPCT_FUZZ_INSTRUMENT=OFF -DIPCT_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" \
  -DIPCT_HEADER_ONLY_LOGGING=ON -DIPCT_BUILD_TESTS=OFF -DIPCT_BUILD_BENCH=OFF >/dev/null
cmake --build "$WORK/build" -j"$(nproc)" --target fuzz_targets

while read -r target; do
  [ -n "$target" ] || continue
  cp "$WORK/build/fuzz/$target" "$OUT/"
  rm -f "$OUT/${target}_seed_corpus.zip"
  if [ -n "$(ls -A "$src/fuzz/corpus/$target" 2>/dev/null)" ]; then
    (cd "$src/fuzz/corpus/$target" && zip -q -r -j "$OUT/${target}_seed_corpus.zip" .)
  fi
  if [ -f "$src/fuzz/dict/$target.dict" ]; then
    cp "$src/fuzz/dict/$target.dict" "$OUT/"
  fi
  if [ -f "$src/fuzz/options/$target.options" ]; then
    cp "$src/fuzz/options/$target.options" "$OUT/"
  fi
done < "$WORK/build/fuzz/targets.txt"
# op_sequence_plugin_fuzzer loads the example plugin from beside itself.
cp "$WORK/build/harness/plugins/libexample_ring.so" "$OUT/"
