package delivery

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReasonPhraseIsSafeToRecord(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"500 \xff\xfe", "500 " + strings.Repeat("é", 2<<20), "200 OK"} {
		got := reasonPhrase(&http.Response{Status: status})
		if !utf8.ValidString(got) || len(got) > 210 {
			t.Errorf("reasonPhrase(%.20q…) = %.40q… (%d bytes): want valid UTF-8 of at most 200 bytes and an ellipsis", status, got, len(got))
		}
	}
	if got := reasonPhrase(&http.Response{Status: "503 Service Unavailable"}); got != "503 Service Unavailable" {
		t.Errorf("reasonPhrase of a plain status = %q", got)
	}
}
