package scenario

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"text/template"

	"github.com/brianvoe/gofakeit/v7"
)

// Options shape the sequence a Generator produces.
type Options struct {
	// Order is "random" (default: each message's type drawn by weight) or
	// "grouped" (runs of one type, then the next: what exposed the users' race).
	Order string `json:"order,omitempty"`
	// Group is the number of messages in one grouped cycle over all types
	// (default 1000); each type gets its weight's share of it.
	Group int `json:"group,omitempty"`
	// Skip names types not to send.
	Skip []string `json:"skip,omitempty"`
	// Senders is the size of the pool of synthetic senders (default 100). Each
	// sender keeps one identity (phone, name, email, ids) for the whole run.
	Senders int `json:"senders,omitempty"`
	// Companies are the tenant ids messages are addressed to (default "synthetic").
	Companies []string `json:"companies,omitempty"`
	// Reuse is the share of messages that resend their type's previous body with
	// a fresh message id; Duplicate the share resent exactly, message id included.
	Reuse     float64 `json:"reuse,omitempty"`
	Duplicate float64 `json:"duplicate,omitempty"`
	// Seed makes the sequence reproducible; 0 picks one at random.
	Seed uint64 `json:"seed,omitempty"`
	// Run, when non-zero (NewRun), makes message ids run-unique and
	// traceable: each encodes the run, the part and the sequence number
	// (runid.go) instead of being drawn from the seeded sequence.
	Run uint64 `json:"run,omitempty"`
	// Vars override the scenario's vars.
	Vars map[string]string `json:"vars,omitempty"`
	// SenderList replaces the synthetic pool with these senders (ParseSenders).
	SenderList []Sender `json:"-"`
	// AuthToken keys signed scenarios. Sensitive: never stored or printed.
	AuthToken string `json:"-"`
	// Part and Parts split a run among Parts processes (see SetPart): every
	// part builds the same sender pool from Seed, draws its messages from its
	// own slice of it, with a sequence seeded apart from the other parts'.
	Part, Parts int `json:"-"`
}

// DefaultAuthToken signs requests when no token is given; it is not a secret.
const DefaultAuthToken = "stack-synthetic-auth-token"

// Sender is one synthetic identity.
type Sender struct {
	ID, Phone, Name, FirstName, LastName, Email, AnonymousID string
	// Columns are a listed sender's columns by header (ParseSenders),
	// {{.Sender.Columns.group}} in templates; nil for synthetic senders. A
	// pointer keeps Sender comparable.
	Columns *Columns
}

// Columns are the cells of a sender's row, by column name.
type Columns map[string]string

// Company is one tenant.
type Company struct{ ID, Phone string }

// Kind says how a message's body was made.
type Kind uint8

const (
	// Fresh bodies come from the template.
	Fresh Kind = iota
	// Reused bodies repeat the type's previous body with a fresh message id.
	Reused
	// Duplicate bodies repeat the type's previous message exactly.
	Duplicate
)

func (k Kind) String() string { return [...]string{"fresh", "reused", "duplicate"}[k] }

// Message is one generated request.
type Message struct {
	Seq     uint64
	Type    int // index into Generator.Types
	Kind    Kind
	ID      string
	Sender  int
	Company int
	Body    []byte
	// Sig is the signature header's value (nil when the scenario is not signed).
	Sig []byte
	// Target is the recorded request a canned run replays (Canned).
	Target int
}

// RequestType is a message type as sent: its name, method, full URL and headers.
type RequestType struct {
	Name    string
	Method  string
	URL     *url.URL
	Headers map[string]string
	// SigHeader names the signature header ("" when unsigned).
	SigHeader string
}

// Generator produces the messages of one run. It is not safe for concurrent use.
type Generator struct {
	Types   []RequestType
	Senders []Sender
	Company []Company
	Seed    uint64

	tmpl    []*template.Template
	fast    [][]op
	weights []float64 // cumulative, normalized to 1
	group   []int     // grouped order: type of each slot of a cycle
	reuse   float64
	dup     float64
	rng     *rand.Rand
	faker   *gofakeit.Faker
	idFmt   IDFormat
	run     uint64
	part    int
	data    Data
	prev    []prevMsg
	seq     uint64
	out     bytes.Buffer
	signer  hash.Hash
	urls    [][]byte
	pairs   []kv
	sigbuf  []byte
	scratch []byte
	idbuf   []byte

	// senderLo and senderN are this part's slice of Senders.
	senderLo, senderN int
	// set and opts are kept for reloading templates (reload.go).
	set     *template.Template
	opts    Options
	pending atomic.Pointer[templates]
	// canned replays recorded requests (canned.go).
	canned *canned
}

type prevMsg struct {
	have    bool
	body    []byte
	sig     []byte
	id      string
	sender  int
	company int
}

type kv struct{ k, v []byte }

// MaxSeed is the largest seed a JSON number holds exactly.
const MaxSeed = 1 << 53

// NewGenerator prepares a run of sc against target (the base URL each type's
// path is appended to): options checked and defaulted, the type table built,
// the grouped cycle laid out, and each type rendered once.
func NewGenerator(sc *Scenario, target string, o Options) (*Generator, error) {
	base, skip, err := checkOptions(sc, target, &o)
	if err != nil {
		return nil, err
	}
	g := &Generator{
		Seed:  o.Seed,
		reuse: o.Reuse,
		dup:   o.Duplicate,
		rng:   rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15)),
		faker: gofakeit.NewFaker(rand.NewPCG(o.Seed, 0x5851f42d4c957f2d), false),
		idFmt: sc.MessageID,
		run:   o.Run,
		part:  o.Part,
	}
	if o.Run != 0 {
		if err := checkRun(sc.MessageID, o.Parts); err != nil {
			return nil, err
		}
	}
	vars := map[string]string{}
	for k, v := range sc.Vars {
		vars[k] = v
	}
	for k, v := range o.Vars {
		vars[k] = v
	}
	g.data.Vars = vars
	funcs := funcMap(g.faker, nil)
	set, err := sc.parse(funcs)
	if err != nil {
		return nil, err
	}
	token := o.AuthToken
	if token == "" {
		token = DefaultAuthToken
	}
	if sc.Sign != nil {
		g.signer = hmac.New(sha1.New, []byte(token))
	}
	g.addTypes(sc, base, skip, compiler{set: set, funcs: funcs, vars: vars})
	if len(g.Types) == 0 {
		return nil, fmt.Errorf("skip: every message type of scenario %s is skipped; leave at least one", sc.Name)
	}
	if err := g.order(o); err != nil {
		return nil, err
	}
	g.prev = make([]prevMsg, len(g.Types))
	g.setSenders(o)
	if err := g.slice(o); err != nil {
		return nil, err
	}
	for _, c := range o.Companies {
		g.Company = append(g.Company, Company{ID: c, Phone: g.uniquePhone(nil)})
	}
	if err := g.renderOnce(sc); err != nil {
		return nil, err
	}
	seq := partSeed(o.Seed, o.Part, o.Parts)
	g.rng = rand.New(rand.NewPCG(seq, 0x9e3779b97f4a7c15))
	g.faker.Rand = rand.NewPCG(seq, 0x5851f42d4c957f2d)
	g.set, g.opts = set, o
	return g, nil
}

// checkOptions checks a run's target and options and fills in defaults; it
// returns the target's URL and the skipped types.
func checkOptions(sc *Scenario, target string, o *Options) (*url.URL, map[string]bool, error) {
	base, err := url.Parse(target)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, nil, fmt.Errorf("target %q: want an absolute http(s) URL such as http://127.0.0.1:8080, or a broker's: sqs://QUEUE_URL, nsq://NSQD:4150/TOPIC, kafka://BROKER:9092/TOPIC", target)
	}
	if base.Scheme != "http" && base.Scheme != "https" && base.Scheme != "sqs" && base.Scheme != "nsq" && base.Scheme != "kafka" {
		return nil, nil, fmt.Errorf("target %q: scheme must be http, https, sqs, nsq or kafka", target)
	}
	if o.Reuse < 0 || o.Duplicate < 0 || o.Reuse+o.Duplicate > 1 {
		return nil, nil, fmt.Errorf("reuse (%g) and duplicate (%g) are shares of messages: each 0..1 and together at most 1", o.Reuse, o.Duplicate)
	}
	o.Senders = poolSize(*o)
	if o.Senders == 0 {
		o.Senders = 100
	}
	if o.Senders < 0 || o.Senders > 1_000_000 {
		return nil, nil, fmt.Errorf("senders: want 1..1000000, got %d", o.Senders)
	}
	if len(o.Companies) == 0 {
		o.Companies = []string{"synthetic"}
	}
	if o.Seed > MaxSeed {
		// Reports and step outputs carry the seed as a JSON number, which
		// readers take as a float64: a larger one would come back changed
		// and repeat a different sequence.
		return nil, nil, fmt.Errorf("seed: at most %d (2^53, so that reports and step outputs give it back exactly), got %d", uint64(MaxSeed), o.Seed)
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()>>11 | 1 // exact in JSON numbers
	}
	skip := map[string]bool{}
	for _, s := range o.Skip {
		skip[s] = true
	}
	for s := range skip {
		if !slices.Contains(sc.TypeNames(), s) {
			return nil, nil, fmt.Errorf("skip: scenario %s has no message type %q (types: %s)", sc.Name, s, strings.Join(sc.TypeNames(), ", "))
		}
	}
	return base, skip, nil
}

// addTypes builds the type table: each type not skipped with its URL, its
// compiled body and its share of the weights.
func (g *Generator) addTypes(sc *Scenario, base *url.URL, skip map[string]bool, c compiler) {
	total := 0.0
	for _, t := range sc.Types {
		if skip[t.Name] {
			continue
		}
		u := *base
		if t.Path != "" {
			u.Path = strings.TrimSuffix(base.Path, "/") + t.Path
			u.RawPath = ""
		}
		rt := RequestType{Name: t.Name, Method: t.Method, URL: &u, Headers: t.Headers}
		if sc.Sign != nil {
			rt.SigHeader = sc.Sign.Header
		}
		g.Types = append(g.Types, rt)
		g.urls = append(g.urls, []byte(u.String()))
		total += t.Weight
		g.weights = append(g.weights, total)
		var tm *template.Template
		var ops []op
		if t.Body != "" {
			tm = c.set.Lookup(t.Body)
			ops, _ = c.compile(t.Body)
		}
		g.tmpl = append(g.tmpl, tm)
		g.fast = append(g.fast, ops)
	}
	for i := range g.weights {
		g.weights[i] /= total
	}
}

// order lays out the grouped cycle (each type's share of o.Group messages in
// a row) when the order is grouped.
func (g *Generator) order(o Options) error {
	switch o.Order {
	case "", "random":
		return nil
	case "grouped":
	default:
		return fmt.Errorf("order: unknown %q (use random or grouped)", o.Order)
	}
	n := o.Group
	if n <= 0 {
		n = 1000
	}
	if n < len(g.Types) {
		return fmt.Errorf("group: a grouped cycle of %d messages cannot hold %d types", n, len(g.Types))
	}
	prev := 0
	for t, cum := range g.weights {
		end := int(cum*float64(n) + 0.5)
		if t == len(g.weights)-1 {
			end = n
		}
		for ; prev < end; prev++ {
			g.group = append(g.group, t)
		}
	}
	return nil
}

// renderOnce renders each type once, so a template that fails at run time
// fails here, naming its type.
func (g *Generator) renderOnce(sc *Scenario) error {
	var m Message
	for t := range g.Types {
		if err := g.render(&m, t); err != nil {
			return fmt.Errorf("scenario %s, type %s: %w", sc.Name, g.Types[t].Name, err)
		}
	}
	return nil
}

// poolSize is the number of senders: the list's when one is given.
func poolSize(o Options) int {
	if len(o.SenderList) > 0 {
		return len(o.SenderList)
	}
	return o.Senders
}

// setSenders gives the run its senders: the list, else a synthetic pool.
func (g *Generator) setSenders(o Options) {
	if len(o.SenderList) > 0 {
		g.Senders = o.SenderList
		return
	}
	g.makeSenders(o.Senders)
}

func (g *Generator) makeSenders(n int) {
	seen := make(map[string]bool, n)
	g.Senders = make([]Sender, n)
	for i := range g.Senders {
		first, last := g.faker.FirstName(), g.faker.LastName()
		g.Senders[i] = Sender{
			ID:          g.faker.UUID(),
			Phone:       g.uniquePhone(seen),
			Name:        first + " " + last,
			FirstName:   first,
			LastName:    last,
			Email:       fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first), strings.ToLower(last), i),
			AnonymousID: g.faker.UUID(),
		}
	}
}

// uniquePhone returns a +1 number not in seen (and records it).
func (g *Generator) uniquePhone(seen map[string]bool) string {
	for {
		p := "+1" + g.faker.Phone()
		if seen == nil {
			return p
		}
		if !seen[p] {
			seen[p] = true
			return p
		}
	}
}

// Next fills m with the next message of the sequence, reusing m's buffers.
func (g *Generator) Next(m *Message) error {
	if g.canned != nil {
		return g.nextCanned(m)
	}
	if p := g.pending.Load(); p != nil {
		g.apply(p)
	}
	t := g.nextType()
	m.Seq = g.seq
	g.seq++
	m.Type = t
	p := &g.prev[t]
	u := g.rng.Float64()
	switch {
	case p.have && u < g.dup:
		m.Kind = Duplicate
		m.ID, m.Sender, m.Company = p.id, p.sender, p.company
		m.Body = append(m.Body[:0], p.body...)
		m.Sig = append(m.Sig[:0], p.sig...)
		return nil
	case p.have && u < g.dup+g.reuse:
		m.Kind = Reused
		m.Sender, m.Company = p.sender, p.company
		m.ID = g.newID(m.Seq)
		m.Body = append(m.Body[:0], p.body...)
		replaceAll(m.Body, p.id, m.ID)
		g.sign(m)
	default:
		m.Kind = Fresh
		if err := g.render(m, t); err != nil {
			return err
		}
	}
	p.have = true
	p.id, p.sender, p.company = m.ID, m.Sender, m.Company
	p.body = append(p.body[:0], m.Body...)
	p.sig = append(p.sig[:0], m.Sig...)
	return nil
}

func (g *Generator) nextType() int {
	if g.group != nil {
		return g.group[g.seq%uint64(len(g.group))]
	}
	if len(g.weights) == 1 {
		return 0
	}
	u := g.rng.Float64()
	for i, w := range g.weights {
		if u < w {
			return i
		}
	}
	return len(g.weights) - 1
}

// render makes a fresh body for type t.
func (g *Generator) render(m *Message, t int) error {
	m.Sender = g.senderLo + g.rng.IntN(g.senderN)
	m.Company = 0
	if len(g.Company) > 1 {
		m.Company = g.rng.IntN(len(g.Company))
	}
	m.ID = g.newID(m.Seq)
	d := &g.data
	d.Type, d.Seq, d.MessageID = g.Types[t].Name, m.Seq, m.ID
	d.Sender, d.Company = &g.Senders[m.Sender], &g.Company[m.Company]
	m.Body = m.Body[:0]
	switch {
	case g.fast[t] != nil:
		for _, o := range g.fast[t] {
			m.Body = o(m.Body, d)
		}
	case g.tmpl[t] != nil:
		g.out = *bytes.NewBuffer(m.Body)
		if err := g.tmpl[t].Execute(&g.out, d); err != nil {
			return err
		}
		m.Body = g.out.Bytes()
	}
	g.sign(m)
	return nil
}

func (g *Generator) newID(seq uint64) string {
	if g.run != 0 {
		g.idbuf = appendRunID(g.idbuf[:0], g.idFmt, g.run, g.part, seq)
		return string(g.idbuf)
	}
	b := g.idbuf[:0]
	b = append(b, g.idFmt.Prefix...)
	var raw [32]byte
	for i := 0; i < len(raw); i += 8 {
		u := g.rng.Uint64()
		for j := 0; j < 8; j++ {
			raw[i+j] = byte(u >> (8 * j))
		}
	}
	if g.idFmt.Format == "hex" {
		b = hex.AppendEncode(b, raw[:(g.idFmt.Length+1)/2])[:len(g.idFmt.Prefix)+g.idFmt.Length]
	} else {
		raw[6] = raw[6]&0x0f | 0x40
		raw[8] = raw[8]&0x3f | 0x80
		b = appendUUID(b, raw[:])
	}
	g.idbuf = b
	return string(b)
}

// replaceAll overwrites every occurrence of old in b with repl (same length).
func replaceAll(b []byte, old, repl string) {
	if old == "" || len(old) != len(repl) {
		return
	}
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(old))
		if j < 0 {
			return
		}
		copy(b[i+j:], repl)
		i += j + len(old)
	}
}

// sign computes the Twilio-style signature of m's form body.
func (g *Generator) sign(m *Message) {
	if g.signer == nil {
		m.Sig = m.Sig[:0]
		return
	}
	g.pairs = g.pairs[:0]
	// Decoded values live in scratch; size it so appends never move earlier ones.
	if cap(g.scratch) < len(m.Body) {
		g.scratch = make([]byte, 0, 2*len(m.Body))
	}
	g.scratch = g.scratch[:0]
	for rest := m.Body; len(rest) > 0; {
		var part []byte
		if i := bytes.IndexByte(rest, '&'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			part, rest = rest, nil
		}
		if len(part) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(part, []byte{'='})
		g.pairs = append(g.pairs, kv{unescape(k, &g.scratch), unescape(v, &g.scratch)})
	}
	slices.SortStableFunc(g.pairs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	g.signer.Reset()
	g.signer.Write(g.urls[m.Type])
	for _, p := range g.pairs {
		g.signer.Write(p.k)
		g.signer.Write(p.v)
	}
	g.sigbuf = g.signer.Sum(g.sigbuf[:0])
	n := base64.StdEncoding.EncodedLen(len(g.sigbuf))
	m.Sig = append(m.Sig[:0], make([]byte, n)...)
	base64.StdEncoding.Encode(m.Sig, g.sigbuf)
}

// unescape decodes a form value (%XX and '+'), appending to scratch when it
// must change b; malformed escapes are kept as they are.
func unescape(b []byte, scratch *[]byte) []byte {
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		return b
	}
	start := len(*scratch)
	out := *scratch
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '+':
			out = append(out, ' ')
		case c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	*scratch = out
	return out[start:len(out):len(out)]
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// TwilioSignature is the vendor's algorithm, for verifying: base64 of
// HMAC-SHA1(authToken, fullURL + each POST parameter name and value, sorted by name).
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	for _, k := range keys {
		for _, v := range params[k] {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
