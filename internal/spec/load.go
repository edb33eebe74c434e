package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	File  string
	Line  int
	Field string
	Why   string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc += ":" + strconv.Itoa(p.Line)
	}
	if p.Field == "" {
		return loc + ": " + p.Why
	}
	return loc + ": " + p.Field + ": " + p.Why
}

// Problems is every problem found in one config; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// AsProblems extracts Problems from an error returned by Load or Parse.
func AsProblems(err error) (Problems, bool) {
	var ps Problems
	ok := errors.As(err, &ps)
	return ps, ok
}

// MaxConfigBytes bounds a config file: a real one is a few kilobytes, and
// reading without a bound let `--config /dev/zero` grow to 23 GB.
const MaxConfigBytes = 1 << 20

// Load reads, decodes, defaults and validates a config file. The error,
// when not nil, is Problems (every problem found) or an I/O error.
func Load(path string) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readConfig refuses at once what is not a regular file of sane size. It
// stats before opening because opening a FIFO with no writer blocks, and
// stats the open file again (opened non-blocking) in case the path was
// swapped in between; the read itself is bounded too.
func readConfig(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if err := checkConfigFile(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if err := checkConfigFile(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > MaxConfigBytes {
		return nil, Problems{{File: path, Why: tooLarge}}
	}
	return data, nil
}

var tooLarge = fmt.Sprintf("larger than %d KB: not a pilotlight config (a real one is a few KB)", MaxConfigBytes>>10)

func checkConfigFile(path string, fi os.FileInfo) error {
	switch m := fi.Mode(); {
	case m.IsDir():
		return Problems{{File: path, Why: "is a directory, not a config file"}}
	case !m.IsRegular():
		return Problems{{File: path, Why: fmt.Sprintf("is not a regular file (%s): a config is read from a file", kindOf(m))}}
	case fi.Size() > MaxConfigBytes:
		return Problems{{File: path, Why: tooLarge}}
	}
	return nil
}

func kindOf(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// Parse decodes and validates config text; file names it in messages.
// Every problem it returns has a line (1 when the whole file is at fault).
func Parse(file string, data []byte) (*Config, error) {
	if len(data) > MaxConfigBytes {
		return nil, Problems{{File: file, Line: 1, Why: tooLarge}}
	}
	if !utf8.Valid(data) {
		return nil, Problems{{File: file, Line: badUTF8Line(data), Why: "not valid YAML: not UTF-8 text"}}
	}
	d := &decoder{file: file, lines: map[string]int{}, broken: map[string]bool{}, typeLines: map[int]bool{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{File: file, Line: 1, Why: "the file is empty (no YAML, or only comments)"}}
		}
		return nil, Problems{{File: file, Line: max(yamlErrLine(err), 1), Why: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if emptyDoc(&root) {
		// "---" alone, or "---" and comments: a document with nothing in it.
		return nil, Problems{{File: file, Line: 1, Why: "the file is empty (no YAML, or only comments)"}}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.add(Problem{File: file, Line: max(yamlErrLine(err), 1), Why: "a second YAML document, and not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
	case !emptyDoc(&next):
		d.add(Problem{File: file, Line: max(next.Line, 1), Why: "a second YAML document: a config is one document (remove the ---, or split the file)"})
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: max(doc.Line, 1), Why: "the config must be a YAML mapping"}}
	}
	d.walk(doc, reflect.TypeOf(Config{}), "")
	cfg := &Config{File: file}
	if err := doc.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				line := yamlErrLine(errors.New(msg))
				if d.typeLines[line] {
					continue // the walk reported it, by field
				}
				d.add(Problem{File: file, Line: max(line, 1), Field: d.fieldAt(line), Why: lineRe.ReplaceAllString(msg, "")})
			}
		} else {
			d.add(Problem{File: file, Line: 1, Why: err.Error()})
		}
	}
	v := &validator{cfg: cfg, lines: d.lines, file: file, root: doc.Line}
	v.validate()
	all := d.problems
	for _, p := range v.problems {
		// A field the decoder could not read is zero to the validator:
		// "required" beside "want a number" only misleads.
		if !d.isBroken(p.Field) {
			all = append(all, p)
		}
	}
	if len(all) > 0 {
		sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
		return cfg, Problems(all)
	}
	return cfg, nil
}

func emptyDoc(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "")
}

func badUTF8Line(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			// YAML breaks lines at LF, CR and CRLF.
			return bytes.Count(bytes.ReplaceAll(bytes.ReplaceAll(data[:i], []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n")), []byte("\n")) + 1
		}
		i += size
	}
	return 1
}

var lineRe = regexp.MustCompile(`^line (\d+): `)

func yamlErrLine(err error) int {
	m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// decoder walks the YAML tree beside the Go type so that unknown fields are
// all reported (yaml.v3's KnownFields stops at the first) and every field
// path has a line for the validator's messages. It also reports, by field,
// what yaml.v3 would report only by line (duplicate keys, wrong types) and
// takes those nodes out of the tree, so that one mistake is one problem.
type decoder struct {
	file      string
	lines     map[string]int
	broken    map[string]bool
	typeLines map[int]bool
	problems  Problems
}

func (d *decoder) add(p Problem) { d.problems = append(d.problems, p) }

// fieldAt names the deepest field written on line, for yaml.v3 messages
// that carry only a line.
func (d *decoder) fieldAt(line int) string {
	best := ""
	for f, l := range d.lines {
		if l == line && len(f) > len(best) {
			best = f
		}
	}
	return best
}

// isBroken reports whether field is, or is inside or above, a field the
// decoder already reported as unreadable.
func (d *decoder) isBroken(field string) bool {
	if field == "" {
		return false
	}
	for b := range d.broken {
		if field == b || strings.HasPrefix(field, b+".") || strings.HasPrefix(field, b+"[") ||
			strings.HasPrefix(b, field+".") || strings.HasPrefix(b, field+"[") {
			return true
		}
	}
	return false
}

func (d *decoder) walk(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	ref := n
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(Duration{}) || t == reflect.TypeOf(Schedule{}) {
			d.scalar(n, ref, path, "a single value")
			return
		}
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				d.add(Problem{File: d.file, Line: n.Line, Field: path, Why: "must be a mapping"})
				d.drop(path, n, ref)
			}
			return
		}
		fields := map[string]reflect.StructField{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f
		}
		d.dedupe(n, path)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := join(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				d.add(Problem{File: d.file, Line: k.Line, Field: child, Why: "unknown field" + suggest(k.Value, fields)})
				continue
			}
			d.lines[child] = k.Line
			d.walk(v, f.Type, child)
			d.lines[child] = k.Line
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				d.add(Problem{File: d.file, Line: n.Line, Field: path, Why: "must be a list"})
				d.drop(path, n, ref)
			}
			return
		}
		for i, c := range n.Content {
			d.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				d.add(Problem{File: d.file, Line: n.Line, Field: path, Why: "must be a mapping"})
				d.drop(path, n, ref)
			}
			return
		}
		d.dedupe(n, path)
		for i := 0; i+1 < len(n.Content); i += 2 {
			child := join(path, n.Content[i].Value)
			d.lines[child] = n.Content[i].Line
			d.walk(n.Content[i+1], t.Elem(), child)
			d.lines[child] = n.Content[i].Line
		}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64:
		if !d.scalar(n, ref, path, "a single value") {
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			d.add(Problem{File: d.file, Line: n.Line, Field: path, Why: fmt.Sprintf("want %s, not %q", kindWord(t.Kind()), n.Value)})
			d.drop(path, n, ref)
		}
	}
}

// scalar reports a list or mapping where a single value belongs.
func (d *decoder) scalar(n, ref *yaml.Node, path, want string) bool {
	if n.Kind == yaml.ScalarNode {
		return true
	}
	got := "a list"
	if n.Kind == yaml.MappingNode {
		got = "a mapping"
	}
	d.add(Problem{File: d.file, Line: n.Line, Field: path, Why: "must be " + want + ", not " + got})
	d.drop(path, n, ref)
	return false
}

// drop records that the field at path cannot be read, so that neither
// yaml.v3's message for the same line nor the validator's view of the zero
// value left behind is reported again. The tree is not changed: the node
// may be an anchor's, read correctly elsewhere.
func (d *decoder) drop(path string, nodes ...*yaml.Node) {
	d.broken[path] = true
	for _, n := range nodes {
		d.typeLines[n.Line] = true
	}
}

// dedupe reports each repeated key once and keeps the first, which is what
// a reader of the file sees first.
func (d *decoder) dedupe(n *yaml.Node, path string) {
	seen := map[string]int{}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if first, ok := seen[k.Value]; ok {
			d.add(Problem{File: d.file, Line: k.Line, Field: join(path, k.Value), Why: fmt.Sprintf("appears twice (first on line %d); the later one is ignored", first)})
			continue
		}
		seen[k.Value] = k.Line
		kept = append(kept, n.Content[i], n.Content[i+1])
	}
	n.Content = kept
}

func kindWord(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "text"
	}
	return "a whole number"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest names the closest known field for a likely typo.
func suggest(got string, fields map[string]reflect.StructField) string {
	// A one- or two-letter key is close to every short field; suggest
	// only what is closer than half the key.
	best, bestD := "", min(3, len(got)/2+1)
	for name := range fields {
		if dd := editDistance(got, name); dd < bestD {
			best, bestD = name, dd
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
