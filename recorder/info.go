package recorder

import "github.com/callvault/callvault/recinfo"

// Info is the recorder's description of one recording, stored (encrypted)
// with it by the archive: recinfo.Info, written in recinfo.Version and read
// back with recinfo.Parse.
type Info = recinfo.Info
