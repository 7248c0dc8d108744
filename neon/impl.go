package neon

import "fmt"

// implementation is one set of kernels. Every architecture file registers
// the ones its CPU supports, best first; "generic" is always last.
type implementation struct {
	name string
	// id picks the tile kernel in archTile (0: tileGeneric). Kernels are
	// called directly, not through func values, so that escape analysis
	// keeps the accumulator tile on the stack.
	id int
}

var generic = &implementation{name: "generic"}

var (
	impls = append(archImpls(), generic) // usable on this CPU, best first
	cur   = impls[0]                     // selected at start-up
)

// Impl names the implementation selected at start-up: "arm64-sdot",
// "arm64-smull", "amd64-avx512vnni", "amd64-avx2" or "generic".
func Impl() string { return cur.name }

// Impls lists the implementations this CPU can run, best first.
func Impls() []string {
	names := make([]string, len(impls))
	for i, im := range impls {
		names[i] = im.name
	}
	return names
}

// SetImpl selects the implementation called name (one of Impls) and returns
// a function restoring the previous one. It is for tests and benchmarks and
// must not race with running kernels.
func SetImpl(name string) (restore func()) {
	for _, im := range impls {
		if im.name == name {
			prev := cur
			cur = im
			return func() { cur = prev }
		}
	}
	panic(fmt.Sprintf("neon.SetImpl: %q is not one of %v", name, Impls()))
}
