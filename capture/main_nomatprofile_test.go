//go:build !matprofile

package capture

import (
	"testing"

	"go.uber.org/goleak"
)

// Without -tags matprofile gocv cannot count Mats; make test always sets the tag.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const matProfile = false

func matCount() int { return 0 }
