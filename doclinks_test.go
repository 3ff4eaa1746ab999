package runway_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

var (
	// mdLink finds the target of a Markdown link or image: ](target).
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// mdHeading finds the headings of a Markdown file, outside code blocks.
	mdHeading = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*$`)
)

// TestDocLinks: every relative link of README.md and docs/*.md names a file
// of the repository, and a #fragment into a Markdown file names one of its
// headings, as GitHub makes their anchors.
func TestDocLinks(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range append([]string{"README.md", "bench/README.md"}, docs...) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, fragment, _ := strings.Cut(target, "#")
			file := doc
			if path != "" {
				file = filepath.Join(filepath.Dir(doc), path)
				if _, err := os.Stat(file); err != nil {
					t.Errorf("%s links to %s, which does not exist", doc, target)
					continue
				}
			}
			if fragment != "" && strings.HasSuffix(file, ".md") && !anchors(t, file)[fragment] {
				t.Errorf("%s links to %s, but %s has no heading with the anchor #%s", doc, target, file, fragment)
			}
		}
	}
}

// anchors returns the anchors GitHub gives the headings of a Markdown file:
// lower case, spaces as '-', other punctuation than '-' and '_' left out.
func anchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fenced := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		m := mdHeading.FindStringSubmatch(line)
		if fenced || m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}
