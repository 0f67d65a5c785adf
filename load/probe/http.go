package probe

import (
	"io"
	"net/http"
	"time"
)

// Recorder turns what arrives into journal records.
type Recorder struct {
	Name    string
	Journal *Journal
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// seen: SQS message ids recorded lately (sqs.go).
	seen *recent
}

func (r *Recorder) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// ServeHTTP records the request and answers 200 once it is on disk; 503
// when it could not be recorded, so the pipeline delivers it again.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := r.now()
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBody))
	if err != nil {
		http.Error(w, "probe: reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	io.Copy(io.Discard, req.Body)
	h := map[string]string{":method": req.Method, ":path": req.URL.RequestURI()}
	for k, v := range req.Header {
		h[k] = v[0]
	}
	a := &Arrival{At: at.UTC(), Probe: r.Name, Kind: "http", Header: h, Body: string(body)}
	if err := r.Journal.Append(req.Context(), a); err != nil {
		http.Error(w, "probe: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
