package neon

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/cpu"
)

// TestImplSelection checks the start-up choice against the CPU features,
// and, when VIGIL_NEON_WANT_IMPL is set, against what the caller expects
// (the qemu runs set it: cortex-a72 must give arm64-smull, never SDOT).
func TestImplSelection(t *testing.T) {
	names := Impls()
	require.NotEmpty(t, names)
	assert.Equal(t, "generic", names[len(names)-1])
	assert.Equal(t, names[0], Impl())
	t.Logf("selected %s of %v", Impl(), names)
	if want := os.Getenv("VIGIL_NEON_WANT_IMPL"); want != "" {
		assert.Equal(t, want, Impl())
		if want == "arm64-smull" {
			assert.NotContains(t, names, "arm64-sdot")
		}
	}
	godebug := os.Getenv("GODEBUG")
	purego := slices.Contains(names, "generic") && len(names) == 1
	switch {
	case purego:
		// purego tag or another architecture: the reference only.
	case runtime.GOARCH == "arm64":
		assert.Equal(t, cpu.ARM64.HasASIMDDP, slices.Contains(names, "arm64-sdot"))
		assert.Contains(t, names, "arm64-smull")
		if strings.Contains(godebug, "cpu.asimddp=off") {
			assert.Equal(t, "arm64-smull", Impl())
		}
	case runtime.GOARCH == "amd64":
		assert.Equal(t, cpu.X86.HasAVX2, slices.Contains(names, "amd64-avx2"))
		assert.Equal(t, cpu.X86.HasAVXVNNI && cpu.X86.HasAVX2, slices.Contains(names, "amd64-avxvnni"))
		assert.Equal(t, cpu.X86.HasAVX512F && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX2, slices.Contains(names, "amd64-avx512vnni"))
		if strings.Contains(godebug, "cpu.avx512vnni=off") || strings.Contains(godebug, "cpu.avx512f=off") {
			assert.NotEqual(t, "amd64-avx512vnni", Impl())
		}
		if strings.Contains(godebug, "cpu.avx2=off") {
			assert.Equal(t, []string{"generic"}, names)
		}
	}
	restore := SetImpl("generic")
	assert.Equal(t, "generic", Impl())
	restore()
	assert.Equal(t, names[0], Impl())
	assert.Panics(t, func() { SetImpl("no-such") })
}
