package alerts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/runwaydata/runway/shared/delivery"
)

// SMTPTimeout bounds the sending of one message, connection included.
const SMTPTimeout = 30 * time.Second

// SMTP sends mail through a relay.
type SMTP struct {
	// From is the sender: the envelope's, and the From of the alerts that
	// name none.
	From *mail.Address
	// TLS configures the relay's TLS connections; nil for the system's
	// roots (tests set their own).
	TLS *tls.Config

	addr        string // host:port
	host        string
	implicitTLS bool // smtps: TLS from the first byte; smtp: STARTTLS when offered
	auth        smtp.Auth
}

// NewSMTP returns the sender through the relay of u, as RUNWAY_SMTP_URL
// gives it (config checks it): smtp://USER:PASSWORD@HOST:PORT?from=SENDER,
// or smtps:// for TLS from the first byte. The port is 587 for smtp and 465
// for smtps unless given; without a user, no AUTH.
func NewSMTP(u *url.URL) (*SMTP, error) {
	from, err := mail.ParseAddress(u.Query().Get("from"))
	if err != nil {
		return nil, fmt.Errorf("alerts: the SMTP URL's from= is not an address: %w", err)
	}
	s := &SMTP{From: from, host: u.Hostname(), implicitTLS: u.Scheme == "smtps"}
	port := u.Port()
	if port == "" {
		port = map[bool]string{true: "465", false: "587"}[s.implicitTLS]
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		password, _ := u.User.Password()
		// net/smtp sends the password only over TLS, or to localhost.
		s.auth = smtp.PlainAuth("", u.User.Username(), password, s.host)
	}
	return s, nil
}

// Send sends msg to the addresses of to, and says how it went: Delivered
// when the relay took it for at least one of them, Failed when it could not
// be handed over (the relay unreachable, a 4xx answer, its credentials
// refused), Abandoned when the relay refused it for good (5xx).
func (s *SMTP) Send(ctx context.Context, to []*mail.Address, msg []byte) (delivery.Outcome, string) {
	start := time.Now()
	accepted, refused, err := s.send(ctx, to, msg)
	took := time.Since(start).Round(time.Millisecond)
	var reply *textproto.Error
	switch {
	case err == nil:
		detail := fmt.Sprintf("%s took it for %d recipients in %s", s.addr, accepted, took)
		if len(refused) > 0 {
			detail += "; it refused " + strings.Join(refused, ", ")
		}
		return delivery.Delivered, detail
	case errors.As(err, &reply) && reply.Code >= 500 && !errors.Is(err, errAuth):
		return delivery.Abandoned, fmt.Sprintf("%s refused it after %s: %v", s.addr, took, err)
	default:
		return delivery.Failed, fmt.Sprintf("not sent through %s after %s: %v", s.addr, took, err)
	}
}

// errAuth marks the relay's refusal of the credentials: an operator's
// mistake that a fixed secret mends, so the alert is tried again.
var errAuth = errors.New("the relay refused the credentials")

// send hands msg over to the relay, for each recipient it accepts; those
// it refuses for good (5xx) are listed, and an error is returned when it
// accepts none.
func (s *SMTP) send(ctx context.Context, to []*mail.Address, msg []byte) (accepted int, refused []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, SMTPTimeout)
	defer cancel()
	tlsConfig := s.TLS.Clone()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig.ServerName = s.host
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	if s.implicitTLS {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConfig}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, nil, err
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && !s.implicitTLS {
		if err := c.StartTLS(tlsConfig); err != nil {
			return 0, nil, fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.auth != nil {
		if err := c.Auth(s.auth); err != nil {
			return 0, nil, fmt.Errorf("%w: %w", errAuth, err)
		}
	}
	if err := c.Mail(s.From.Address); err != nil {
		return 0, nil, fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, rcpt := range to {
		var reply *textproto.Error
		switch err := c.Rcpt(rcpt.Address); {
		case err == nil:
			accepted++
		case errors.As(err, &reply) && reply.Code >= 500:
			refused = append(refused, fmt.Sprintf("%s (%d %s)", rcpt.Address, reply.Code, reply.Msg))
		default:
			return 0, nil, fmt.Errorf("RCPT TO %s: %w", rcpt.Address, err)
		}
	}
	if accepted == 0 {
		return 0, refused, &textproto.Error{Code: 550, Msg: "every recipient was refused: " + strings.Join(refused, ", ")}
	}
	w, err := c.Data()
	if err != nil {
		return 0, nil, fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return 0, nil, fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, nil, fmt.Errorf("DATA: %w", err)
	}
	// The relay has the message: what QUIT answers changes nothing.
	_ = c.Quit()
	return accepted, refused, nil
}
