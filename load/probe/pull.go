package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PullPath is where a probe serves its journal.
const PullPath = "/e2e/arrivals"

// TokenEnv names the variable that holds the bearer token of the pull
// endpoint, on the probe and on the generator.
const TokenEnv = "STACK_PROBE_TOKEN"

// PullHandler serves GET PullPath?from=N&limit=M: JSON lines of the
// journal from position N, with X-Stack-Next saying where to go on. An empty
// token leaves the endpoint open (loopback probes only; see Listen checks).
func PullHandler(j *Journal, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				http.Error(w, "probe: missing or wrong bearer token (set "+TokenEnv+" to the probe's token)", http.StatusUnauthorized)
				return
			}
		}
		q := r.URL.Query()
		from, _ := strconv.ParseUint(q.Get("from"), 10, 64)
		limit, err := strconv.Atoi(q.Get("limit"))
		if err != nil || limit < 0 || limit > 10000 {
			limit = 10000
		}
		var b []byte
		next := j.Len()
		if q.Get("limit") != "0" {
			b, next, err = j.Read(from, limit)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("X-Stack-Next", strconv.FormatUint(next, 10))
		w.Write(b)
	})
}

// Source is the generator's end of one probe's pull endpoint.
type Source struct {
	// Name says which probe in reports ("" = its URL's host).
	Name  string
	URL   string // the probe's base URL; PullPath is appended
	Token string
	HTTP  *http.Client
}

// Pull fetches up to limit arrivals from position from; next is where the
// following pull starts. A limit of 0 only asks for the journal's length.
func (s *Source) Pull(ctx context.Context, from uint64, limit int) ([]Arrival, uint64, error) {
	u, err := url.Parse(strings.TrimSuffix(s.URL, "/") + PullPath)
	if err != nil {
		return nil, from, fmt.Errorf("probe %s: %w", s.Name, err)
	}
	u.RawQuery = url.Values{"from": {strconv.FormatUint(from, 10)}, "limit": {strconv.Itoa(limit)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, from, err
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	c := s.HTTP
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, from, fmt.Errorf("probe %s: %w", s.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, from, fmt.Errorf("probe %s: %s: %s", s.Name, resp.Status, bytes.TrimSpace(msg))
	}
	next, err := strconv.ParseUint(resp.Header.Get("X-Stack-Next"), 10, 64)
	if err != nil {
		return nil, from, fmt.Errorf("probe %s: %s answered without X-Stack-Next: is it a stack probe (stack dumpster --journal)?", s.Name, s.URL)
	}
	var out []Arrival
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4*MaxBody)
	for sc.Scan() {
		var a Arrival
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, from, fmt.Errorf("probe %s: arrival %d: %w", s.Name, from+uint64(len(out)), err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, from, fmt.Errorf("probe %s: %w", s.Name, err)
	}
	if limit > 0 && uint64(len(out)) != next-from {
		return nil, from, fmt.Errorf("probe %s: a pull from %d promised %d arrivals and carried %d", s.Name, from, next-from, len(out))
	}
	return out, next, nil
}
