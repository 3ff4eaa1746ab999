package callbacks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is returned when a callback would reach an address
// that is not on the public internet.
var ErrPrivateAddress = errors.New("callbacks: private address")

// Timeout bounds one callback request, connection included.
const Timeout = 10 * time.Second

// NewClient returns the HTTP client callbacks are sent with. It follows no
// redirects and uses no proxy, and unless allowPrivate (the local dev
// stack) it refuses to connect to loopback, private, link-local and other
// non-public addresses. The check is made on the address actually dialed,
// after DNS resolution, so a host name that resolves (or is rebound) to a
// private address is refused too.
func NewClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			return checkLiteral(host)
		}
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the check
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// nonPublic are the ranges netip's predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed a private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("::/128"),          // unspecified
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated): may embed a private IPv4
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds an IPv4
}

// checkLiteral refuses host if it is an IP address off the public
// internet; host names pass (the dialer checks what they resolve to).
func checkLiteral(host string) error {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	addr = addr.Unmap()
	public := addr.IsGlobalUnicast() && !addr.IsPrivate()
	for _, p := range nonPublic {
		if p.Contains(addr) {
			public = false
		}
	}
	if !public {
		return fmt.Errorf("%w: %s is not a public internet address", ErrPrivateAddress, addr)
	}
	return nil
}
