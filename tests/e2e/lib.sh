# Shared helpers for end-to-end tests; source it first.  Each script runs in
# a fresh scratch directory $T and ends with "finish", which prints the
# script's "N passed, N failed" line.
set -u
: "${DFMAKE:?}" "${DFMAKE_TEST:?}" "${TOP:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/dfm-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
npass=0 nfail=0 nskip=0
# Debian's Python, which has numpy, torch and Pillow.
PY=/usr/bin/python3

ok() { echo "ok   $1"; npass=$((npass + 1)); }
bad() { echo "FAIL $1"; nfail=$((nfail + 1)); }
skip() { echo "skip $1"; nskip=$((nskip + 1)); }

# check DESC CMD...: passes when CMD exits 0.
check() {
	desc=$1; shift
	if "$@" >"$T/.out" 2>&1; then ok "$desc"; else bad "$desc"; sed 's/^/    /' "$T/.out" | tail -n 20; fi
}

# check_fails DESC CMD...: passes when CMD exits non-zero.
check_fails() {
	desc=$1; shift
	if "$@" >"$T/.out" 2>&1; then bad "$desc"; sed 's/^/    /' "$T/.out" | tail -n 20; else ok "$desc"; fi
}

# check_grep DESC PATTERN FILE: passes when FILE has a line matching PATTERN.
check_grep() {
	if grep -qE -- "$2" "$3"; then ok "$1"; else bad "$1"; echo "    no line matches /$2/ in:"; sed 's/^/    /' "$3" | tail -n 20; fi
}

# check_eq DESC GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1"; echo "    got '$2', want '$3'"; fi
}

finish() {
	if [ "$nskip" -gt 0 ]; then
		echo "$npass passed, $nfail failed, $nskip skipped"
	else
		echo "$npass passed, $nfail failed"
	fi
}
