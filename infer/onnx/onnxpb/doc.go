// Package onnxpb holds the Go types generated from onnx.proto, vigil's subset
// of the ONNX model schema. The generated file is committed so that building
// vigil needs neither protoc nor protoc-gen-go; regenerate with go generate
// after editing onnx.proto (protoc 3.21+, protoc-gen-go v1.36.12 on PATH).
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
