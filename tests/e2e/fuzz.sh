# Builds the libFuzzer targets of tests/fuzz/ and runs each for a few
# seconds from small seeds written here; a crash, leak or sanitizer report
# fails the target.  FUZZ_SECONDS sets the time per target (default 3).
. "$TOP/tests/e2e/lib.sh"
secs=${FUZZ_SECONDS:-3}
build=${BUILD:-build}

if ! command -v clang >/dev/null 2>&1; then
	skip "fuzz targets: clang is not installed"
	finish
	exit 0
fi
if ! make -s -C "$TOP" BUILD="$build" fuzz >"$T/build.log" 2>&1; then
	bad "fuzz targets build"
	tail -n 20 "$T/build.log" | sed 's/^/    /'
	finish
	exit 0
fi
ok "fuzz targets build"

/usr/bin/python3 - "$T/seeds" <<'PY'
import io, json, os, struct, sys
import numpy as np
from PIL import Image

top = sys.argv[1]

def put(target, name, data):
    os.makedirs(os.path.join(top, target), exist_ok=True)
    with open(os.path.join(top, target, name), "wb") as f:
        f.write(data)

def image(mode, fmt, size=(5, 4), **kw):
    buf = io.BytesIO()
    fill = 0 if mode in ("L", "P", "1", "I;16") else (10,) * len(mode)
    Image.new(mode, size, fill).save(buf, fmt, **kw)
    return buf.getvalue()

for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
    put("png", mode.replace(";", ""), image(mode, "PNG"))
put("png", "interlaced", image("RGB", "PNG", optimize=False))
put("jpeg", "rgb", image("RGB", "JPEG"))
put("jpeg", "grey", image("L", "JPEG"))
put("jpeg", "progressive", image("RGB", "JPEG", progressive=True))
put("jpeg", "cmyk", image("CMYK", "JPEG"))

imgs = struct.pack(">IIII", 0x803, 2, 2, 3) + bytes(range(12))
labs = struct.pack(">II", 0x801, 2) + bytes([0, 1])
put("idx", "pair", struct.pack("<H", len(imgs)) + imgs + labs)
put("cifar", "ten", bytes([0, 3]) + bytes(3072))
put("cifar", "hundred", bytes([1, 2, 7]) + bytes(3072))

hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }"
hdr += " " * (118 - len(hdr)) + "\n"
put("npy", "f8", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode()
    + np.linspace(0, 1, 8).tobytes())

def safetensors(tensors, meta):
    head, blobs, off = {"__metadata__": meta}, b"", 0
    for name, dtype, shape, data in tensors:
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs += data
        off += len(data)
    text = json.dumps(head).encode()
    text += b" " * (-(len(text) + 8) % 8)
    return struct.pack("<Q", len(text)) + text + blobs

meta = {"classes": json.dumps(["a", "b"]), "source": "seed"}
put("dataset", "fixed", safetensors([("images", "U8", [2, 2, 2, 1], bytes(8)),
                                     ("labels", "I32", [2], struct.pack("<ii", 0, 1))], meta))
put("dataset", "varying", safetensors([
    ("shapes", "I64", [2, 3], struct.pack("<6q", 1, 2, 1, 2, 1, 1)),
    ("offsets", "I64", [2], struct.pack("<2q", 0, 2)),
    ("labels", "I32", [2], struct.pack("<ii", 1, 0)),
    ("pixels", "U8", [4], bytes(4))], meta))
PY

for f in "$TOP/$build"/fuzz/fuzz_*; do
	name=${f##*/fuzz_}
	mkdir -p "$T/corpus-$name"
	if "$f" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
		-print_final_stats=0 "$T/corpus-$name" "$T/seeds/$name" >"$T/$name.log" 2>&1; then
		ok "fuzz $name ($secs s)"
	else
		bad "fuzz $name"
		grep -E 'ERROR|SUMMARY|Test unit written' "$T/$name.log" | head -n 10 | sed 's/^/    /'
	fi
done
finish
