// Inference throughput of an ONNX model in onnxruntime (CPU, the library inside npm's
// onnxruntime-node; `make deps-bench` installs it): the median images/s over timed runs after
// warm-up, and the peak resident memory, as one JSON line. bench/compare_onnxruntime.py runs it
// beside `strata bench --mode infer`.
//
//   node bench/onnxruntime_bench.js MODEL.onnx --threads 2 --iters 20 --warmup 3
//   node bench/onnxruntime_bench.js MODEL.onnx --input x.bin --output logits.bin   # one run, for checking values
//
// The input shape is the model's (a fixed batch). Inputs are uniform in [0, 1) unless --input
// names a file of little-endian float32 values in that shape; --output writes the first output's
// float32 values.
"use strict";
const fs = require("fs");
const path = require("path");

function parseArgs(argv) {
  const a = { model: null, threads: 2, iters: 20, warmup: 3, input: null, output: null, modules: null };
  for (let i = 0; i < argv.length; ++i) {
    const v = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${v} needs a value`);
      return argv[++i];
    };
    if (v === "--threads") a.threads = parseInt(next(), 10);
    else if (v === "--iters") a.iters = parseInt(next(), 10);
    else if (v === "--warmup") a.warmup = parseInt(next(), 10);
    else if (v === "--input") a.input = next();
    else if (v === "--output") a.output = next();
    else if (v === "--modules") a.modules = next();
    else if (v.startsWith("--")) throw new Error(`unknown option ${v}`);
    else a.model = v;
  }
  if (!a.model) throw new Error("usage: onnxruntime_bench.js MODEL.onnx [--threads N] [--iters N] [--warmup N]");
  return a;
}

// The process's peak resident memory in kB: VmHWM, which starts afresh at exec (getrusage's maxrss
// keeps that of the process that forked this one).
function peakRssKb() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? parseInt(m[1], 10) : process.resourceUsage().maxRSS;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const baselineRssKb = peakRssKb();  // node itself, before onnxruntime
  const modules = args.modules || path.join(__dirname, "..", "build", "onnxruntime", "node_modules");
  const ort = require(path.join(modules, "onnxruntime-node"));
  const session = await ort.InferenceSession.create(args.model, {
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const inputName = session.inputNames[0];
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  const dims = meta && meta.shape ? meta.shape : null;
  if (!dims || dims.some((d) => typeof d !== "number")) throw new Error(`${args.model}: the input needs a fixed shape`);
  const count = dims.reduce((p, d) => p * d, 1);
  let data;
  if (args.input) {
    const bytes = fs.readFileSync(args.input);
    if (bytes.length !== 4 * count) throw new Error(`${args.input}: ${bytes.length} bytes, expected ${4 * count}`);
    data = new Float32Array(bytes.buffer, bytes.byteOffset, count);
  } else {
    data = new Float32Array(count);
    for (let i = 0; i < count; ++i) data[i] = Math.random();
  }
  const feeds = { [inputName]: new ort.Tensor("float32", data, dims) };
  if (args.output) {
    const out = await session.run(feeds);
    const y = out[session.outputNames[0]].data;
    fs.writeFileSync(args.output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    return;
  }
  for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
  const rates = [];
  for (let i = 0; i < args.iters; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(dims[0] / s);
  }
  rates.sort((x, y) => x - y);
  const rssKb = peakRssKb();
  console.log(JSON.stringify({
    images_per_sec: rates[Math.floor(rates.length / 2)],
    min: rates[0],
    max: rates[rates.length - 1],
    batch_size: dims[0],
    threads: args.threads,
    peak_rss_mb: rssKb / 1024,
    node_baseline_rss_mb: baselineRssKb / 1024,
    onnxruntime: ort.env.versions ? ort.env.versions.common : "",
  }));
}

main().catch((e) => {
  console.error(`onnxruntime_bench: ${e.message}`);
  process.exit(1);
});
