package spec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/template"
	"text/template/parse"
)

// UserDataMaxBytes is the most rendered user-data a launch template takes.
// EC2: "User data is limited to 16 KB, in raw form, before it is
// base64-encoded"; the API checks the encoded text, at most 21847
// characters, which 16384 raw bytes exceed by one, so the bound is 16383.
const UserDataMaxBytes = 16383

// maxTemplateBytes bounds the template file read; its rendering must fit
// in 16 KB anyway.
const maxTemplateBytes = 1 << 20

// Endpoints are the values of the user-data template that only the
// recovery knows, once it has made the database and the cache.
type Endpoints struct {
	DBHost    string
	DBPort    int
	CacheHost string
	CachePort int
	Region    string
	// DBParameter and CacheParameter name the SSM parameters (in Region)
	// that will hold host:port: the hand-off, for an app that boots beside
	// the restore and reads its endpoints there.
	DBParameter, CacheParameter string
}

// UserDataPath is recover.app.user_data resolved beside the config. A path
// that leaves the config's directory is an error, not a warning: the file
// becomes a root boot script stored in the launch template, which anyone
// allowed ec2:DescribeLaunchTemplateVersions can read, so
// `user_data: ../../etc/shadow` would publish that file; the config's
// directory is what its author reviews, and `init` writes the template
// there. Symbolic links are followed before the check.
func (c *Config) UserDataPath() (string, error) {
	a := c.Recover.App
	if a == nil || a.UserData == "" {
		return "", nil
	}
	rel := filepath.Clean(a.UserData)
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the config's directory: keep the template beside the config", a.UserData)
	}
	dir := filepath.Dir(c.File)
	p := filepath.Join(dir, rel)
	realDir, err1 := filepath.EvalSymlinks(dir)
	realP, err2 := filepath.EvalSymlinks(p)
	if err := errors.Join(err1, err2); err != nil {
		return "", fmt.Errorf("cannot read template %s: %w", a.UserData, unwrapPathErr(err))
	}
	if r, err := filepath.Rel(realDir, realP); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s leads outside the config's directory (to %s): keep the template beside the config", a.UserData, realP)
	}
	return p, nil
}

// RenderUserData renders recover.app.user_data with ep: every value is
// shell-quoted for the place it lands in the script (see shellEscape), and
// the result must fit EC2's user-data limit. "" when there is no template.
func (c *Config) RenderUserData(ep Endpoints) (string, error) {
	return c.renderUserData(ep, nil)
}

// UserDataReads reports whether the template uses the value key (e.g.
// DBEndpointParameter): rendered without it, it fails naming it.
func (c *Config) UserDataReads(key string) bool {
	if c.Recover.App == nil || c.Recover.App.UserData == "" {
		return false
	}
	_, err := c.renderUserData(c.placeholderEndpoints(), []string{key})
	return err != nil && strings.Contains(err.Error(), key)
}

func (c *Config) renderUserData(ep Endpoints, omit []string) (string, error) {
	p, err := c.UserDataPath()
	if err != nil || p == "" {
		return "", err
	}
	src, err := readTemplate(p)
	if err != nil {
		return "", err
	}
	tmpl, err := parseUserData(c.Recover.App.UserData, string(src))
	if err != nil {
		return "", err
	}
	values := c.userDataValues(ep)
	for _, k := range omit {
		delete(values, k)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, values); err != nil {
		return "", err // text/template names the template, line and action
	}
	if n := b.Len(); n > UserDataMaxBytes {
		return "", fmt.Errorf("template %s renders to %d bytes; EC2 takes at most %d bytes of user-data (16 KB, %d base64-encoded)",
			c.Recover.App.UserData, n, UserDataMaxBytes, base64.StdEncoding.EncodedLen(UserDataMaxBytes))
	}
	return b.String(), nil
}

// userDataValues is the template's whole vocabulary; a name not in it is
// an error (missingkey=error), not a blank at boot.
func (c *Config) userDataValues(ep Endpoints) map[string]any {
	buckets := map[string]any{}
	bucket := ""
	for i, b := range c.Protect.Buckets {
		name := b.Name
		if name == "" {
			name = b.Source
		}
		buckets[name] = b.Replica
		if i == 0 {
			bucket = b.Replica
		}
	}
	vars := map[string]any{}
	if c.Recover.App != nil {
		for k, v := range c.Recover.App.Vars {
			vars[k] = v
		}
	}
	port := func(p int) any {
		if p == 0 {
			return "" // read at boot with the host, from the hand-off
		}
		return p
	}
	return map[string]any{
		"DBHost": ep.DBHost, "DBPort": port(ep.DBPort), "CacheHost": ep.CacheHost, "CachePort": port(ep.CachePort),
		"DBEndpointParameter": ep.DBParameter, "CacheEndpointParameter": ep.CacheParameter,
		"Region": ep.Region, "Stack": c.Stack, "Bucket": bucket, "Buckets": buckets, "Vars": vars,
	}
}

// placeholderEndpoints are as long as real ones can be, so that a
// template that fits at validate time fits at failover: an RDS endpoint
// is <identifier (63)>.<12>.<region>.rds.amazonaws.com[.cn], an
// ElastiCache one master.<group (40)>.<6>.<region>.cache.amazonaws.com[.cn].
func (c *Config) placeholderEndpoints() Endpoints {
	r := c.DR.Region
	return Endpoints{
		DBHost:    strings.Repeat("d", 63) + ".abcdefghijkl." + r + ".rds.amazonaws.com.cn",
		DBPort:    65535,
		CacheHost: "master." + strings.Repeat("c", 40) + ".abcdef." + r + ".cache.amazonaws.com.cn",
		CachePort: 65535,
		Region:    r,
		// The longest operation suffix the hand-off names use.
		DBParameter:    "/" + c.Stack + "/recovery/db-endpoint-failback",
		CacheParameter: "/" + c.Stack + "/recovery/cache-endpoint-failback",
	}
}

func readTemplate(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read template %s: %w", p, unwrapPathErr(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read template %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("template %s is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read template %s: %w", p, err)
	}
	if len(data) > maxTemplateBytes {
		return nil, fmt.Errorf("template %s is larger than %d KB", p, maxTemplateBytes>>10)
	}
	return data, nil
}

// Template functions. The escapers are added by parseUserData; a template
// may also call shellquote itself, or raw to opt a value out of quoting
// (for a value that is itself shell code, which the config's author then
// vouches for).
var userDataFuncs = template.FuncMap{
	"shellquote":      ShellQuote,
	"raw":             func(v any) string { return fmt.Sprint(v) },
	escSingle:         func(v any) string { return strings.ReplaceAll(fmt.Sprint(v), "'", `'\''`) },
	escDouble:         func(v any) string { return doubleQuoteEscaper.Replace(fmt.Sprint(v)) },
	escBare:           ShellQuote,
	escHeredoc:        escapeHeredoc,
	escHeredocLiteral: oneLine,
	escComment:        oneLine,
	escBacktick:       func(v any) string { return backtickEscaper.Replace(fmt.Sprint(v)) },
}

const (
	escSingle         = "_pilotlight_sh_single"
	escDouble         = "_pilotlight_sh_double"
	escBare           = "_pilotlight_sh_word"
	escHeredoc        = "_pilotlight_sh_heredoc"
	escHeredocLiteral = "_pilotlight_sh_heredoc_literal"
	escComment        = "_pilotlight_sh_comment"
	escBacktick       = "_pilotlight_sh_backtick"
)

var backtickEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "$", `\$`)

// ShellQuote makes v one shell word that is exactly v: v in single
// quotes, each single quote inside it closed, escaped and reopened.
func ShellQuote(v any) string {
	return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", `'\''`) + "'"
}

// Inside "...", these are special to the shell.
var doubleQuoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")

// In an unquoted here-document, $, ` and \ are special; a newline could
// end it early with a line equal to its delimiter.
func escapeHeredoc(v any) (string, error) {
	s, err := oneLine(v)
	if err != nil {
		return "", err
	}
	return strings.NewReplacer(`\`, `\\`, "$", `\$`, "`", "\\`").Replace(s), nil
}

func oneLine(v any) (string, error) {
	s := fmt.Sprint(v)
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("value %q has a line break, which would end the here-document or comment it is in", s)
	}
	return s, nil
}

// parseUserData parses the template and makes every value it prints
// shell-quoted for where it lands, as html/template does for HTML: each
// {{action}} gets an escaper for the shell context the text before it
// leaves open (unquoted word, '...', "...", a here-document, a comment).
// The context is followed through the top level and through if/range/with
// bodies in order; {{define}}d templates start unquoted.
func parseUserData(name, src string) (*template.Template, error) {
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(userDataFuncs).Parse(src)
	if err != nil {
		return nil, err // text/template names the template and line
	}
	if err := noRecursion(tmpl); err != nil {
		return nil, err
	}
	for _, t := range tmpl.Templates() {
		if t.Tree == nil || t.Tree.Root == nil {
			continue
		}
		e := &escaper{tree: t.Tree, wordStart: true}
		e.list(t.Tree.Root)
	}
	return tmpl, nil
}

type shellState int

const (
	stWord shellState = iota
	stSingle
	stDouble
	stComment
	stHeredoc
)

type escaper struct {
	tree  *parse.Tree
	state shellState
	// here-document being read: delimiter, whether quoted (literal), and
	// whether <<- (leading tabs stripped); pending ones start at the next
	// newline.
	hereDelim   string
	hereLiteral bool
	hereTabs    bool
	pending     []heredoc
	line        []byte // the current line inside a here-document
	wordStart   bool
	// subs are the command substitutions ($(...) or `...`) the text is
	// inside, innermost last, each with the state to return to.
	subs []substitution
}

type substitution struct {
	outer    shellState
	backtick bool
	parens   int // open ( inside this $( ... ), not yet closed
}

type heredoc struct {
	delim         string
	literal, tabs bool
}

func (e *escaper) list(l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			e.text(n.Text)
		case *parse.ActionNode:
			e.action(n)
		case *parse.IfNode:
			e.list(n.List)
			e.list(n.ElseList)
		case *parse.RangeNode:
			e.list(n.List)
			e.list(n.ElseList)
		case *parse.WithNode:
			e.list(n.List)
			e.list(n.ElseList)
		}
	}
}

func (e *escaper) action(a *parse.ActionNode) {
	if a.Pipe == nil || len(a.Pipe.Decl) > 0 || len(a.Pipe.Cmds) == 0 {
		return // an assignment prints nothing
	}
	last := a.Pipe.Cmds[len(a.Pipe.Cmds)-1]
	if id, ok := last.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "raw" || id.Ident == "shellquote" || strings.HasPrefix(id.Ident, "_pilotlight_sh_")) {
		return
	}
	fn := map[shellState]string{stWord: escBare, stSingle: escSingle, stDouble: escDouble, stComment: escComment, stHeredoc: escHeredoc}[e.state]
	if e.state == stHeredoc && e.hereLiteral {
		fn = escHeredocLiteral
	}
	e.appendCmd(a, fn)
	// Inside `...` the shell first takes one level of \ and ` away, then
	// parses what remains: escape once more per level.
	for _, sub := range e.subs {
		if sub.backtick {
			e.appendCmd(a, escBacktick)
		}
	}
	e.wordStart = false
}

func (e *escaper) appendCmd(a *parse.ActionNode, fn string) {
	id := parse.NewIdentifier(fn).SetTree(e.tree).SetPos(a.Pos)
	a.Pipe.Cmds = append(a.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: a.Pos, Args: []parse.Node{id}})
}

// text follows the shell's quoting through literal template text.
func (e *escaper) text(b []byte) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch e.state {
		case stHeredoc:
			if c != '\n' {
				e.line = append(e.line, c)
				continue
			}
			l := string(e.line)
			if e.hereTabs {
				l = strings.TrimLeft(l, "\t")
			}
			e.line = e.line[:0]
			if l == e.hereDelim {
				e.state = stWord
				e.nextHeredoc()
			}
		case stComment:
			if c == '\n' {
				e.state = stWord
				e.wordStart = true
				e.nextHeredoc()
			}
		case stSingle:
			if c == '\'' {
				e.state = stWord
			}
		case stDouble:
			switch {
			case c == '\\':
				i++
			case c == '"':
				e.state = stWord
			case c == '$' && i+1 < len(b) && b[i+1] == '(':
				e.enter(false)
				i++
			case c == '`':
				if !e.leave(true) {
					e.enter(true)
				}
			}
		case stWord:
			start := e.wordStart
			e.wordStart = c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')'
			switch {
			case c == '\\':
				i++
			case c == '$' && i+1 < len(b) && b[i+1] == '(':
				e.enter(false)
				i++
			case c == '`':
				if !e.leave(true) {
					e.enter(true)
				}
			case c == '(' && len(e.subs) > 0:
				e.subs[len(e.subs)-1].parens++
			case c == ')' && len(e.subs) > 0:
				if top := &e.subs[len(e.subs)-1]; top.parens > 0 {
					top.parens--
				} else {
					e.leave(false)
				}
			case c == '\'':
				e.state = stSingle
			case c == '"':
				e.state = stDouble
			case c == '#' && start:
				e.state = stComment
			case c == '<' && i+1 < len(b) && b[i+1] == '<' && (i+2 >= len(b) || b[i+2] != '<'):
				i = e.heredocStart(b, i+2)
			case c == '\n':
				e.nextHeredoc()
			}
		}
	}
}

// enter starts a command substitution: an unquoted context again, even
// inside "...".
func (e *escaper) enter(backtick bool) {
	e.subs = append(e.subs, substitution{outer: e.state, backtick: backtick})
	e.state = stWord
	e.wordStart = true
}

// leave ends the innermost command substitution if it is of the kind
// given, returning to the context around it.
func (e *escaper) leave(backtick bool) bool {
	n := len(e.subs)
	if n == 0 || e.subs[n-1].backtick != backtick {
		return false
	}
	e.state = e.subs[n-1].outer
	e.subs = e.subs[:n-1]
	return true
}

// heredocStart reads the delimiter after << (at b[i]) and queues the
// here-document for the next newline; it returns where to continue.
func (e *escaper) heredocStart(b []byte, i int) int {
	h := heredoc{}
	if i < len(b) && b[i] == '-' {
		h.tabs = true
		i++
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	var w strings.Builder
	for ; i < len(b); i++ {
		c := b[i]
		if c == '\'' || c == '"' || c == '\\' {
			h.literal = true
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == ')' || c == '<' || c == '>' {
			break
		}
		w.WriteByte(c)
	}
	if w.Len() > 0 {
		h.delim = w.String()
		e.pending = append(e.pending, h)
	}
	return i - 1
}

// nextHeredoc starts the first queued here-document after a newline.
func (e *escaper) nextHeredoc() {
	if len(e.pending) == 0 {
		return
	}
	h := e.pending[0]
	e.pending = e.pending[1:]
	e.state, e.hereDelim, e.hereLiteral, e.hereTabs = stHeredoc, h.delim, h.literal, h.tabs
	e.line = e.line[:0]
}

// noRecursion refuses a template that invokes itself: text/template would
// find out only after 100000 levels, a second of work and a cryptic error.
func noRecursion(tmpl *template.Template) error {
	calls := map[string][]string{}
	for _, t := range tmpl.Templates() {
		if t.Tree != nil {
			calls[t.Name()] = invoked(t.Tree.Root, nil)
		}
	}
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case open:
			return fmt.Errorf("template %q invokes itself (%s): it would never finish", name, strings.Join(append(path, name), " -> "))
		case done:
			return nil
		}
		state[name] = open
		for _, c := range calls[name] {
			if err := visit(c, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		return nil
	}
	names := make([]string, 0, len(calls))
	for name := range calls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := visit(name, nil); err != nil {
			return err
		}
	}
	return nil
}

// invoked lists the templates a tree invokes with {{template}}.
func invoked(n parse.Node, out []string) []string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				out = invoked(c, out)
			}
		}
	case *parse.TemplateNode:
		out = append(out, n.Name)
	case *parse.IfNode:
		out = invoked(n.List, invoked(n.ElseList, out))
	case *parse.RangeNode:
		out = invoked(n.List, invoked(n.ElseList, out))
	case *parse.WithNode:
		out = invoked(n.List, invoked(n.ElseList, out))
	}
	return out
}
