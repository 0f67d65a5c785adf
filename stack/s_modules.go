package stack

import (
	"path"
)

func moduleKey(stack, digest string) string {
	return path.Join("stacks", stack, "modules", digest+".tar.gz")
}
