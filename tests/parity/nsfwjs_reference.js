#!/usr/bin/env node
// Writes tests/fixtures/inception/nsfwjs.safetensors: two smooth random
// 299 x 299 RGB images and what nsfwjs' own Inception-v3 makes of them in
// TensorFlow.js (CPU backend): the 2048 pool features (layer flatten_1) and
// the 5 class probabilities.  The images are fed at 299 x 299 already, so
// no resizing convention enters, and scaled to [0, 1] as nsfwjs does.  The
// unit tests compare the converted weights file (stages/nn/convert_nsfwjs.js)
// run through stages/nn/inception.c against these.  Run from the
// repository root after "make deps":
//
//     node tests/parity/nsfwjs_reference.js .data/node_modules
"use strict";
const fs = require("fs");
const path = require("path");

const modules = path.resolve(process.argv[2] || ".data/node_modules");
const tf = require(path.join(modules, "@tensorflow", "tfjs"));
const dir = path.join(modules, "nsfwjs", "dist", "models", "inception_v3");
const OUT = path.join(__dirname, "..", "fixtures", "inception", "nsfwjs.safetensors");
const N = 2, S = 299, G = 8;

// A fixed linear congruential generator, so the images never change.
let state = 12345;
function rand() {
	state = (state * 1103515245 + 12345) % 2147483648;
	return state / 2147483648;
}

// Bilinear blends of a G x G grid of random colours: photo-like smoothness.
function images() {
	const px = new Uint8Array(N * S * S * 3);
	for (let n = 0; n < N; n++) {
		const grid = Array.from({length: G * G * 3}, () => rand() * 255);
		for (let y = 0; y < S; y++)
			for (let x = 0; x < S; x++) {
				const gy = y / (S - 1) * (G - 1), gx = x / (S - 1) * (G - 1);
				const y0 = Math.min(Math.floor(gy), G - 2), x0 = Math.min(Math.floor(gx), G - 2);
				const fy = gy - y0, fx = gx - x0;
				for (let c = 0; c < 3; c++) {
					const at = (yy, xx) => grid[(yy * G + xx) * 3 + c];
					const v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
						fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
					px[((n * S + y) * S + x) * 3 + c] = Math.round(v);
				}
			}
	}
	return px;
}

function save(file, list) {
	const header = {__metadata__: {source: "nsfwjs inception_v3 in TensorFlow.js " +
				       tf.version.tfjs + ", cpu backend"}};
	let off = 0;
	for (const [name, dtype, shape, bytes] of list) {
		header[name] = {dtype, shape, data_offsets: [off, off + bytes.length]};
		off += bytes.length;
	}
	let text = JSON.stringify(header);
	text += " ".repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
	const len = Buffer.alloc(8);
	len.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
	fs.writeFileSync(file, Buffer.concat([len, Buffer.from(text),
					      ...list.map(e => Buffer.from(e[3]))]));
}

async function main() {
	await tf.setBackend("cpu");
	const json = require(path.join(dir, "model.min.js"));
	const manifest = json.weightsManifest[0];
	const data = Buffer.concat(manifest.paths.map(p =>
		Buffer.from(require(path.join(dir, p + ".min.js")), "base64")));
	const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
	const model = await tf.loadLayersModel(tf.io.fromMemory(json.modelTopology,
								 manifest.weights, ab));
	const sub = tf.model({inputs: model.inputs,
			      outputs: [model.getLayer("flatten_1").output, model.outputs[0]]});
	const px = images();
	const x = tf.tensor4d(Float32Array.from(px, v => v / 255), [N, S, S, 3]);
	const [feats, probs] = sub.predict(x);
	const f = await feats.data(), p = await probs.data();
	// Floats first, so that every tensor is aligned to its element size.
	save(OUT, [["features", "F32", [N, 2048], new Uint8Array(f.buffer)],
		   ["probs", "F32", [N, 5], new Uint8Array(p.buffer)],
		   ["images", "U8", [N, S, S, 3], px]]);
	console.log("probs", Array.from(p).map(v => v.toFixed(4)).join(" "));
}

main().catch(e => {
	process.stderr.write("nsfwjs_reference: " + e.stack + "\n");
	process.exit(1);
});
