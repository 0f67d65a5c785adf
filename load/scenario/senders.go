package scenario

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// SenderPool is a generator's "senders": a number (the size of a synthetic
// pool) or {"file": "numbers.csv"} (a list of real senders, a path relative
// to the definition or s3://BUCKET/KEY).
type SenderPool struct {
	N    int
	File string
}

// UnmarshalJSON accepts 50 or {"file": "numbers.csv"}.
func (p *SenderPool) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &p.N); err == nil {
		return nil
	}
	var f struct {
		File string `json:"file"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || f.File == "" {
		return fmt.Errorf(`want a number (a synthetic pool's size) or {"file": "numbers.csv"} (one sender per row), got %s`, b)
	}
	p.File = f.File
	return nil
}

// MarshalJSON writes what UnmarshalJSON reads.
func (p SenderPool) MarshalJSON() ([]byte, error) {
	if p.File != "" {
		return json.Marshal(map[string]string{"file": p.File})
	}
	return json.Marshal(p.N)
}

// IsZero lets omitempty-style callers tell an unset pool.
func (p SenderPool) IsZero() bool { return p.N == 0 && p.File == "" }

// e164 is a phone number as SMS providers want it: +, country code, number.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// senderColumns are the columns that fill Sender's own fields; every column
// (these too) is also in Sender.Columns.
var senderColumns = map[string]func(*Sender, string){
	"id":           func(s *Sender, v string) { s.ID = v },
	"phone":        func(s *Sender, v string) { s.Phone = v },
	"name":         func(s *Sender, v string) { s.Name = v },
	"first_name":   func(s *Sender, v string) { s.FirstName = v },
	"last_name":    func(s *Sender, v string) { s.LastName = v },
	"email":        func(s *Sender, v string) { s.Email = v },
	"anonymous_id": func(s *Sender, v string) { s.AnonymousID = v },
}

// maxSenderProblems bounds how many bad rows one error lists.
const maxSenderProblems = 10

// ParseSenders reads a CSV list of senders: a header row, then one sender
// per row. Columns phone, id, name, first_name, last_name, email and
// anonymous_id fill the sender's fields (templates: {{.Sender.Phone}});
// every column is in {{.Sender.Columns.NAME}}. The identity column (phone,
// else id, else email) must be there, filled and unique; phones must be
// E.164 (+15551234567). Errors name the file and line.
func ParseSenders(data []byte, name string) ([]Sender, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: the file is empty: want a header row (such as phone,name,group) and one row per sender", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff")))
	}
	key := identity(header)
	if key < 0 {
		return nil, fmt.Errorf("%s line 1: no phone, id or email column to tell senders apart (columns: %s)", name, strings.Join(header, ", "))
	}
	var out []Sender
	var problems []string
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		s, why := senderRow(header, rec, key, seen, line)
		if why != "" {
			problems = append(problems, fmt.Sprintf("line %d: %s", line, why))
			continue
		}
		out = append(out, s)
	}
	if len(problems) > 0 {
		more := ""
		if len(problems) > maxSenderProblems {
			more = fmt.Sprintf("\n  ... and %d more", len(problems)-maxSenderProblems)
			problems = problems[:maxSenderProblems]
		}
		return nil, fmt.Errorf("%s: %d bad rows; fix them and run again:\n  %s%s", name, len(problems), strings.Join(problems, "\n  "), more)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no senders after the header row (line 1)", name)
	}
	return out, nil
}

func identity(header []string) int {
	for _, want := range []string{"phone", "id", "email"} {
		for i, h := range header {
			if h == want {
				return i
			}
		}
	}
	return -1
}

func senderRow(header, rec []string, key int, seen map[string]int, line int) (Sender, string) {
	cols := make(Columns, len(header))
	s := Sender{Columns: &cols}
	for i, h := range header {
		v := strings.TrimSpace(rec[i])
		cols[h] = v
		if set := senderColumns[h]; set != nil {
			set(&s, v)
		}
	}
	id := cols[header[key]]
	switch {
	case id == "":
		return s, fmt.Sprintf("empty %s", header[key])
	case s.Phone != "" && !e164.MatchString(s.Phone):
		return s, fmt.Sprintf("phone %q is not in E.164 form: + then country code and number, 8 to 16 characters (+15551234567)", s.Phone)
	case seen[id] != 0:
		return s, fmt.Sprintf("%s %s repeats line %d", header[key], id, seen[id])
	}
	seen[id] = line
	if s.ID == "" {
		s.ID = id
	}
	if s.Name == "" {
		s.Name = strings.TrimSpace(s.FirstName + " " + s.LastName)
	}
	return s, ""
}
