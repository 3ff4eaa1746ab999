package smtptest

import (
	"bytes"
	"net/smtp"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestMessagesAreFiledWhole: each message accepted becomes <n>.eml in
// Dir, and nothing else is left there (the temporary file it was written
// to is renamed into place).
func TestMessagesAreFiledWhole(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	s, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	msgs := [][]byte{
		[]byte("From: a@example.com\r\nTo: b@example.com\r\nSubject: one\r\n\r\nfirst\r\n"),
		[]byte("From: a@example.com\r\nTo: b@example.com\r\nSubject: two\r\n\r\nsecond\r\n"),
	}
	for _, m := range msgs {
		if err := smtp.SendMail(s.Addr(), nil, "a@example.com", []string{"b@example.com"}, m); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"1.eml", "2.eml"}; !slices.Equal(names, want) {
		t.Fatalf("the mail directory holds %v, want %v", names, want)
	}
	for i, m := range msgs {
		got, err := os.ReadFile(filepath.Join(dir, names[i]))
		if err != nil || !bytes.Equal(got, m) {
			t.Errorf("%s: %q, %v; want the message as sent, %q", names[i], got, err, m)
		}
	}
}
