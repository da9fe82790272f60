#!/usr/bin/env node
// Converts the Keras Inception-v3 bundled by the npm package nsfwjs into the
// weights file of stages/nn/inception.h (safetensors, torchvision names,
// OIHW convolutions, variant "keras").  tests/deps.sh runs it after the npm
// install:
//
//     node stages/nn/convert_nsfwjs.js NODE_MODULES OUT.safetensors
//
// nsfwjs ships the tfjs model as JavaScript: model.min.js exports the
// model.json object (Keras topology and weights manifest), each
// group1-shardNof6.min.js a base64 string of raw weight bytes.  Weights are
// uint8-quantised per tensor: value = min + scale * q.  Keras numbers its
// layers in creation order, which follows the order torchvision's
// Inception3 defines its convolutions in; the converter checks that order
// against the graph (every block's concatenation must join the branch ends
// it expects) and every kernel's shape before writing anything.
"use strict";
const fs = require("fs");
const path = require("path");

const NETWORK = "Inception-v3, nsfwjs weights; not comparable to published FID";

// Convolutions in torchvision's order, each with the kernel it must have
// (height, width, output channels); branch ends per block in concat order.
function layout() {
	const convs = [], ends = [];
	const add = (block, name, kh, kw, cout) =>
		convs.push({name: block ? block + "." + name : name, kh, kw, cout});
	add("", "Conv2d_1a_3x3", 3, 3, 32);
	add("", "Conv2d_2a_3x3", 3, 3, 32);
	add("", "Conv2d_2b_3x3", 3, 3, 64);
	add("", "Conv2d_3b_1x1", 1, 1, 80);
	add("", "Conv2d_4a_3x3", 3, 3, 192);
	for (const [b, pool] of [["Mixed_5b", 32], ["Mixed_5c", 64], ["Mixed_5d", 64]]) {
		add(b, "branch1x1", 1, 1, 64);
		add(b, "branch5x5_1", 1, 1, 48);
		add(b, "branch5x5_2", 5, 5, 64);
		add(b, "branch3x3dbl_1", 1, 1, 64);
		add(b, "branch3x3dbl_2", 3, 3, 96);
		add(b, "branch3x3dbl_3", 3, 3, 96);
		add(b, "branch_pool", 1, 1, pool);
		ends.push([b, "branch1x1", "branch5x5_2", "branch3x3dbl_3", "branch_pool"]);
	}
	add("Mixed_6a", "branch3x3", 3, 3, 384);
	add("Mixed_6a", "branch3x3dbl_1", 1, 1, 64);
	add("Mixed_6a", "branch3x3dbl_2", 3, 3, 96);
	add("Mixed_6a", "branch3x3dbl_3", 3, 3, 96);
	ends.push(["Mixed_6a", "branch3x3", "branch3x3dbl_3", "pool"]);
	for (const [b, c7] of [["Mixed_6b", 128], ["Mixed_6c", 160], ["Mixed_6d", 160],
			       ["Mixed_6e", 192]]) {
		add(b, "branch1x1", 1, 1, 192);
		add(b, "branch7x7_1", 1, 1, c7);
		add(b, "branch7x7_2", 1, 7, c7);
		add(b, "branch7x7_3", 7, 1, 192);
		add(b, "branch7x7dbl_1", 1, 1, c7);
		add(b, "branch7x7dbl_2", 7, 1, c7);
		add(b, "branch7x7dbl_3", 1, 7, c7);
		add(b, "branch7x7dbl_4", 7, 1, c7);
		add(b, "branch7x7dbl_5", 1, 7, 192);
		add(b, "branch_pool", 1, 1, 192);
		ends.push([b, "branch1x1", "branch7x7_3", "branch7x7dbl_5", "branch_pool"]);
	}
	add("Mixed_7a", "branch3x3_1", 1, 1, 192);
	add("Mixed_7a", "branch3x3_2", 3, 3, 320);
	add("Mixed_7a", "branch7x7x3_1", 1, 1, 192);
	add("Mixed_7a", "branch7x7x3_2", 1, 7, 192);
	add("Mixed_7a", "branch7x7x3_3", 7, 1, 192);
	add("Mixed_7a", "branch7x7x3_4", 3, 3, 192);
	ends.push(["Mixed_7a", "branch3x3_2", "branch7x7x3_4", "pool"]);
	for (const b of ["Mixed_7b", "Mixed_7c"]) {
		add(b, "branch1x1", 1, 1, 320);
		add(b, "branch3x3_1", 1, 1, 384);
		add(b, "branch3x3_2a", 1, 3, 384);
		add(b, "branch3x3_2b", 3, 1, 384);
		add(b, "branch3x3dbl_1", 1, 1, 448);
		add(b, "branch3x3dbl_2", 3, 3, 384);
		add(b, "branch3x3dbl_3a", 1, 3, 384);
		add(b, "branch3x3dbl_3b", 3, 1, 384);
		add(b, "branch_pool", 1, 1, 192);
		ends.push([b, "branch1x1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_3a",
			   "branch3x3dbl_3b", "branch_pool"]);
	}
	return {convs, ends};
}

function fail(msg) {
	process.stderr.write("convert_nsfwjs: " + msg + "\n");
	process.exit(1);
}

// Names the branch ends that feed a concatenation, expanding nested ones:
// activation_N is the output of conv2d_N, anything else a pool.
function branchEnds(byName, convs, layer) {
	const out = [];
	for (const [src] of layer.inbound_nodes[0]) {
		const m = /^activation_(\d+)$/.exec(src);
		const inner = byName[src];
		if (m)
			out.push(convs[Number(m[1]) - 1].name.split(".").pop());
		else if (inner && inner.class_name === "Concatenate")
			out.push(...branchEnds(byName, convs, inner));
		else
			out.push("pool");
	}
	return out;
}

function checkGraph(layers, convs, ends) {
	const byName = {};
	for (const l of layers)
		byName[l.name] = l;
	convs.forEach((c, i) => {
		const k = byName["conv2d_" + (i + 1)], bn = byName["batch_normalization_" + (i + 1)];
		const act = byName["activation_" + (i + 1)];
		if (!k || !bn || !act)
			fail("no conv2d, batch norm or activation " + (i + 1));
		if (k.config.kernel_size[0] !== c.kh || k.config.kernel_size[1] !== c.kw ||
		    k.config.filters !== c.cout || k.config.use_bias || bn.config.scale)
			fail("conv2d_" + (i + 1) + " is not " + c.name);
		if (bn.inbound_nodes[0][0][0] !== k.name || act.inbound_nodes[0][0][0] !== bn.name)
			fail("conv2d_" + (i + 1) + " is not followed by its batch norm and ReLU");
	});
	ends.forEach(([block, ...want], i) => {
		const got = branchEnds(byName, convs, byName["mixed" + i] || fail("no mixed" + i));
		if (got.join() !== want.join())
			fail("mixed" + i + " (" + block + ") joins " + got.join() + ", not " +
			     want.join());
	});
}

function readWeights(dir, manifest) {
	const bytes = Buffer.concat(manifest.paths.map(p =>
		Buffer.from(require(path.join(dir, p + ".min.js")), "base64")));
	const out = {};
	let off = 0;
	for (const w of manifest.weights) {
		const n = w.shape.reduce((a, b) => a * b, 1), q = w.quantization;
		if (w.dtype !== "float32" || !q || q.dtype !== "uint8")
			fail("weight " + w.name + " is not uint8-quantised float32");
		if (off + n > bytes.length)
			fail("the weight shards end inside " + w.name);
		const v = new Float32Array(n);
		for (let i = 0; i < n; i++)
			v[i] = q.min + q.scale * bytes[off + i];
		out[w.name] = {shape: w.shape, data: v};
		off += n;
	}
	if (off !== bytes.length)
		fail("the weight shards hold " + (bytes.length - off) + " unused bytes");
	return out;
}

// Keras HWIO (or [in, out] for dense layers) to PyTorch OIHW ([out, in]).
function transpose(t) {
	const s = t.shape, hw = s.length === 4 ? s[0] * s[1] : 1;
	const cin = s[s.length - 2], cout = s[s.length - 1];
	const v = new Float32Array(t.data.length);
	for (let p = 0; p < hw; p++)
		for (let i = 0; i < cin; i++)
			for (let o = 0; o < cout; o++)
				v[(o * cin + i) * hw + p] = t.data[(p * cin + i) * cout + o];
	return {shape: s.length === 4 ? [cout, cin, s[0], s[1]] : [cout, cin], data: v};
}

function tensors(w, convs) {
	const out = [];
	const take = (key) => w[key] || fail("no weight " + key);
	convs.forEach((c, i) => {
		const bn = "batch_normalization_" + (i + 1) + "/";
		out.push([c.name + ".conv.weight", transpose(take("conv2d_" + (i + 1) + "/kernel"))]);
		out.push([c.name + ".bn.bias", take(bn + "beta")]);
		out.push([c.name + ".bn.running_mean", take(bn + "moving_mean")]);
		out.push([c.name + ".bn.running_var", take(bn + "moving_variance")]);
	});
	for (let i = 1; i <= 3; i++) {
		out.push(["fc" + i + ".weight", transpose(take("dense_" + i + "/kernel"))]);
		out.push(["fc" + i + ".bias", take("dense_" + i + "/bias")]);
	}
	return out;
}

function writeSafetensors(file, list, meta) {
	const header = {__metadata__: meta};
	let off = 0;
	for (const [name, t] of list) {
		header[name] = {dtype: "F32", shape: t.shape,
				data_offsets: [off, off + t.data.length * 4]};
		off += t.data.length * 4;
	}
	let text = JSON.stringify(header);
	text += " ".repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
	const len = Buffer.alloc(8);
	len.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
	const tmp = file + ".tmp";
	const fd = fs.openSync(tmp, "w");
	fs.writeSync(fd, len);
	fs.writeSync(fd, text);
	for (const [, t] of list)
		fs.writeSync(fd, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
	fs.closeSync(fd);
	fs.renameSync(tmp, file);
}

function main() {
	if (process.argv.length !== 4)
		fail("usage: convert_nsfwjs.js NODE_MODULES OUT.safetensors");
	const pkg = path.resolve(process.argv[2], "nsfwjs");
	const dir = path.join(pkg, "dist", "models", "inception_v3");
	const version = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"))).version;
	const model = require(path.join(dir, "model.min.js"));
	const layers = model.modelTopology.model_config.config.layers;
	const {convs, ends} = layout();

	checkGraph(layers, convs, ends);
	const w = readWeights(dir, model.weightsManifest[0]);
	writeSafetensors(process.argv[3], tensors(w, convs), {
		variant: "keras",
		network: NETWORK,
		source: "npm nsfwjs " + version + ", dist/models/inception_v3 (uint8-quantised)",
		classes: JSON.stringify(["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]),
	});
}

main();
