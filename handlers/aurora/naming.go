package aurora

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// Tags the handler puts on what it creates: they tie a cluster to its stack and
// step (so another stack's cluster is never adopted or deleted) and remember
// the snapshot it was restored from (RDS does not).
const (
	tagStack    = "stack:name"
	tagStep     = "stack:step"
	tagOwner    = "stack:owner"
	tagSnapshot = "stack:snapshot"
)

// ClusterID is the cluster identifier for a stack's step: readable, a valid
// RDS identifier, and unique per (stack, step) even when names would join
// alike ("a-b"+"c" and "a"+"b-c") thanks to a hash suffix. It leaves room for
// the instance suffix "-16" within RDS's 63 characters.
func ClusterID(stackName, step string) string {
	sum := sha256.Sum256([]byte(stackName + "\x00" + step))
	base := sanitize(stackName + "-" + step)
	if len(base) > 49 {
		base = strings.TrimRight(base[:49], "-")
	}
	return base + "-" + hex.EncodeToString(sum[:])[:8]
}

// sanitize keeps letters, digits and single hyphens, starting with a letter.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
		switch {
		case ok:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if out == "" || out[0] < 'a' || out[0] > 'z' {
		out = "s-" + out
	}
	return strings.TrimRight(out, "-")
}

// instanceID names the n-th instance (1 is the writer) of a cluster.
func instanceID(cluster string, n int) string { return fmt.Sprintf("%s-%d", cluster, n) }

// instanceNumber is the inverse of instanceID, 0 when id is not one of ours.
func instanceNumber(cluster, id string) int {
	var n int
	rest, ok := strings.CutPrefix(id, cluster+"-")
	if !ok {
		return 0
	}
	if _, err := fmt.Sscanf(rest, "%d", &n); err != nil || fmt.Sprint(n) != rest {
		return 0
	}
	return n
}

func tags(stackName, step, owner, snapshot string) []types.Tag {
	t := []types.Tag{
		{Key: aws.String(tagStack), Value: aws.String(stackName)},
		{Key: aws.String(tagStep), Value: aws.String(step)},
	}
	if owner != "" {
		t = append(t, types.Tag{Key: aws.String(tagOwner), Value: aws.String(owner)})
	}
	if snapshot != "" {
		t = append(t, types.Tag{Key: aws.String(tagSnapshot), Value: aws.String(snapshot)})
	}
	return t
}

func tagValue(list []types.Tag, key string) string {
	for _, t := range list {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// sameSnapshot compares a snapshot ARN recorded on a cluster with the one a
// config asks for, which may be an identifier or an ARN.
func sameSnapshot(recorded, wanted string) bool {
	if recorded == wanted {
		return true
	}
	if strings.HasPrefix(recorded, "arn:") && strings.HasPrefix(wanted, "arn:") {
		return false
	}
	return snapshotName(recorded) == snapshotName(wanted)
}

func snapshotName(s string) string {
	if i := strings.LastIndex(s, ":cluster-snapshot:"); i >= 0 {
		return s[i+len(":cluster-snapshot:"):]
	}
	return s
}
