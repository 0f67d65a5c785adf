package zookeeper

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidateNamesTheFieldAndTheFix(t *testing.T) {
	h := New(Options{})
	for _, tc := range []struct {
		config string
		want   []string // fragments of the error; nil means valid
	}{
		{`{"publish": {"/db/host": "${outputs.endpoint}"}}`, nil},
		{`{"root": "/synthetic/${stack.name}", "publish": {"/db/${var.shard}/host": "x", "/db/pw": {"value": "${outputs.pw}", "sensitive": true}}, "sensitive": ["/db/${var.shard}/host"], "version_node": "/db/.changed"}`, nil},
		{`{"root": "/", "publish": {"/synthetic/db/host": "x"}}`, nil},
		{`{}`, []string{`"publish" is missing`}},
		{`{"publish": {}}`, []string{`"publish" is missing or empty`}},
		{`{"publish": {"db/host": "x"}}`, []string{`publish["db/host"]`, `must start with "/"`}},
		{`{"publish": {"/db/host/": "x"}}`, []string{`publish["/db/host/"]`, `must not end with "/"`}},
		{`{"publish": {"/db/../host": "x"}}`, []string{`publish["/db/../host"]`, `".."`}},
		{`{"publish": {"/db//host": "x"}}`, []string{`empty segment`}},
		{`{"publish": {"/": "x"}}`, []string{`names the root itself`}},
		{`{"root": "synthetic", "publish": {"/a": "x"}}`, []string{`root "synthetic"`, "absolute"}},
		{`{"root": "/synthetic/", "publish": {"/a": "x"}}`, []string{`root "/synthetic/"`, `must not end with "/"`}},
		{`{"root": "/zookeeper/x", "publish": {"/a": "x"}}`, []string{`reserves`}},
		{`{"publish": {"/a": "x"}, "sensitive": ["/b"]}`, []string{`sensitive[0] "/b"`, `not a key of "publish"`}},
		{`{"publish": {"/a": {"value": "x", "secret": true}}}`, []string{`publish["/a"]`, `"secret"`, `{"value": "...", "sensitive": true}`}},
		{`{"publish": {"/a": {"sensitive": true}}}`, []string{`publish["/a"]`, `"value" is missing`}},
		{`{"publish": {"/a": "x"}, "version_node": "/a"}`, []string{`version_node "/a"`, `also a key`}},
		{`{"publish": {"/a": "x"}, "chroot": "/x"}`, []string{`chroot`, `fields: root, publish`}},
	} {
		err := h.Validate(json.RawMessage(tc.config))
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: unexpected error %v", tc.config, err)
		case tc.want != nil && err == nil:
			t.Errorf("%s: accepted, want an error mentioning %q", tc.config, tc.want)
		case tc.want != nil:
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not mention %q", tc.config, err, w)
				}
			}
		}
	}
}

func TestCredentialsAreCheckedWithoutShowingThem(t *testing.T) {
	h := New(Options{Hosts: "127.0.0.1:1", Auth: "no-colon-secret"})
	_, err := h.credentials()
	if err == nil || !strings.Contains(err.Error(), "user:password") || strings.Contains(err.Error(), "no-colon-secret") {
		t.Fatalf("err = %v, want the expected format without the value", err)
	}
	env := map[string]string{"STACK_ZOOKEEPER": "zk1:2181,zk2:2181", "STACK_ZOOKEEPER_AUTH": "app:pw"}
	o := OptionsFromEnv("", func(k string) string { return env[k] })
	if o.Hosts != "zk1:2181,zk2:2181" || o.Auth != "app:pw" {
		t.Fatalf("options from env = %+v", o)
	}
	if o := OptionsFromEnv("flag:2181", func(k string) string { return env[k] }); o.Hosts != "flag:2181" {
		t.Fatalf("the --zookeeper flag does not win over STACK_ZOOKEEPER: %+v", o)
	}
}
