package callbacks

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAllows(t *testing.T) {
	s := Settings{AllowedHosts: []string{"hooks.example.com", "*.ci.example.com", "alt.example.com:8443", "*.dev.example.com:9000"}}
	for raw, want := range map[string]bool{
		"https://hooks.example.com/x":      true,
		"https://HOOKS.example.com/x":      true,
		"https://hooks.example.com:443/x":  true, // the default port, written out
		"https://a.ci.example.com/x":       true,
		"https://a.b.ci.example.com/x":     true,
		"https://ci.example.com/x":         false, // the pattern is for the names under it
		"https://evilci.example.com/x":     false,
		"https://hooks.example.com.evil/x": false,
		"https://example.com/x":            false,
		// Without a port, an entry allows the default port only.
		"https://hooks.example.com:8443/x": false,
		"https://hooks.example.com:22/x":   false,
		"https://a.ci.example.com:8080/x":  false,
		"http://hooks.example.com/x":       true, // http (dev stack only): its default port, 80
		"http://hooks.example.com:443/x":   false,
		// An entry naming a port allows that port only.
		"https://alt.example.com:8443/x":   true,
		"https://alt.example.com/x":        false,
		"https://alt.example.com:8444/x":   false,
		"https://a.dev.example.com:9000/x": true,
		"https://a.dev.example.com/x":      false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Allows(u); got != want {
			t.Errorf("Allows(%s) = %v, want %v", raw, got, want)
		}
	}
}

func TestValidHostPattern(t *testing.T) {
	for _, ok := range []string{"hooks.example.com", "*.example.com", "localhost", "127.0.0.1",
		"hooks.example.com:8443", "*.example.com:9000", "localhost:1", "hooks.example.com:443", "h:65535"} {
		if err := ValidHostPattern(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "*", "*.", "a.*.example.com", "Hooks.example.com", "https://hooks.example.com", "-a.example.com", "a..b",
		"hooks.example.com:", "hooks.example.com:0", "hooks.example.com:65536", "hooks.example.com:08443", "hooks.example.com:+443",
		"hooks.example.com:https", "hooks.example.com:443:1", ":443", "hooks.example.com/x:443"} {
		if ValidHostPattern(bad) == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestCheckURL(t *testing.T) {
	secret, _ := NewSecret("admin@example.com", time.Now())
	s := Settings{AllowedHosts: []string{"hooks.example.com", "10.1.2.3", "localhost:8443", "alt.example.com:8443"}, Secrets: []Secret{secret}}
	for url, allowPrivate := range map[string]bool{
		"https://hooks.example.com/runway":      false,
		"https://hooks.example.com:443/runway":  false,
		"https://localhost:8443/x":              false, // a name: the dialer checks what it resolves to
		"https://alt.example.com:8443/x?t=1":    false,
		"http://hooks.example.com/runway":       true,
		"http://10.1.2.3/hook":                  true,
		"https://alt.example.com:8443/x?t=1#me": true,
	} {
		if err := s.CheckURL(url, allowPrivate); err != nil {
			t.Errorf("CheckURL(%s, %v) = %v", url, allowPrivate, err)
		}
	}
	for url, want := range map[string]string{
		"http://hooks.example.com/runway":      "https only",
		"https://other.example.com/":           "not in the account's allowed_hosts",
		"https://10.1.2.3/hook":                "not a public internet address",
		"ftp://hooks.example.com/":             "https only",
		"https://hooks.example.com:8443/":      "port 8443 of host hooks.example.com is not allowed: an entry of allowed_hosts without a port allows port 443 only; an admin allows this one with hooks.example.com:8443",
		"https://hooks.example.com:22/":        "port 22 of host hooks.example.com is not allowed",
		"https://alt.example.com/":             "port 443 of host alt.example.com is not allowed",
		"https://localhost/x":                  "port 443 of host localhost is not allowed",
		"https://localhost:9443/x":             "port 9443 of host localhost is not allowed",
		"https://other.example.com:8443/x?t=1": "host other.example.com is not in",
	} {
		if err := s.CheckURL(url, false); err == nil || !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckURL(%s) = %v, want %q", url, err, want)
		}
	}
	// The dev stack allows http and private addresses, not other ports.
	if err := s.CheckURL("http://10.1.2.3:8080/hook", true); err == nil || !strings.Contains(err.Error(), "port 8080") {
		t.Errorf("dev stack, another port: %v", err)
	}
	if err := (Settings{AllowedHosts: s.AllowedHosts}).CheckURL("https://hooks.example.com/", false); err == nil || !strings.Contains(err.Error(), "rotate_callback_secret") {
		t.Errorf("without a secret: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://h.example.com/x":                       "https://h.example.com/x",
		"https://h.example.com/x?token=s3cr3t":          "https://h.example.com/x?REDACTED",
		"https://h.example.com:8443/x?a=1&token=s3cr3t": "https://h.example.com:8443/x?REDACTED",
		"https://h.example.com/x?":                      "https://h.example.com/x?REDACTED",
		"https://h.example.com/x#frag?token=s3cr3t":     "https://h.example.com/x",
		"https://h.example.com/x?t=s3cr3t#frag":         "https://h.example.com/x?REDACTED",
		"https://h.example.com?token=s3cr3t":            "https://h.example.com?REDACTED",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%s) = %s, want %s", raw, got, want)
		}
	}
}

func TestCheckLiteral(t *testing.T) {
	for _, private := range []string{"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
		"::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "224.0.0.1", "255.255.255.255", "198.18.0.1", "::",
		"::127.0.0.1", "2002:a00:1::1", "2001:0:a00:1::1"} {
		if err := checkLiteral(private); !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("%s was allowed", private)
		}
	}
	for _, public := range []string{"8.8.8.8", "2001:4860:4860::8888", "hooks.example.com", "203.0.114.1"} {
		if err := checkLiteral(public); err != nil {
			t.Errorf("%s: %v", public, err)
		}
	}
}

// TestClientRefusesPrivateAddresses: the check is made when connecting,
// so a name resolving to loopback is refused as an address would be.
func TestClientRefusesPrivateAddresses(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, url := range []string{srv.URL, "http://localhost" + port} {
		_, err := NewClient(false).Post(url, "application/json", strings.NewReader("{}"))
		if !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("POST %s: %v, want ErrPrivateAddress", url, err)
		}
	}
	if hits != 0 {
		t.Errorf("the private server got %d requests", hits)
	}
	// The dev stack's client reaches it, and follows no redirect.
	redirect := httptest.NewServer(http.RedirectHandler(srv.URL, http.StatusFound))
	defer redirect.Close()
	resp, err := NewClient(true).Post(redirect.URL, "application/json", strings.NewReader("{}"))
	if err != nil || resp.StatusCode != http.StatusFound || hits != 0 {
		t.Errorf("redirect: %v %v, %d hits", resp, err, hits)
	}
}

func TestSignAndVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	current, _ := NewSecret("a", now)
	previous, _ := NewSecret("a", now.Add(-time.Hour))
	body := []byte(`{"run_id":"x","status":"SUCCESS"}`)
	const event = "ev-1"
	header := Sign([]Secret{current, previous}, now, event, body)
	if !strings.HasPrefix(header, "t=1700000000,v1=") || strings.Count(header, "v1=") != 2 {
		t.Fatalf("header %q", header)
	}
	for _, s := range []Secret{current, previous} {
		if err := Verify(s.Value, header, event, body, now.Add(time.Minute), 5*time.Minute); err != nil {
			t.Errorf("verify with %s: %v", s.ID, err)
		}
	}
	other, _ := NewSecret("a", now)
	for name, err := range map[string]error{
		"other secret":  Verify(other.Value, header, event, body, now, 5*time.Minute),
		"changed body":  Verify(current.Value, header, event, []byte(`{"run_id":"x","status":"FAILED"}`), now, 5*time.Minute),
		"other event":   Verify(current.Value, header, "ev-2", body, now, 5*time.Minute),
		"too old":       Verify(current.Value, header, event, body, now.Add(10*time.Minute), 5*time.Minute),
		"no timestamp":  Verify(current.Value, strings.Replace(header, "t=", "x=", 1), event, body, now, 5*time.Minute),
		"changed stamp": Verify(current.Value, strings.Replace(header, "t=1700000000", "t=1700000001", 1), event, body, now, 5*time.Minute),
	} {
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}

func TestRotate(t *testing.T) {
	a, _ := NewSecret("x", time.Now())
	b, _ := NewSecret("x", time.Now())
	c, _ := NewSecret("x", time.Now())
	s := Settings{}.Rotate(a, false).Rotate(b, false).Rotate(c, false)
	if len(s.Secrets) != 2 || s.Secrets[0].ID != c.ID || s.Secrets[1].ID != b.ID {
		t.Errorf("after three rotations: %+v", s.Secrets)
	}
	if s = s.Rotate(a, true); len(s.Secrets) != 1 || s.Secrets[0].ID != a.ID {
		t.Errorf("retire_previous kept %+v", s.Secrets)
	}
	if a.ID == b.ID || a.Value == b.Value || !strings.HasPrefix(a.Value, "rwcs_") || len(a.Value) != 69 {
		t.Errorf("secrets %+v %+v", a, b)
	}
}
