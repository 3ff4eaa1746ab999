// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp)
// that keeps the mail it accepts, in memory and as .eml files in a
// directory, instead of relaying it: the alert tests read it back, and the
// local dev stack (scripts/devserver) shows where to read it. It checks
// what a relay checks: the AUTH PLAIN credentials when it is given some,
// the addresses of MAIL FROM and RCPT TO, and that the message parses.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Config is how a Server is started.
type Config struct {
	// Addr is where it listens; "127.0.0.1:0" (a free port) by default.
	Addr string
	// Dir, if set, gets each message as <n>.eml.
	Dir string
	// User and Password, if set, are the credentials clients must
	// authenticate with (AUTH PLAIN) before sending.
	User, Password string
	// TLS, if set, makes it speak SMTP over TLS from the first byte
	// (smtps), with this certificate.
	TLS *tls.Config
}

// Message is a message the server accepted.
type Message struct {
	From string   // MAIL FROM
	To   []string // RCPT TO
	Data []byte   // the message, as sent
}

// Server is a running SMTP server.
type Server struct {
	cfg      Config
	addr     string
	server   *smtp.Server
	mu       sync.Mutex
	messages []Message
}

// Start starts a server.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtptest: %w", err)
	}
	if cfg.TLS != nil {
		l = tls.NewListener(l, cfg.TLS)
	}
	s := &Server{cfg: cfg, addr: l.Addr().String()}
	s.server = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{server: s}, nil }))
	s.server.Domain = "localhost"
	s.server.MaxMessageBytes = 4 << 20
	s.server.MaxRecipients = 100
	// Credentials in clear text are fine on the loopback interface the
	// tests and the dev stack use.
	s.server.AllowInsecureAuth = true
	go func() { _ = s.server.Serve(l) }()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL is the RUNWAY_SMTP_URL that sends through the server, as from.
func (s *Server) URL(from string) *url.URL {
	u := &url.URL{Scheme: "smtp", Host: s.addr, RawQuery: url.Values{"from": {from}}.Encode()}
	if s.cfg.TLS != nil {
		u.Scheme = "smtps"
	}
	if s.cfg.User != "" {
		u.User = url.UserPassword(s.cfg.User, s.cfg.Password)
	}
	return u
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Close stops the server: it refuses connections from then on.
func (s *Server) Close() error { return s.server.Close() }

func (s *Server) keep(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	if s.cfg.Dir == "" {
		return nil
	}
	return writeAtomically(filepath.Join(s.cfg.Dir, fmt.Sprintf("%d.eml", len(s.messages))), m.Data)
}

// writeAtomically writes data to path through a temporary file renamed
// into place, so that whoever reads the directory (a test waiting for its
// mail, a person) never finds half a message.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".partial-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// session is one client's session.
type session struct {
	server *Server
	authed bool
	msg    Message
}

var (
	errBadAddress = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "not a valid address"}
	errBadMessage = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "the message does not parse"}
	errNoRcpt     = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "no valid recipients"}
)

// AuthMechanisms implements smtp.AuthSession.
func (s *session) AuthMechanisms() []string {
	if s.server.cfg.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || s.server.cfg.User == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != s.server.cfg.User || password != s.server.cfg.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.cfg.User != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return errBadAddress
	}
	s.msg = Message{From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if _, err := mail.ParseAddress(to); err != nil {
		return errBadAddress
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(s.msg.To) == 0 {
		return errNoRcpt
	}
	if _, err := mail.ReadMessage(bytes.NewReader(data)); err != nil {
		return errBadMessage
	}
	s.msg.Data = data
	if err := s.server.keep(s.msg); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot keep the message: " + err.Error()}
	}
	return nil
}

func (s *session) Reset()        { s.msg = Message{} }
func (s *session) Logout() error { return nil }
