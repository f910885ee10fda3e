package main

import (
	"errors"
	"net"
	"os"
)

// sdNotify sends a state line ("READY=1", "STOPPING=1", ...) to systemd
// when the daemon runs under a unit of Type=notify (NOTIFY_SOCKET is set);
// elsewhere it does nothing. An abstract socket is written "@name".
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] != '/' && path[0] != '@' {
		return errors.New("sd_notify: NOTIFY_SOCKET is neither a path nor an abstract socket")
	}
	addr := &net.UnixAddr{Name: path, Net: "unixgram"}
	if path[0] == '@' {
		addr.Name = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
