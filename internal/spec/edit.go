package spec

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ScalarEdit changes one scalar of a config file: the value at Path, which
// must be Old, becomes New. Path steps are mapping keys, or [key=value]
// to pick the mapping of a sequence whose key has that value.
type ScalarEdit struct {
	Path []string `json:"path"`
	Old  string   `json:"old"`
	New  string   `json:"new"`
}

// String is the edit as a user reads it.
func (e ScalarEdit) String() string {
	return strings.Join(e.Path, ".") + ": " + e.Old + " -> " + e.New
}

// ApplyEdits rewrites the scalars of data in place, byte for byte
// elsewhere: comments, order and style stay as the user wrote them.
func ApplyEdits(data []byte, edits []ScalarEdit) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	type span struct {
		line, start, width int
		repl               string
	}
	var spans []span
	for _, e := range edits {
		n, err := find(&root, e.Path)
		if err != nil {
			return nil, err
		}
		if n.Kind != yaml.ScalarNode || n.Value != e.Old {
			return nil, fmt.Errorf("config %s is %q, not %q: edit it by hand", strings.Join(e.Path, "."), n.Value, e.Old)
		}
		if n.Line < 1 || n.Line > len(lines) {
			return nil, fmt.Errorf("config %s: no line %d", strings.Join(e.Path, "."), n.Line)
		}
		line := lines[n.Line-1]
		start := n.Column - 1
		width, err := scalarWidth(line[start:], n)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", strings.Join(e.Path, "."), err)
		}
		repl := e.New
		if n.Style != 0 && n.Style != yaml.FlowStyle {
			repl = strconv.Quote(e.New)
		}
		spans = append(spans, span{n.Line - 1, start, width, repl})
	}
	// Right to left within a line, so that an edit does not move the next.
	slices.SortFunc(spans, func(a, b span) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return b.start - a.start
	})
	for _, sp := range spans {
		line := lines[sp.line]
		lines[sp.line] = append(append(append([]byte(nil), line[:sp.start]...), sp.repl...), line[sp.start+sp.width:]...)
	}
	return bytes.Join(lines, nil), nil
}

// scalarWidth is how many bytes the scalar n takes at the start of b.
func scalarWidth(b []byte, n *yaml.Node) (int, error) {
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := b[0]
		for i := 1; i < len(b); i++ {
			if b[i] == '\\' && q == '"' {
				i++
				continue
			}
			if b[i] == q {
				return i + 1, nil
			}
		}
		return 0, fmt.Errorf("unterminated quote")
	case 0, yaml.FlowStyle:
		if !bytes.HasPrefix(b, []byte(n.Value)) {
			return 0, fmt.Errorf("value is not written plainly on one line")
		}
		return len(n.Value), nil
	}
	return 0, fmt.Errorf("a block scalar: edit it by hand")
}

func find(root *yaml.Node, path []string) (*yaml.Node, error) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i, step := range path {
		where := strings.Join(path[:i+1], ".")
		if strings.HasPrefix(step, "[") {
			key, val, _ := strings.Cut(strings.Trim(step, "[]"), "=")
			if n.Kind != yaml.SequenceNode {
				return nil, fmt.Errorf("config %s: not a list", where)
			}
			var hit *yaml.Node
			for _, item := range n.Content {
				if v := child(item, key); v != nil && v.Value == val {
					hit = item
				}
			}
			if hit == nil {
				return nil, fmt.Errorf("config %s: no entry with %s %s", where, key, val)
			}
			n = hit
			continue
		}
		v := child(n, step)
		if v == nil {
			return nil, fmt.Errorf("config %s: not set", where)
		}
		n = v
	}
	return n, nil
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
