package emulators

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestStartOnATakenPort gives the emulators ports that another process
// took after FreePort found them free: one answers HTTP as an emulator
// would, the other never answers. Each emulator must find out, start again
// on a fresh port, and answer there; Stop must then close those ports.
func TestStartOnATakenPort(t *testing.T) {
	answering := listen(t)
	go http.Serve(answering, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Ok\n")) }))
	silent := listen(t)
	taken := []int{port(answering), port(silent)}

	var mu sync.Mutex
	picks := 0
	pickPort = func() (int, error) {
		mu.Lock()
		defer mu.Unlock()
		picks++
		if picks <= len(taken) {
			return taken[picks-1], nil
		}
		return FreePort()
	}
	t.Cleanup(func() { pickPort = FreePort })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e, err := Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	for _, host := range []string{e.FirestoreHost, e.PubSubHost} {
		_, p, _ := net.SplitHostPort(host)
		if p == strconv.Itoa(taken[0]) || p == strconv.Itoa(taken[1]) {
			t.Errorf("an emulator was said to answer on %s, a port another process holds (%v)", host, taken)
		}
	}
	if picks < 4 {
		t.Errorf("%d ports picked, want at least 4 (both taken ports, then one fresh port each)", picks)
	}

	e.Stop()
	for _, host := range []string{e.FirestoreHost, e.PubSubHost} {
		if conn, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still answers after Stop", host)
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }
