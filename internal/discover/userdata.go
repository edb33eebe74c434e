package discover

import (
	"regexp"
	"sort"
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
// become template actions, and braces already in the text are escaped so
// that they render as they were. It returns what it replaced, for comments.
func userDataTemplate(src string, subs []templateSubst) (string, []string) {
	type span struct {
		start, end int
		action     string
	}
	// Longest first, so that an endpoint is taken before the region string
	// inside it.
	subs = append([]templateSubst{}, subs...)
	sort.SliceStable(subs, func(i, j int) bool { return len(subs[i].value) > len(subs[j].value) })
	taken := make([]bool, len(src))
	var spans []span
	var did []string
	for _, s := range subs {
		if s.value == "" {
			continue
		}
		n := 0
	next:
		for _, at := range wordsAt(src, s.value) {
			for i := at; i < at+len(s.value); i++ {
				if taken[i] {
					continue next
				}
			}
			for i := at; i < at+len(s.value); i++ {
				taken[i] = true
			}
			spans = append(spans, span{at, at + len(s.value), s.action})
			n++
		}
		if n > 0 {
			did = append(did, s.what+" "+s.value+" -> "+s.action)
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var b strings.Builder
	// literal writes text so that the template prints it unchanged: the
	// lexer only looks for "{{", so a '{' that another '{' or an action
	// follows becomes an action printing "{".
	literal := func(text string, actionNext bool) {
		for i := 0; i < len(text); i++ {
			if text[i] == '{' && ((i+1 < len(text) && text[i+1] == '{') || (i+1 == len(text) && actionNext)) {
				b.WriteString(`{{"{"}}`)
				continue
			}
			b.WriteByte(text[i])
		}
	}
	last := 0
	for _, s := range spans {
		literal(src[last:s.start], true)
		b.WriteString(s.action)
		last = s.end
	}
	literal(src[last:], false)
	sort.Strings(did)
	return b.String(), did
}

// wordsAt returns where value stands in text as a word of its own (not
// inside a longer name of letters, digits, hyphens or underscores), case
// insensitively, since DNS names are.
func wordsAt(text, value string) []int {
	isWord := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	lower, lv := asciiLower(text), asciiLower(value)
	var out []int
	for i := 0; ; {
		j := strings.Index(lower[i:], lv)
		if j < 0 {
			return out
		}
		start, end := i+j, i+j+len(lv)
		if (start == 0 || !isWord(text[start-1])) && (end == len(text) || !isWord(text[end])) {
			out = append(out, start)
			i = end
			continue
		}
		i = start + 1
	}
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

// elastiCacheHost matches an ElastiCache endpoint in any partition.
var elastiCacheHost = regexp.MustCompile(`(?i)\b[a-z0-9][a-z0-9.-]*\.cache\.amazonaws\.com(?:\.cn)?\b`)

// cacheHosts lists the distinct ElastiCache endpoints src names.
func cacheHosts(src string) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range elastiCacheHost.FindAllString(src, -1) {
		if k := strings.ToLower(h); !seen[k] {
			seen[k] = true
			out = append(out, h)
		}
	}
	return out
}
