# Shared helpers for benchmark scripts.

# Debian's Python, which has numpy, scipy, torch and Pillow.
PY=/usr/bin/python3

# median_ms RUNS CMD...: runs CMD RUNS times (output discarded) and prints the
# median wall time in milliseconds.
median_ms() {
	$PY - "$@" <<'P'
import subprocess, sys, time, statistics
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times.append((time.perf_counter() - t) * 1000)
print("%.1f" % statistics.median(times))
P
}

# ratio A B: B / A with two decimals (peer time over dfmake time).
ratio() {
	$PY -c "import sys; print('%.2f' % (float(sys.argv[2]) / float(sys.argv[1])))" "$1" "$2"
}
