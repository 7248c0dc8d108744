// Runs face-api.js's own SSD MobileNetV1 face detector (@vladmandic/face-api@1.7.15,
// dist/face-api.node-wasm.js, on tfjs's pure-JS CPU backend) over the raw RGB
// images gen/mkrgb.go wrote, through face-api's public API, and writes every
// box (score >= 0.05, up to 200 per image) in original-image pixels.
// Usage: node ssd.cjs RGBDIR MODELS OUT.json
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const faceapi = require(process.env.FACEAPI || './face-api.node-wasm.js'); // @vladmandic/face-api@1.7.15 dist/face-api.node-wasm.js
const tf = faceapi.tf;

const [rgbDir, models, outPath] = process.argv.slice(2);
const OPTIONS = { minConfidence: 0.05, maxResults: 200 };
const MANIFEST = 'ssd_mobilenetv1_model-weights_manifest.json';

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

// As infer/tfjs/testdata/gen/golden.cjs: the weights decoded with tf.io.decodeWeights.
function decode(dir, manifest, files) {
  const m = JSON.parse(fs.readFileSync(path.join(dir, manifest)));
  const map = {};
  for (const g of m) {
    const buf = Buffer.concat(g.paths.map((p) => fs.readFileSync(path.join(dir, p))));
    for (const p of g.paths) files[p] = sha256(fs.readFileSync(path.join(dir, p)));
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    Object.assign(map, tf.io.decodeWeights(ab, g.weights));
  }
  return map;
}

const round = (v, d) => Math.round(v * 10 ** d) / 10 ** d;

(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  const dir = path.join(models, 'face-api');
  const weights = { [MANIFEST]: sha256(fs.readFileSync(path.join(dir, MANIFEST))) };
  await faceapi.nets.ssdMobilenetv1.loadFromWeightMap(decode(dir, MANIFEST, weights));
  const options = new faceapi.SsdMobilenetv1Options(OPTIONS);

  const inputs = JSON.parse(fs.readFileSync(path.join(rgbDir, 'inputs.json')));
  const images = [];
  for (const im of inputs) {
    const b = fs.readFileSync(path.join(rgbDir, im.rgb));
    if (b.length !== im.width * im.height * 3) throw new Error(im.rgb + ': wrong size');
    if (sha256(b) !== im.rgb_sha256) throw new Error(im.rgb + ': checksum');
    // [H, W, 3] float32 in 0..255, as tf.node.decodeImage would give face-api.
    const x = tf.tensor3d(Float32Array.from(b), [im.height, im.width, 3], 'float32');
    const found = await faceapi.detectAllFaces(x, options);
    x.dispose();
    const dets = found.map((d) => ({
      x: round(d.box.x, 3), y: round(d.box.y, 3), w: round(d.box.width, 3), h: round(d.box.height, 3),
      score: round(d.score, 6),
    }));
    if (found.length && (found[0].imageWidth !== im.width || found[0].imageHeight !== im.height)) {
      throw new Error(im.file + ': face-api saw ' + found[0].imageWidth + 'x' + found[0].imageHeight);
    }
    images.push({ file: im.file, width: im.width, height: im.height, rgb_sha256: im.rgb_sha256, detections: dets });
    console.log(im.file, dets.length, 'boxes, best', dets.length ? dets[0].score : '-');
  }
  const out = {
    generator: {
      detector: 'face-api SsdMobilenetv1 (faceapi.nets.ssdMobilenetv1, faceapi.detectAllFaces)',
      options: OPTIONS,
      faceapi: faceapi.version, tfjs: tf.version_core, backend: tf.getBackend(), node: process.version,
      weights,
    },
    images,
  };
  fs.writeFileSync(outPath, JSON.stringify(out, null, 1) + '\n');
  console.log('wrote', outPath, JSON.stringify(out.generator));
})().catch((e) => { console.error(e); process.exit(1); });
