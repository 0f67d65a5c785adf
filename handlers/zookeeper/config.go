package zookeeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// config is the handler's part of an on_complete entry:
//
//	{"handler": "zookeeper",
//	 "root": "/synthetic/${stack.name}",            // optional, default "/stack/${stack.name}"
//	 "publish": {
//	   "/db/host": "${outputs.endpoint}",            // path (relative to root) -> value
//	   "/db/password": {"value": "${outputs.password}", "sensitive": true}},
//	 "sensitive": ["/db/host"],                       // optional, same as the object form
//	 "version_node": "/db/.version"}                 // optional, default "/<step>/.version"
//
// Paths and values may use ${outputs.X}, ${var.X}, ${stack.name} and
// ${steps.S.outputs.O}. A value that is not a string is published as JSON.
type config struct {
	Root        string                     `json:"root,omitempty"`
	Publish     map[string]json.RawMessage `json:"publish"`
	Sensitive   []string                   `json:"sensitive,omitempty"`
	VersionNode string                     `json:"version_node,omitempty"`
}

// publishValue is the object form of a publish entry.
type publishValue struct {
	Value     json.RawMessage `json:"value"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

// defaultRoot keeps two stacks apart unless a definition says otherwise.
const defaultRoot = "/stack/${stack.name}"

func parseConfig(raw json.RawMessage) (config, error) {
	var c config
	if err := stack.DecodeStrict(raw, &c); err != nil {
		return c, fmt.Errorf("zookeeper handler: %w (fields: root, publish, sensitive, version_node)", err)
	}
	if c.Root == "" {
		c.Root = defaultRoot
	}
	if err := checkPath("root", c.Root, true); err != nil {
		return c, err
	}
	if len(c.Publish) == 0 {
		return c, errors.New(`zookeeper handler: "publish" is missing or empty: give a map of znode path to value, e.g. {"/db/host": "${outputs.endpoint}"}`)
	}
	for _, p := range slices.Sorted(maps.Keys(c.Publish)) {
		field := fmt.Sprintf("publish[%q]", p)
		if err := checkPath(field, p, false); err != nil {
			return c, err
		}
		if _, _, err := splitValue(c.Publish[p]); err != nil {
			return c, fmt.Errorf("zookeeper handler: %s: %w", field, err)
		}
	}
	for i, p := range c.Sensitive {
		if _, ok := c.Publish[p]; !ok {
			return c, fmt.Errorf("zookeeper handler: sensitive[%d] %q is not a key of \"publish\"; list the paths exactly as written there", i, p)
		}
	}
	if c.VersionNode != "" {
		if err := checkPath("version_node", c.VersionNode, false); err != nil {
			return c, err
		}
		if _, ok := c.Publish[c.VersionNode]; ok {
			return c, fmt.Errorf("zookeeper handler: version_node %q is also a key of \"publish\"; choose another path for the change counter", c.VersionNode)
		}
	}
	return c, nil
}

// splitValue separates a publish entry into its value and its "sensitive" mark.
func splitValue(raw json.RawMessage) (value any, sensitive bool, err error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false, err
	}
	if _, isObject := v.(map[string]any); !isObject {
		return v, false, nil
	}
	var pv publishValue
	if err := stack.DecodeStrict(raw, &pv); err != nil {
		return nil, false, fmt.Errorf(`%w: write a value as a string, or as {"value": "...", "sensitive": true}`, err)
	}
	if len(pv.Value) == 0 {
		return nil, false, errors.New(`"value" is missing: write {"value": "...", "sensitive": true}`)
	}
	if err := json.Unmarshal(pv.Value, &v); err != nil {
		return nil, false, err
	}
	return v, pv.Sensitive, nil
}

// checkPath checks a znode path as written in the definition. References are
// allowed; they are checked again after resolution by checkResolvedPath.
func checkPath(field, p string, isRoot bool) error {
	if err := pathProblem(p, isRoot); err != nil {
		return fmt.Errorf("zookeeper handler: %s %q: %w", field, p, err)
	}
	return nil
}

func pathProblem(p string, isRoot bool) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		if isRoot {
			return errors.New(`must be an absolute znode path starting with "/"`)
		}
		return errors.New(`must start with "/" (publish paths are relative to "root")`)
	case p == "/" && isRoot:
		return nil
	case p == "/":
		return errors.New(`names the root itself; publish to a child such as "/host"`)
	case strings.HasSuffix(p, "/"):
		return errors.New(`must not end with "/"`)
	case strings.ContainsAny(p, "\x00\n\r\t"):
		return errors.New("must not contain control characters")
	}
	for _, seg := range strings.Split(p[1:], "/") {
		switch seg {
		case "":
			return errors.New(`has an empty segment ("//")`)
		case ".", "..":
			return fmt.Errorf(`has a %q segment; znode paths are not resolved like file paths`, seg)
		}
	}
	if isRoot && (p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/")) {
		return errors.New(`is inside /zookeeper, which ZooKeeper reserves for itself`)
	}
	return nil
}

// joinPath puts a publish path under the root.
func joinPath(root, p string) string {
	if root == "/" {
		return p
	}
	return root + p
}
