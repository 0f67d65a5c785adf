package engine

import (
	"path"
)

func moduleKey(stackName, digest string) string {
	return path.Join("stacks", stackName, "modules", digest+".tar.gz")
}
