package loadgen

import (
	"io"
	"testing"
	"time"
)

// A body nobody reads must not block its writer.
func TestPipeNeverBlocks(t *testing.T) {
	b := newPipe()
	p := make([]byte, pairLen)
	done := make(chan int)
	go func() {
		pending := 0
		for range 1000 {
			pending, _ = b.write(p)
		}
		done <- pending
	}()
	select {
	case pending := <-done:
		if pending != 999*pairLen {
			t.Errorf("pending %d", pending)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("write blocked")
	}
	b.finish(time.Now())
	n, err := io.Copy(io.Discard, b)
	if err != nil || n != 1000*pairLen {
		t.Errorf("read %d, %v", n, err)
	}
}
