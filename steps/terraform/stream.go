package terraform

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// stream runs a Terraform command whose JSON lines become log lines and
// progress. terraform-exec keeps the writer for later commands, so it is reset:
// `terraform output` must never write to the log.
func (s *session) stream(fn func(w io.Writer) error) error {
	_, err := s.streamed(fn)
	return err
}

// streamed is stream, and also returns the outputs message's outputs (nil if
// there was none), read once every line is handled.
func (s *session) streamed(fn func(w io.Writer) error) (map[string]streamedOutput, error) {
	w := newProgressWriter(s.run)
	w.created = func(addr, id string) { s.noteCreated(s.journal, addr, id) }
	err := fn(w)
	s.tf.SetStdout(io.Discard)
	err = w.wrap(err) // waits for the last line
	return w.outputs, err
}

// streamedOutput is one output in Terraform's JSON "outputs" message. A
// sensitive output has no value there.
type streamedOutput struct {
	Sensitive bool            `json:"sensitive"`
	Value     json.RawMessage `json:"value"`
}

// plainOutputs converts streamed outputs; ok is false when there were none
// streamed or any is sensitive.
func plainOutputs(streamed map[string]streamedOutput) (stack.Outputs, bool) {
	if streamed == nil {
		return nil, false
	}
	outs := stack.Outputs{}
	for name, o := range streamed {
		if o.Sensitive {
			return nil, false
		}
		var v any
		if err := json.Unmarshal(o.Value, &v); err != nil {
			return nil, false
		}
		outs[name] = stack.Output{Value: v}
	}
	return outs, true
}

// streamLine is what one line of Terraform's -json output (its machine-readable
// UI) means for the step.
type streamLine struct {
	log      []string                  // lines for the step's log
	progress string                    // the progress line, if hasProgress
	outputs  map[string]streamedOutput // an "outputs" message's, else nil
	diag     string                    // an error diagnostic, "summary: detail"

	hasProgress bool
	applyStart  bool // Terraform started changing a resource
	// createdAddr and createdID name a resource Terraform just created.
	createdAddr, createdID string
}

// streamMessage is the part of a -json line read here.
type streamMessage struct {
	Message string                    `json:"@message"`
	Type    string                    `json:"type"`
	Outputs map[string]streamedOutput `json:"outputs"`
	Diag    struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
	} `json:"diagnostic"`
	Hook struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action  string `json:"action"`
		IDValue string `json:"id_value"`
	} `json:"hook"`
}

// parseStreamLine reads one line. The log gets each message's human-readable
// text (plus an error's detail), never the JSON around it: values, sensitive
// ones included, stay out. A line that is not JSON is logged as it is.
func parseStreamLine(b []byte) streamLine {
	var m streamMessage
	if json.Unmarshal(b, &m) != nil {
		return streamLine{log: []string{string(b)}}
	}
	l := streamLine{log: []string{m.Message}}
	switch m.Type {
	case "outputs":
		l.outputs = m.Outputs
		if l.outputs == nil {
			l.outputs = map[string]streamedOutput{}
		}
	case "apply_start", "apply_progress", "apply_complete", "refresh_start", "init_output":
		l.applyStart = m.Type == "apply_start"
		l.progress, l.hasProgress = m.Message, true
		if m.Type == "apply_complete" && m.Hook.Action == "create" {
			l.createdAddr, l.createdID = m.Hook.Resource.Addr, m.Hook.IDValue
		}
	case "diagnostic":
		if m.Diag.Severity == "error" {
			l.diag = strings.TrimSpace(m.Diag.Summary + ": " + m.Diag.Detail)
			l.log = append(l.log, "  "+m.Diag.Detail)
		}
	}
	return l
}

// progressWriter turns Terraform's JSON lines into log lines and progress, and
// keeps error diagnostics for the error message and the outputs message.
type progressWriter struct {
	run     *stack.StepRun
	pw      *io.PipeWriter
	done    chan struct{}
	diags   []string
	outputs map[string]streamedOutput
	began   bool // an apply_start was seen
	// created, if set, hears of each resource the command created.
	created func(addr, id string)
}

func newProgressWriter(run *stack.StepRun) *progressWriter {
	pr, pw := io.Pipe()
	w := &progressWriter{run: run, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			w.line(sc.Bytes())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return w
}

func (w *progressWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *progressWriter) line(b []byte) {
	l := parseStreamLine(b)
	for _, s := range l.log {
		fmt.Fprintf(w.run.Log, "%s\n", s)
	}
	if l.outputs != nil {
		w.outputs = l.outputs
	}
	if l.applyStart && !w.began {
		w.began = true
		w.run.Phase("apply") // the plan is done
	}
	if l.hasProgress {
		w.run.ToolOutput("%s", l.progress)
	}
	if l.diag != "" {
		w.diags = append(w.diags, l.diag)
	}
	if l.createdID != "" && w.created != nil {
		w.created(l.createdAddr, l.createdID)
	}
}

// wrap closes the writer and adds Terraform's diagnostics to err.
func (w *progressWriter) wrap(err error) error {
	w.pw.Close()
	<-w.done
	if err == nil {
		return nil
	}
	if len(w.diags) > 0 {
		return fmt.Errorf("terraform: %s: %w", strings.Join(w.diags, "; "), err)
	}
	return fmt.Errorf("terraform: %w", err)
}
