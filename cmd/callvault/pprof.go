//go:build pprof

package main

import (
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

// A build with -tags pprof serves the runtime profiles on the loopback
// address in CALLVAULT_PPROF (e.g. 127.0.0.1:6060), for profiling under
// load. Release builds leave this file out.
func init() {
	addr := os.Getenv("CALLVAULT_PPROF")
	if addr == "" {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		os.Stderr.WriteString("callvault: CALLVAULT_PPROF must be a loopback address and port\n")
		os.Exit(2)
	}
	go http.ListenAndServe(addr, nil)
}
