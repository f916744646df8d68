#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs a consumer with
# find_package(foldopt), and again with pkg-config's flags alone: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
prefix=$(mktemp -d /tmp/foldopt_install_XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/foldopt"
test -f "$prefix/include/foldopt/foldopt.hpp"
cmake -S "$src/tests/install" -B "$prefix/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix/consumer" >/dev/null
"$prefix/consumer/consumer"
# The same program built with nothing but pkg-config's flags.
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -1)
c++ -std=c++17 "$src/tests/install/consumer.cpp" -o "$prefix/consumer_pc" \
  $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs foldopt)
"$prefix/consumer_pc"
echo "install: ok ($prefix)"
