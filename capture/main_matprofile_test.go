//go:build matprofile

package capture

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
	"gocv.io/x/gocv"
)

// With -tags matprofile (make test), gocv counts every Mat that is created and not closed:
// the package's tests fail on a leaked Mat or a leaked goroutine.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := gocv.MatProfile.Count(); n != 0 {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		fmt.Fprintf(os.Stderr, "FAIL: %d gocv Mats leaked:\n%s\n", n, b.String())
		code = 1
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: leaked goroutines: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

const matProfile = true

func matCount() int { return gocv.MatProfile.Count() }
