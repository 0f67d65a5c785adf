package terraform

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/stack-tools/stack/internal/proc"
)

// Terraform reports a held state lock in the text of its error (in a JSON
// diagnostic's detail with -json, on stderr otherwise), with the lock's
// "Lock Info:" block:
//
//	Error acquiring the state lock
//
//	Error message: ...
//	Lock Info:
//	  ID:        3dd27b56-90e9-192f-8ea2-22a91cd9e0cb
//	  ...
//	  Who:       root@host
//
// Creating a workspace on the S3 backend says "failed to lock s3 state: ..."
// instead of the first line.
var (
	lockIDRE     = regexp.MustCompile(`(?s)Error acquiring the state lock.*?Lock Info:\s+ID:\s+([0-9a-fA-F-]{8,})`)
	lockInfoIDRE = regexp.MustCompile(`(?s)Lock Info:\s+ID:\s+([0-9a-fA-F-]{8,})`)
	lockWhoRE    = regexp.MustCompile(`(?s)Lock Info:.*?Who:\s+(\S+)`)
)

// heldLockID returns the ID of the lock that kept a command from acquiring the
// state lock, if msg says so.
func heldLockID(msg string) (string, bool) { return submatch(lockIDRE, msg) }

// lockInfoID returns the ID of the lock msg describes, whatever the command
// that failed on it said before.
func lockInfoID(msg string) (string, bool) { return submatch(lockInfoIDRE, msg) }

// lockHolder returns who holds the lock msg describes ("user@host"), or "".
func lockHolder(msg string) string {
	who, _ := submatch(lockWhoRE, msg)
	return who
}

// holderHost is the host part of a lock holder ("user@host").
func holderHost(who string) string { return who[strings.LastIndex(who, "@")+1:] }

func submatch(re *regexp.Regexp, s string) (string, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// retryLocked runs fn and, if Terraform finds its state locked, clears the
// lock (see clearStaleLock) and runs fn again.
func (s *session) retryLocked(ctx context.Context, fn func() error) error {
	err := fn()
	for attempt := 0; err != nil && attempt < 2; attempt++ {
		id, ok := heldLockID(err.Error())
		if !ok {
			return err
		}
		if cerr := s.clearStaleLock(ctx, id, err); cerr != nil {
			return cerr
		}
		err = fn()
	}
	return err
}

// clearStaleLock decides what to do about a Terraform lock that stopped a
// command (cause). The caller holds the stack's lease, so no live `stack`
// runs the step. The lock may still belong to a live Terraform that a dead
// `stack` left behind on this host: then wait for it to finish and let it
// release the lock. Otherwise the lock is a leftover and is broken. A lock
// taken on another host can only be judged by that host's lease, which has
// expired or this command would not hold the stack.
func (s *session) clearStaleLock(ctx context.Context, id string, cause error) error {
	who := lockHolder(cause.Error())
	if who == "" || holderHost(who) == proc.Host() {
		if p := survivor(s.run); p != nil {
			if err := waitSurvivor(ctx, s.run); err != nil {
				return err
			}
			return nil // it released its own lock, or died: the retry sees which
		}
		s.run.Progress("breaking the Terraform lock %s held by %s: the process that took it has exited", id, orUnknown(who))
	} else {
		s.run.Progress("breaking the Terraform lock %s held by %s on another host: the stack command there stopped renewing its lease", id, who)
	}
	if err := s.tf.ForceUnlock(ctx, id); err != nil {
		return fmt.Errorf("%w (breaking the stale lock %s also failed: %v)", cause, id, err)
	}
	s.noteBrokenState(ctx)
	return nil
}

// noteBrokenState says which state the command retried after a broken lock
// builds on: Terraform reads it again once it holds the lock, so whatever the
// stopped run saved (a fenced holder saves what it can before its lease ends)
// is planned from, never overwritten by a plan made before.
func (s *session) noteBrokenState(ctx context.Context) {
	st, err := s.remoteState(ctx)
	switch {
	case err != nil:
		return
	case st.missing:
		s.run.Progress("the run that held the lock saved no state; planning from none")
	default:
		s.run.Progress("planning from the state the run that held the lock left (lineage %s, serial %d, %d resource(s))", st.Lineage, st.Serial, len(st.instances()))
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown holder"
	}
	return s
}
