package scenario

// Canned makes a generator that replays recorded requests instead of
// rendering templates: message i is request i mod len(types of reqs) (the
// caller bounds the run to one pass when it should not loop). reqType[i] is
// request i's index into types; bodies[i] its body.
func Canned(types []RequestType, reqType []int, bodies [][]byte) *Generator {
	return &Generator{Types: types, canned: &canned{reqType: reqType, bodies: bodies}}
}

type canned struct {
	reqType []int
	bodies  [][]byte
}

func (g *Generator) nextCanned(m *Message) error {
	i := int(g.seq % uint64(len(g.canned.reqType)))
	m.Seq, m.Type, m.Kind, m.Target = g.seq, g.canned.reqType[i], Fresh, i
	m.ID, m.Sender, m.Company, m.Sig = "", 0, 0, m.Sig[:0]
	m.Body = append(m.Body[:0], g.canned.bodies[i]...)
	g.seq++
	return nil
}
