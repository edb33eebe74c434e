package spec

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// L1: what is not a regular file of sane size is refused at once, before
// anything is read: /dev/zero once grew to 23 GB and a FIFO blocked forever.
func TestLoadRefusesWhatIsNotAConfigFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(validBase+"# "+strings.Repeat("x", MaxConfigBytes)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{"/dev/zero", "not a regular file (a character device)"},
		{fifo, "not a regular file (a named pipe)"},
		{dir, "is a directory"},
		{big, "larger than 1024 KB"},
	} {
		start := time.Now()
		_, err := Load(c.path)
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: took %v", c.path, took)
		}
		ps, ok := AsProblems(err)
		if !ok || len(ps) != 1 || !strings.Contains(ps[0].Why, c.want) || ps[0].File != c.path {
			t.Errorf("%s: want one problem %q, got %v", c.path, c.want, err)
		}
	}
}

// L7: each mistake is one clear problem, naming its field and line.
func TestOneMistakeOneProblem(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"empty", "", "p.yaml:1: the file is empty"},
		{"only comments", "# nothing\n\n", "p.yaml:1: the file is empty"},
		{"only a document marker", "---\n# nothing\n", "p.yaml:1: the file is empty"},
		{"second document", validBase + "---\nstack: evil\n", "p.yaml:19: a second YAML document"},
		{"duplicate key", strings.Replace(validBase, "stack: wordpress", "stack: wordpress\nstack: other", 1),
			"p.yaml:2: stack: appears twice (first on line 1)"},
		{"duplicate nested key", strings.Replace(validBase, "record: blog.example.com,", "record: blog.example.com, record: x.example.com,", 1),
			"p.yaml:18: recover.dns.record: appears twice (first on line 18)"},
		{"bool", strings.Replace(validBase, "replica: media-dr", "replica: media-dr\n      create_replica: maybe", 1),
			`p.yaml:15: protect.buckets[0].create_replica: want true or false, not "maybe"`},
		{"int", strings.Replace(validBase, "zone: example.com,", "zone: example.com, ttl: sixty,", 1),
			`p.yaml:18: recover.dns.ttl: want a whole number, not "sixty"`},
		{"list for a string", strings.Replace(validBase, "stack: wordpress", "stack: [wordpress]", 1),
			"p.yaml:1: stack: must be a single value, not a list"},
		{"list for a map", strings.Replace(validBase, "{ tag: { Role: wordpress } }", "{ tag: [Role] }", 1),
			"p.yaml:11: protect.images[0].instance.tag: must be a mapping"},
		{"not utf-8", "stack: a\nprimary: \xff\n", "p.yaml:2: not valid YAML: not UTF-8 text"},
		{"short unknown key", validBase + "a: 1\n", "p.yaml:19: a: unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.src))
			ps, ok := AsProblems(err)
			if !ok || len(ps) != 1 {
				t.Fatalf("want exactly one problem, got:\n%v", err)
			}
			if !strings.HasPrefix(ps[0].String(), c.want) {
				t.Fatalf("want %q, got %q", c.want, ps[0])
			}
			if strings.Contains(ps[0].String(), "did you mean") && c.name == "short unknown key" {
				t.Fatalf("suggestion for a one-letter key: %s", ps[0])
			}
		})
	}
}

func TestTrailingDocumentMarkerIsHarmless(t *testing.T) {
	if _, err := Parse("p.yaml", []byte(validBase+"---\n")); err != nil {
		t.Fatal(err)
	}
}
