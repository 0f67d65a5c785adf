// Package scenarios holds the built-in load scenarios, so a `stack` binary can
// run them by name from any folder.
package scenarios

import (
	"embed"
	"io/fs"
)

//go:embed sms-inbound track-events
var builtin embed.FS

// Builtin returns the built-in scenario folders (sms-inbound, track-events).
func Builtin() fs.FS { return builtin }
