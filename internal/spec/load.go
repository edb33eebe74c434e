package spec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

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

// Load reads, decodes, defaults and validates a config file. The error,
// when not nil, is Problems (every problem found) or an I/O error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates config text; file names it in messages.
func Parse(file string, data []byte) (*Config, error) {
	d := &decoder{file: file, lines: map[string]int{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, Problems{{File: file, Line: yamlErrLine(err), Why: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: doc.Line, Why: "the config must be a YAML mapping"}}
	}
	d.walk(doc, reflect.TypeOf(Config{}), "")
	cfg := &Config{File: file}
	if err := doc.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				d.add(Problem{File: file, Line: yamlErrLine(errors.New(msg)), Why: lineRe.ReplaceAllString(msg, "")})
			}
		} else {
			d.add(Problem{File: file, Why: err.Error()})
		}
	}
	v := &validator{cfg: cfg, lines: d.lines, file: file}
	v.validate()
	all := append(d.problems, v.problems...)
	if len(all) > 0 {
		sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
		return cfg, Problems(all)
	}
	return cfg, nil
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
// path has a line for the validator's messages.
type decoder struct {
	file     string
	lines    map[string]int
	problems Problems
}

func (d *decoder) add(p Problem) { d.problems = append(d.problems, p) }

func (d *decoder) walk(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(Duration{}) || t == reflect.TypeOf(Schedule{}) {
			return
		}
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				d.add(Problem{File: d.file, Line: n.Line, Field: path, Why: "must be a mapping"})
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
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := join(path, k.Value)
			if seen[k.Value] {
				d.add(Problem{File: d.file, Line: k.Line, Field: child, Why: "appears twice"})
			}
			seen[k.Value] = true
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
			}
			return
		}
		for i, c := range n.Content {
			d.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.lines[join(path, n.Content[i].Value)] = n.Content[i].Line
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest names the closest known field for a likely typo.
func suggest(got string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
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
