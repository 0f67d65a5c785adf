package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
)

const mailConfig = `{
	"publish": {
		"/mail/host": "${outputs.mail_dumpster_domain}",
		"/mail/port": "${outputs.port}",
		"/mail/password": "${outputs.password}",
		"/env": "${var.env}-${stack.name}"
	}
}`

func mailOutputs(domain string) stack.Outputs {
	return stack.Outputs{
		"mail_dumpster_domain": {Value: domain},
		"port":                 {Value: float64(25)},
		"password":             {Value: "hunter2-top-secret", Sensitive: true},
	}
}

func TestPublishIsReadableAndSensitiveValueIsProtected(t *testing.T) {
	zkSrv := needServer(t)
	r := newRunner(t, handlerFor(zkSrv), "pub", "mail", mailConfig)
	rec := r.mustPublish(mailOutputs("mail.pub.test"))

	anon := client(t, zkSrv, "")
	for p, want := range map[string]string{
		"/stack/pub/mail/host":     "mail.pub.test",
		"/stack/pub/mail/port":     "25",
		"/stack/pub/env":           "test-pub",
		"/stack/pub/mail/.version": "1",
	} {
		if got, _ := get(t, anon, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if _, _, err := anon.Get("/stack/pub/mail/password"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous read of the sensitive node: err = %v, want NoAuth", err)
	}
	app := client(t, zkSrv, appAuth)
	if got, _ := get(t, app, "/stack/pub/mail/password"); got != "hunter2-top-secret" {
		t.Fatalf("the application identity reads %q", got)
	}
	other := client(t, zkSrv, "someone:else")
	if _, _, err := other.Get("/stack/pub/mail/password"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("another identity reads the sensitive node: err = %v, want NoAuth", err)
	}

	raw, _ := json.Marshal(rec)
	if strings.Contains(string(raw), "hunter2") {
		t.Fatalf("the record holds the sensitive value: %s", raw)
	}
	paths := map[string]recordNode{}
	for _, n := range rec.Nodes {
		paths[n.Path] = n
	}
	if n := paths["/stack/pub/mail/password"]; !n.Sensitive || n.SHA256 != "" {
		t.Fatalf("sensitive node recorded as %+v, want sensitive without digest", n)
	}
	if n := paths["/stack/pub/mail/host"]; n.SHA256 == "" || n.Sensitive {
		t.Fatalf("plain node recorded as %+v, want a digest", n)
	}
	if !slices.Contains(rec.Parents, "/stack/pub") || !slices.Contains(rec.Parents, "/stack/pub/mail") {
		t.Fatalf("created parents not recorded: %v", rec.Parents)
	}
	if rec.VersionNode == nil || rec.VersionNode.Path != "/stack/pub/mail/.version" || rec.VersionNode.Generation != 1 {
		t.Fatalf("version node recorded as %+v", rec.VersionNode)
	}
}

func TestRerunUpdatesOnlyTheChangedNodeAndBumpsTheVersion(t *testing.T) {
	zkSrv := needServer(t)
	r := newRunner(t, handlerFor(zkSrv), "rerun", "mail", mailConfig)
	r.mustPublish(mailOutputs("mail-1.rerun.test"))
	app := client(t, zkSrv, appAuth)
	_, hostBefore := get(t, app, "/stack/rerun/mail/host")
	_, portBefore := get(t, app, "/stack/rerun/mail/port")
	_, passBefore := get(t, app, "/stack/rerun/mail/password")

	// Nothing changed: nothing is written, not even the version node.
	_, verBefore := get(t, app, "/stack/rerun/mail/.version")
	r.mustPublish(mailOutputs("mail-1.rerun.test"))
	if _, v := get(t, app, "/stack/rerun/mail/.version"); v.Mzxid != verBefore.Mzxid {
		t.Fatal("an unchanged publish bumped the version node")
	}

	rec := r.mustPublish(mailOutputs("mail-2.rerun.test"))
	host, hostAfter := get(t, app, "/stack/rerun/mail/host")
	if host != "mail-2.rerun.test" || hostAfter.Version != hostBefore.Version+1 {
		t.Fatalf("host = %q version %d, want the new value at version %d", host, hostAfter.Version, hostBefore.Version+1)
	}
	if _, s := get(t, app, "/stack/rerun/mail/port"); s.Mzxid != portBefore.Mzxid {
		t.Fatal("the unchanged port node was rewritten")
	}
	if _, s := get(t, app, "/stack/rerun/mail/password"); s.Mzxid != passBefore.Mzxid {
		t.Fatal("the unchanged sensitive node was rewritten")
	}
	if v, s := get(t, app, "/stack/rerun/mail/.version"); v != "2" || s.Mzxid != hostAfter.Mzxid {
		t.Fatalf("version node = %q (mzxid %d), want 2 written in the same transaction as the host (mzxid %d)", v, s.Mzxid, hostAfter.Mzxid)
	}
	for _, n := range rec.Nodes {
		if n.Path == "/stack/rerun/mail/host" && n.Version != hostAfter.Version {
			t.Fatalf("record has host version %d, ZooKeeper %d", n.Version, hostAfter.Version)
		}
	}
}

func TestValueNoLongerProducedIsRemovedWithItsParents(t *testing.T) {
	zkSrv := needServer(t)
	app := client(t, zkSrv, appAuth)
	r := newRunner(t, handlerFor(zkSrv), "removal", "db", `{"publish": {"/db/host": "h", "/db/replica/host": "r"}}`)
	r.mustPublish(nil)
	if !exists(t, app, "/stack/removal/db/replica/host") {
		t.Fatal("replica not published")
	}
	r.config = `{"publish": {"/db/host": "h"}}`
	r.mustPublish(nil)
	if exists(t, app, "/stack/removal/db/replica") {
		t.Fatal("the removed value and the parent created for it are still there")
	}
	if v, _ := get(t, app, "/stack/removal/db/.version"); v != "2" {
		t.Fatalf("version node = %q after a removal, want 2", v)
	}
	if got, _ := get(t, app, "/stack/removal/db/host"); got != "h" {
		t.Fatalf("kept value = %q", got)
	}
}

func TestTeardownLeavesTheTreeAsBefore(t *testing.T) {
	zkSrv := needServer(t)
	app := client(t, zkSrv, appAuth)
	// Someone else's nodes, one of them a parent the stack publishes under.
	for _, p := range []string{"/shared", "/shared/config", "/shared/config/keep"} {
		if _, err := app.Create(p, []byte("theirs"), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	before := tree(t, app)

	r := newRunner(t, handlerFor(zkSrv), "down", "mail",
		`{"root": "/shared/config", "publish": {"/down/host": "${outputs.mail_dumpster_domain}", "/down/password": {"value": "${outputs.port}", "sensitive": true}}}`)
	r.mustPublish(mailOutputs("mail.down.test"))
	r.mustPublish(mailOutputs("mail2.down.test"))
	if slices.Equal(before, tree(t, app)) {
		t.Fatal("publish changed nothing")
	}
	if err := r.teardown(); err != nil {
		t.Fatal(err)
	}
	if after := tree(t, app); !slices.Equal(before, after) {
		t.Fatalf("tree after down differs:\nbefore %v\nafter  %v", before, after)
	}
	// Down again: everything is already gone, which is fine.
	if err := r.teardown(); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
}

func TestTwoStacksNeverShareNodes(t *testing.T) {
	zkSrv := needServer(t)
	app := client(t, zkSrv, appAuth)
	cfg := `{"publish": {"/web/url": "${outputs.url}"}}`
	alpha := newRunner(t, handlerFor(zkSrv), "alpha", "web", cfg)
	beta := newRunner(t, handlerFor(zkSrv), "beta", "web", cfg)
	alpha.mustPublish(stack.Outputs{"url": {Value: "http://alpha"}})
	beta.mustPublish(stack.Outputs{"url": {Value: "http://beta"}})
	if a, _ := get(t, app, "/stack/alpha/web/url"); a != "http://alpha" {
		t.Fatalf("alpha's url = %q", a)
	}

	// A stack pointed at beta's root with a different value must not take over.
	intruder := newRunner(t, handlerFor(zkSrv), "gamma", "web", `{"root": "/stack/beta", "publish": {"/web/url": "${outputs.url}", "/web/extra": "x"}}`)
	_, err := intruder.publish(stack.Outputs{"url": {Value: "http://gamma"}})
	if !errors.Is(err, ErrOwnedByOther) || !strings.Contains(err.Error(), "/stack/beta/web/url") {
		t.Fatalf("err = %v, want node owned by another stack naming /stack/beta/web/url", err)
	}
	if exists(t, app, "/stack/beta/web/extra") {
		t.Fatal("the refused publish wrote part of its values")
	}
	// With the same value it adopts the node, and its down leaves it alone.
	same := newRunner(t, handlerFor(zkSrv), "delta", "web", `{"root": "/stack/beta", "publish": {"/web/url": "${outputs.url}"}}`)
	rec := same.mustPublish(stack.Outputs{"url": {Value: "http://beta"}})
	if len(rec.Nodes) != 1 || !rec.Nodes[0].Adopted {
		t.Fatalf("record = %+v, want the node adopted", rec.Nodes)
	}
	if err := same.teardown(); err != nil {
		t.Fatal(err)
	}
	if err := alpha.teardown(); err != nil {
		t.Fatal(err)
	}
	if exists(t, app, "/stack/alpha") {
		t.Fatal("alpha's down left its root")
	}
	if b, _ := get(t, app, "/stack/beta/web/url"); b != "http://beta" {
		t.Fatalf("beta's url after the others' down = %q", b)
	}
	if v, _ := get(t, app, "/stack/beta/web/.version"); v != "1" {
		t.Fatalf("beta's version node = %q", v)
	}
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	zkSrv := needServer(t)
	app := client(t, zkSrv, appAuth)
	for _, p := range []string{"/stack/atomic", "/stack/atomic/z"} {
		if _, err := app.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	r := newRunner(t, handlerFor(zkSrv), "atomic", "svc", `{"publish": {"/a": "1", "/b": "2", "/z/last": "3"}}`)
	// Between the handler's read and its write, another client takes the path
	// the transaction creates late, after /a, /b and the version node's parent.
	r.onWrite = func() {
		if _, err := app.Create("/stack/atomic/z/last", []byte("theirs"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Error(err)
		}
		r.onWrite = nil
	}
	_, err := r.publish(nil)
	if !errors.Is(err, ErrOwnedByOther) || !strings.Contains(err.Error(), "/stack/atomic/z/last") {
		t.Fatalf("err = %v, want node owned by another stack naming /stack/atomic/z/last", err)
	}
	if kids, _, err := app.Children("/stack/atomic"); err != nil || !slices.Equal(kids, []string{"z"}) {
		t.Fatalf("children of /stack/atomic after the failed transaction: %v (%v), want only z", kids, err)
	}
	// The user removes the intruder and runs the step again.
	if err := app.Delete("/stack/atomic/z/last", -1); err != nil {
		t.Fatal(err)
	}
	r.mustPublish(nil)
	if got, _ := get(t, app, "/stack/atomic/z/last"); got != "3" {
		t.Fatalf("after the rerun /z/last = %q", got)
	}
	if err := r.teardown(); err != nil {
		t.Fatal(err)
	}
	if kids, _, err := app.Children("/stack/atomic"); err != nil || !slices.Equal(kids, []string{"z"}) {
		t.Fatalf("children of /stack/atomic after teardown: %v (%v), want only z", kids, err)
	}
}

func TestZooKeeperStoppedMidPublishLeavesNoPartialWrite(t *testing.T) {
	zkSrv := needServer(t)
	r := newRunner(t, handlerFor(zkSrv), "outage", "mail", mailConfig)
	r.mustPublish(mailOutputs("mail-1.outage.test"))
	// A short retry deadline only for the publish that meets the outage.
	r.h = New(Options{Hosts: zkSrv.Addr(), Auth: appAuth, SessionTimeout: 4 * time.Second, RetryTimeout: 2 * time.Second})

	app := client(t, zkSrv, appAuth)
	before := tree(t, app)
	r.onWrite = func() {
		if err := zkSrv.Stop(); err != nil {
			t.Error(err)
		}
		r.onWrite = nil
	}
	started := time.Now()
	r.config = strings.Replace(mailConfig, `"/env"`, `"/mail/new": "n", "/env"`, 1)
	_, err := r.publish(mailOutputs("mail-2.outage.test"))
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), zkSrv.Addr()) {
		t.Fatalf("err = %v, want ZooKeeper unreachable naming %s", err, zkSrv.Addr())
	}
	t.Logf("gave up after %s: %v", time.Since(started).Round(time.Millisecond), err)
	if err := zkSrv.Start(); err != nil {
		t.Fatal(err)
	}

	app = client(t, zkSrv, appAuth)
	if after := tree(t, app); !slices.Equal(before, after) {
		t.Fatalf("the interrupted publish changed the tree:\nbefore %v\nafter  %v", before, after)
	}
	r.h = handlerFor(zkSrv)
	r.mustPublish(mailOutputs("mail-2.outage.test"))
	if got, _ := get(t, app, "/stack/outage/mail/host"); got != "mail-2.outage.test" {
		t.Fatalf("host after the rerun = %q", got)
	}
	if got, _ := get(t, app, "/stack/outage/mail/new"); got != "n" {
		t.Fatalf("new node after the rerun = %q", got)
	}
	if got, _ := get(t, app, "/stack/outage/mail/.version"); got != "2" {
		t.Fatalf("version after the rerun = %q, want 2", got)
	}
}

func TestSkipsWithoutZooKeeper(t *testing.T) {
	h := New(Options{})
	run := stack.NewHandlerRun("noz", "mail", json.RawMessage(mailConfig), mailOutputs("x"), nil)
	_, err := h.Run(context.Background(), run)
	skip, ok := stack.IsSkip(err)
	if !ok || !strings.Contains(skip.Reason, "--zookeeper") || !strings.Contains(skip.Reason, "STACK_ZOOKEEPER") {
		t.Fatalf("err = %v, want a skip that says how to enable ZooKeeper", err)
	}
}

func TestUnreachableServerIsNamed(t *testing.T) {
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	h := New(Options{Hosts: addr, RetryTimeout: time.Second})
	run := stack.NewHandlerRun("unreach", "web", json.RawMessage(`{"publish": {"/a": "b"}}`), nil, nil)
	_, err = h.Run(context.Background(), run)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "STACK_ZOOKEEPER") {
		t.Fatalf("err = %v, want unreachable naming %s and how to check", err, addr)
	}
}

func TestOtherCredentialsCannotUpdateASensitiveNode(t *testing.T) {
	zkSrv := needServer(t)
	r := newRunner(t, handlerFor(zkSrv), "creds", "mail", mailConfig)
	r.mustPublish(mailOutputs("mail.creds.test"))
	r.h = New(Options{Hosts: zkSrv.Addr(), Auth: "app:wrong-password", RetryTimeout: 30 * time.Second})
	_, err := r.publish(mailOutputs("mail.creds.test"))
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "/stack/creds/mail/password") || !strings.Contains(err.Error(), "STACK_ZOOKEEPER_AUTH") {
		t.Fatalf("err = %v, want an authentication error naming the node and the setting", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Fatal("the error shows the password")
	}
	// Without credentials a sensitive value is refused before anything is written.
	r.h = New(Options{Hosts: zkSrv.Addr()})
	if _, err := r.publish(mailOutputs("mail.creds.test")); err == nil || !strings.Contains(err.Error(), "STACK_ZOOKEEPER_AUTH") {
		t.Fatalf("err = %v, want a request for credentials", err)
	}
}

func TestMarkingAValueSensitiveReplacesItsACL(t *testing.T) {
	zkSrv := needServer(t)
	anon := client(t, zkSrv, "")
	r := newRunner(t, handlerFor(zkSrv), "acl", "db", `{"publish": {"/db/dsn": "${outputs.url}"}}`)
	r.mustPublish(stack.Outputs{"url": {Value: "postgres://db"}})
	if got, _ := get(t, anon, "/stack/acl/db/dsn"); got != "postgres://db" {
		t.Fatalf("dsn = %q", got)
	}
	r.config = `{"publish": {"/db/dsn": "${outputs.url}"}, "sensitive": ["/db/dsn"]}`
	r.mustPublish(stack.Outputs{"url": {Value: "postgres://db"}})
	if _, _, err := anon.Get("/stack/acl/db/dsn"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous read after marking it sensitive: %v, want NoAuth", err)
	}
	if v, _ := get(t, anon, "/stack/acl/db/.version"); v != "2" {
		t.Fatalf("version = %q, want 2", v)
	}
}

func TestWithoutSettingAPublishedStepUsesTheRecordedServers(t *testing.T) {
	zkSrv := needServer(t)
	cfg := `{"publish": {"/web/url": "${outputs.url}"}}`
	r := newRunner(t, handlerFor(zkSrv), "recorded", "web", cfg)
	r.mustPublish(stack.Outputs{"url": {Value: "http://one"}})
	// Another workstation, without --zookeeper, re-runs the step and tears it down.
	r.h = New(Options{RetryTimeout: 30 * time.Second})
	r.mustPublish(stack.Outputs{"url": {Value: "http://two"}})
	app := client(t, zkSrv, "")
	if got, _ := get(t, app, "/stack/recorded/web/url"); got != "http://two" {
		t.Fatalf("url = %q, want the re-run's value", got)
	}
	if err := r.teardown(); err != nil {
		t.Fatal(err)
	}
	if exists(t, app, "/stack/recorded") {
		t.Fatal("teardown without a setting left the stack's nodes")
	}
}

func TestAFailedRunKeepsWhatTheStepOwns(t *testing.T) {
	zkSrv := needServer(t)
	cfg := `{"publish": {"/web/url": "${outputs.url}"}}`
	r := newRunner(t, handlerFor(zkSrv), "keeps", "web", cfg)
	r.mustPublish(stack.Outputs{"url": {Value: "http://one"}})
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r.h = New(Options{Hosts: "127.0.0.1:" + strconv.Itoa(port), RetryTimeout: time.Second})
	if _, err := r.publish(stack.Outputs{"url": {Value: "http://two"}}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want unreachable", err)
	}
	// The next run, against the right server, still knows the node is its own.
	r.h = handlerFor(zkSrv)
	r.mustPublish(stack.Outputs{"url": {Value: "http://two"}})
	if got, _ := get(t, client(t, zkSrv, ""), "/stack/keeps/web/url"); got != "http://two" {
		t.Fatalf("url = %q", got)
	}
	if err := r.teardown(); err != nil {
		t.Fatal(err)
	}
	if exists(t, client(t, zkSrv, ""), "/stack/keeps") {
		t.Fatal("teardown after a failed run left the stack's nodes")
	}
}

func TestPublishRidesOutAServerRestart(t *testing.T) {
	zkSrv := needServer(t)
	// A session shorter than the outage, so the client may come back to an
	// expired session; either way the publish must finish once the server is back.
	h := New(Options{Hosts: zkSrv.Addr(), Auth: appAuth, SessionTimeout: 500 * time.Millisecond, RetryTimeout: 3 * time.Minute})
	r := newRunner(t, h, "restart", "mail", mailConfig)
	r.mustPublish(mailOutputs("mail-1.restart.test"))

	restarted := make(chan error, 1)
	r.onWrite = func() {
		r.onWrite = nil
		if err := zkSrv.Stop(); err != nil {
			restarted <- err
			return
		}
		go func() {
			time.Sleep(1500 * time.Millisecond)
			restarted <- zkSrv.Start()
		}()
	}
	r.mustPublish(mailOutputs("mail-2.restart.test"))
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	t.Logf("handler log:\n%s", r.log.String())
	app := client(t, zkSrv, appAuth)
	if got, _ := get(t, app, "/stack/restart/mail/host"); got != "mail-2.restart.test" {
		t.Fatalf("host = %q after the outage", got)
	}
	if got, _ := get(t, app, "/stack/restart/mail/.version"); got != "2" {
		t.Fatalf("version = %q, want 2 (one change, published once)", got)
	}
}

func TestNodesOthersBuiltOnAreLeftInPlace(t *testing.T) {
	zkSrv := needServer(t)
	app := client(t, zkSrv, appAuth)
	r := newRunner(t, handlerFor(zkSrv), "nested", "db", `{"publish": {"/db": "primary", "/db/port": "5432"}}`)
	r.mustPublish(nil)

	// "/db" is no longer produced but still holds "/db/port": it stays, emptied.
	r.config = `{"publish": {"/db/port": "5432"}}`
	r.mustPublish(nil)
	if got, _ := get(t, app, "/stack/nested/db"); got != "" {
		t.Fatalf("/db still holds %q after its value was removed", got)
	}

	// Another client builds under a node this stack published; down keeps
	// their node and the path to it, deletes the rest.
	if _, err := app.Create("/stack/nested/db/port/theirs", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := r.teardown(); err != nil {
		t.Fatal(err)
	}
	if got, _ := get(t, app, "/stack/nested/db/port/theirs"); got != "x" {
		t.Fatalf("the other client's node = %q", got)
	}
	if got, _ := get(t, app, "/stack/nested/db/port"); got != "" {
		t.Fatalf("the stack's value %q stayed behind in a node kept for another client's child", got)
	}
	if exists(t, app, "/stack/nested/db/.version") {
		t.Fatal("down left the version node")
	}
	if !strings.Contains(r.log.String(), "left /stack/nested/db/port in place") {
		t.Fatalf("the log does not say what was left and why:\n%s", r.log.String())
	}
}

func TestReplaceRewritesAndBumpsTheVersion(t *testing.T) {
	zkSrv := needServer(t)
	app := client(t, zkSrv, appAuth)
	r := newRunner(t, handlerFor(zkSrv), "replace", "web", `{"publish": {"/web/url": "http://same"}}`)
	r.mustPublish(nil)
	_, before := get(t, app, "/stack/replace/web/url")
	run := r.handlerRun(nil)
	run.Replace = true
	if _, err := r.h.Run(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if _, after := get(t, app, "/stack/replace/web/url"); after.Version != before.Version+1 {
		t.Fatalf("--replace left the node at version %d", after.Version)
	}
	if v, _ := get(t, app, "/stack/replace/web/.version"); v != "2" {
		t.Fatalf("version = %q after --replace, want 2", v)
	}
}
