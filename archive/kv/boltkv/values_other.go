//go:build !linux

package boltkv

import (
	"errors"
	"os"
	"syscall"
)

func fdatasync(f *os.File) error { return f.Sync() }

// punchHole is not done here: released ranges stay allocated.
func punchHole(*os.File, int64, int64) error { return errors.ErrUnsupported }

func openDirect(string) (*os.File, error) { return nil, errors.ErrUnsupported }

const errInvalid = syscall.EINVAL
