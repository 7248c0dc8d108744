// Package neon holds vigil's int8 compute kernels: GEMM with a fused
// requantization epilogue (convolutions through im2col or directly for 1x1,
// fully connected layers), depthwise 3x3 convolution, requantization,
// elementwise add and pooling. Tensors are NHWC, flat slices, int8
// activations (asymmetric, per tensor) and int8 weights (symmetric, per
// output channel, in [-127, 127]).
//
// # Invariants
//
// Every kernel has a pure-Go reference that is always compiled, and every
// SIMD implementation produces bit-identical results to it: requantization
// is integer only and defined once, by Requantize. Kernels allocate nothing.
//
// # API
//
//   - Requantize, QuantizeMultiplier: the integer rescale and its parameters.
//   - Pack packs weights [N][K] once at model load; Gemm runs
//     dst = epilogue(A x W^T) with a Requant per output channel; GemmInt32
//     returns the raw int32 accumulators.
//   - DepthwiseConv3x3, RequantizeInt8, AddInt8 (with AddMultipliers),
//     MaxPoolInt8 and AvgPoolInt8 (with Pool).
//   - Impl names the implementation chosen at start-up; Impls lists the
//     ones this CPU can run and SetImpl switches (tests, benchmarks).
//
// Gemm is safe for concurrent use on disjoint row ranges: a multi-threaded
// executor splits M across goroutines and gets the same bytes as one thread.
package neon
