package spec

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// withTemplate writes the valid config with an app whose user-data is
// userData (a path) and vars, plus the files given, and loads it.
func withTemplate(t *testing.T, userData string, vars map[string]string, files map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	app := "image_from: wordpress, user_data: '" + userData + "'"
	if len(vars) > 0 {
		var b strings.Builder
		for k, v := range vars {
			b.WriteString(k + ": \"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + "\", ")
		}
		app += ", vars: { " + strings.TrimSuffix(b.String(), ", ") + " }"
	}
	src := strings.Replace(validBase, "image_from: wordpress }", app+" }", 1)
	p := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

// L5: a value cannot break out of its place in the boot script, whatever
// quoting the template put around it. bash runs the rendered script and
// must print the value back unchanged from every context.
func TestUserDataValuesAreShellQuoted(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	const tmpl = `#!/bin/bash
# a comment, isn't it: {{ .Vars.note }}
A='{{ .Vars.v }}'
B="{{ .Vars.v }}"
C={{ .Vars.v }}
printf '%s\n' "$A" "$B" "$C"
cat <<EOF
{{ .Vars.v }}
EOF
cat <<-'END'
	{{ .Vars.v }}
	END
printf '%s\n' {{ .Vars.v }}
D="$(printf '%s' {{ .Vars.v }})"
E=` + "`printf '%s' {{ .Vars.v }}`" + `
F="$(printf '%s' "{{ .Vars.v }}")"
printf '%s\n' "$D" "$E" "$F" {{ raw "ok" }}
`
	v := `it's "x" $HOME $(touch pwned) ` + "`touch pwned`" + ` \ ; touch pwned #`
	cfg, err := withTemplate(t, "ud.tmpl", map[string]string{"v": v, "note": "fine; touch pwned"}, map[string]string{"ud.tmpl": tmpl})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.RenderUserData(Endpoints{DBHost: "db", DBPort: 3306, CacheHost: "c", CachePort: 6379, Region: "cn-north-1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bash, "-c", out)
	cmd.Dir = dir
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s\nscript:\n%s", err, got, out)
	}
	want := strings.Repeat(v+"\n", 9) + "ok\n"
	if string(got) != want {
		t.Fatalf("bash printed:\n%s\nwant:\n%s\nscript:\n%s", got, want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("a value ran a command")
	}
}

func TestUserDataLineBreakInHeredocIsRefused(t *testing.T) {
	_, err := withTemplate(t, "ud.tmpl", map[string]string{"v": "a\nEOF\ntouch pwned"},
		map[string]string{"ud.tmpl": "cat <<EOF\n{{ .Vars.v }}\nEOF\n"})
	if err == nil || !strings.Contains(err.Error(), "line break") {
		t.Fatalf("want a line-break problem, got %v", err)
	}
}

// M4: the template is rendered at validate time, as failover will render
// it: template errors and unknown names, and EC2's 16 KB limit.
func TestUserDataRenderedAtValidate(t *testing.T) {
	cases := []struct{ name, tmpl, want string }{
		{"unknown name", "X={{ .Nope }}\n", `map has no entry for key "Nope"`},
		{"unknown var", "X={{ .Vars.nope }}\n", `map has no entry for key "nope"`},
		{"recursion", `{{define "a"}}x{{template "b"}}{{end}}{{define "b"}}{{if 1}}{{template "a"}}{{end}}{{end}}{{template "a"}}`, `template "a" invokes itself (a -> b -> a)`},
		{"unclosed", "X={{ .DBHost \n", "template: ud.tmpl:2: unclosed action"},
		{"over 16 KB", strings.Repeat("#", UserDataMaxBytes) + "\n", "renders to 16384 bytes; EC2 takes at most 16383"},
		{"long endpoints count", strings.Repeat("#", UserDataMaxBytes-40) + "\n{{ .DBHost }}\n", "EC2 takes at most 16383"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := withTemplate(t, "ud.tmpl", nil, map[string]string{"ud.tmpl": c.tmpl})
			ps, ok := AsProblems(err)
			if !ok || len(ps) != 1 || ps[0].Field != "recover.app.user_data" || ps[0].Line != 17 || !strings.Contains(ps[0].Why, c.want) {
				t.Fatalf("want p.yaml:17: recover.app.user_data: ...%s, got %v", c.want, err)
			}
		})
	}
	if _, err := withTemplate(t, "ud.tmpl", nil, map[string]string{"ud.tmpl": strings.Repeat("#", UserDataMaxBytes-1) + "\n"}); err != nil {
		t.Fatalf("16383 bytes refused: %v", err)
	}
}

// L5: user_data is a file beside the config, not any file on the machine.
func TestUserDataPathStaysBesideConfig(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{"../../../../etc/shadow", "outside the config's directory"},
		{"/etc/hostname", "outside the config's directory"},
		{"sub", "not a regular file"},
		{"missing.tmpl", "cannot read template"},
	} {
		_, err := withTemplate(t, c.path, nil, map[string]string{"sub/x": "", "ok.tmpl": "x"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", c.path, c.want, err)
		}
	}
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link.tmpl")); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{File: filepath.Join(dir, "p.yaml"), Recover: Recover{App: &App{UserData: "link.tmpl"}}}
	if _, err := cfg.RenderUserData(cfg.placeholderEndpoints()); err == nil || !strings.Contains(err.Error(), "leads outside the config's directory") {
		t.Errorf("symlink out: %v", err)
	}
	if _, err := withTemplate(t, "./sub/../ok.tmpl", nil, map[string]string{"sub/x": "", "ok.tmpl": "x"}); err != nil {
		t.Fatalf("a path inside refused: %v", err)
	}
}

// The example's template puts every value in '...': quoting changes
// nothing for plain values.
func TestExampleTemplateRendersAsBefore(t *testing.T) {
	cfg, err := Load("../../examples/wordpress/pilotlight.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.RenderUserData(Endpoints{DBHost: "db.example", DBPort: 3306, CacheHost: "cache.example", CachePort: 6379, Region: "cn-north-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"DB_HOST='db.example'\n", "DB_PORT='3306'\n", "REGION='cn-north-1'\n", "CACHE_PORT='6379'\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("missing %q", line)
		}
	}
}
