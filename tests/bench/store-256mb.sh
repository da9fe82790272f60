#!/bin/sh
# Put and get of a 256 MB artifact against a plain file write and read of
# the same bytes; the driver prints the medians of five runs of each.
set -eu
: "${TOP:?}" "${BUILD:=build}"
exec "$TOP/$BUILD/bench-store"
