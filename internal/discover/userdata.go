package discover

import (
	"sort"
	"strconv"
	"strings"
)

// templateSubst is one value of the primary's user-data that recovery
// supplies anew: an endpoint, a bucket or the region.
type templateSubst struct {
	value, action, what string
}

// userDataTemplate turns the app's user-data into a recovery template
// (Go text/template, the vocabulary of recovery.RenderUserData): the
// recovered database's and cache's endpoints, the buckets and the region
// become template actions; braces already in the text are escaped so that
// they come out as they were. It returns what it replaced, for comments.
func userDataTemplate(src string, subs []templateSubst) (string, []string) {
	const lq, rq = "\uE000", "\uE001"
	text := strings.ReplaceAll(strings.ReplaceAll(src, "{{", lq), "}}", rq)
	// Longest first, so that an endpoint is replaced before the region
	// string inside it.
	sort.SliceStable(subs, func(i, j int) bool { return len(subs[i].value) > len(subs[j].value) })
	var did []string
	marks := map[string]string{}
	for i, s := range subs {
		if s.value == "" {
			continue
		}
		mark := "\uE002" + strconv.Itoa(i) + "\uE003"
		next, n := replaceWord(text, s.value, mark)
		if n == 0 {
			continue
		}
		text = next
		marks[mark] = s.action
		did = append(did, s.what+" "+s.value+" -> "+s.action)
	}
	for mark, action := range marks {
		text = strings.ReplaceAll(text, mark, action)
	}
	text = strings.ReplaceAll(text, lq, `{{"{{"}}`)
	text = strings.ReplaceAll(text, rq, `{{"}}"}}`)
	sort.Strings(did)
	return text, did
}

// replaceWord replaces value where it stands as a word of its own (not
// inside a longer name of letters, digits, hyphens or underscores), case
// insensitively, since DNS names are.
func replaceWord(text, value, with string) (string, int) {
	isWord := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	lower, lv := asciiLower(text), asciiLower(value)
	var b strings.Builder
	n, last := 0, 0
	for i := 0; ; {
		j := strings.Index(lower[i:], lv)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(lv)
		if (start == 0 || !isWord(text[start-1])) && (end == len(text) || !isWord(text[end])) {
			b.WriteString(text[last:start])
			b.WriteString(with)
			last = end
			n++
			i = end
			continue
		}
		i = start + 1
	}
	b.WriteString(text[last:])
	return b.String(), n
}

// asciiLower lowers ASCII letters only, so that byte offsets in the result
// are offsets in the original.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
