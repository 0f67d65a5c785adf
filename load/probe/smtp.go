package probe

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/mail"
	"time"

	"github.com/emersion/go-smtp"
)

// ServeSMTP is the mail sink: every message delivered on l is recorded (mail
// headers, Mail-From, Rcpt-To, body) and acknowledged with 250 only once it is
// on disk. It serves until ctx ends.
func (r *Recorder) ServeSMTP(ctx context.Context, l net.Listener) error {
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{r: r, ctx: ctx}, nil
	}))
	s.Domain = "stack-probe"
	s.MaxMessageBytes = MaxBody
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.ErrorLog = discardLog{}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Shutdown(sctx)
	}()
	if err := s.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) && ctx.Err() == nil {
		return err
	}
	return nil
}

type discardLog struct{}

func (discardLog) Printf(string, ...any) {}
func (discardLog) Println(...any)        {}

type smtpSession struct {
	r        *Recorder
	ctx      context.Context
	from, to string
}

func (s *smtpSession) Reset()        { s.from, s.to = "", "" }
func (s *smtpSession) Logout() error { return nil }

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.to == "" {
		s.to = to
	}
	return nil
}

// Data records the message; an error answers 4xx so the sender retries.
func (s *smtpSession) Data(r io.Reader) error {
	at := s.r.now()
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "probe: not a mail message: " + err.Error()}
	}
	body, err := io.ReadAll(io.LimitReader(msg.Body, MaxBody))
	if err != nil {
		return err
	}
	h := map[string]string{"Mail-From": s.from, "Rcpt-To": s.to}
	for k, v := range msg.Header {
		h[k] = v[0]
	}
	a := &Arrival{At: at.UTC(), Probe: s.r.Name, Kind: "smtp", Header: h, Body: string(body)}
	if err := s.r.Journal.Append(s.ctx, a); err != nil {
		return &smtp.SMTPError{Code: 451, Message: "probe: " + err.Error()}
	}
	return nil
}
