package wordpress

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// endpoints look like what a recovery in cn-north-1 renders the template
// with (moto's are fake, so these are shaped as AWS's).
var endpoints = recovery.Endpoints{
	DBHost:    "wordpress-wordpress-db-dr.c9akciq32.rds.cn-north-1.amazonaws.com.cn",
	DBPort:    3306,
	CacheHost: "wordpress-cache.abc123.ng.0001.cnn1.cache.amazonaws.com.cn",
	CachePort: 6379,
	Region:    "cn-north-1",
}

// handoff is what a failover renders the template with: the app boots
// beside the restore, so only the SSM parameters are known.
var handoff = recovery.Endpoints{
	Region:         "cn-north-1",
	DBParameter:    "/wordpress/recovery/db-endpoint",
	CacheParameter: "/wordpress/recovery/cache-endpoint",
}

func render(t *testing.T) string { return renderWith(t, endpoints) }

func renderWith(t *testing.T, ep recovery.Endpoints) string {
	t.Helper()
	cfg, err := spec.Load(ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := recovery.RenderUserData(cfg, ep)
	if err != nil {
		t.Fatal(err)
	}
	return ud
}

// TestUserDataRenders checks that every value the script needs reaches it,
// and that none is left as template text.
func TestUserDataRenders(t *testing.T) {
	ud := render(t)
	for _, want := range []string{
		"REGION='cn-north-1'", "DB_HOST='" + endpoints.DBHost + "'", "DB_PORT='3306'",
		"DB_NAME='demo'", "DB_USER='wordpress'", "DB_PASSWORD_PARAMETER='/wordpress/db-password'",
		"CACHE_HOST='" + endpoints.CacheHost + "'", "CACHE_PORT='6379'",
		"MEDIA_BUCKET='wordpress-media-dr'", "SITE_URL='http://blog.example.com'",
		"WORDPRESS_TARBALL='https://wordpress.org/latest.tar.gz'",
		"iam_role=auto", "fuse.s3fs",
	} {
		if !strings.Contains(ud, want) {
			t.Errorf("rendered user-data lacks %q", want)
		}
	}
	if strings.Contains(ud, "{{") || strings.Contains(ud, "<no value>") {
		t.Error("rendered user-data still holds template text")
	}
	// The password is read at boot, never rendered in.
	if !strings.Contains(ud, "aws ssm get-parameter") {
		t.Error("user-data does not read the DB password from SSM Parameter Store")
	}
}

// TestUserDataReadsEndpointsAtBoot renders the template as a failover
// does, before the database exists: the script must read both endpoints
// from the SSM parameters of its own region, and wait for them.
func TestUserDataReadsEndpointsAtBoot(t *testing.T) {
	ud := renderWith(t, handoff)
	for _, want := range []string{
		"REGION='cn-north-1'", "DB_HOST=''", "DB_PORT=''",
		"DB_ENDPOINT_PARAMETER='/wordpress/recovery/db-endpoint'",
		"CACHE_ENDPOINT_PARAMETER='/wordpress/recovery/cache-endpoint'",
		`aws ssm get-parameter --region "$REGION" --name "$1"`,
	} {
		if !strings.Contains(ud, want) {
			t.Errorf("rendered user-data lacks %q", want)
		}
	}
	// Boot work that needs no database comes before the wait for it.
	main := ud[strings.LastIndex(ud, "main() {"):]
	if i, j := strings.Index(main, "install_wordpress"), strings.Index(main, "resolve_endpoints"); i < 0 || j < 0 || i > j {
		t.Errorf("main does not install WordPress before waiting for the endpoints:\n%s", main)
	}
}

// TestUserDataResolvesEndpoints runs the script's own functions under bash
// with a fake aws CLI: the parameter appears on the third read (as it does
// while the restore runs), and the script takes host and port from it.
func TestUserDataResolvesEndpoints(t *testing.T) {
	ud := renderWith(t, handoff)
	funcs := ud[:strings.LastIndex(ud, "main() {")]
	funcs = strings.Replace(funcs, "exec > >(tee -a /var/log/wordpress-user-data.log) 2>&1", "", 1)
	dir := t.TempDir()
	fake := `#!/bin/bash
n=$(cat "$STATE" 2>/dev/null || echo 0); echo $((n + 1)) >"$STATE"
case "$*" in
  *db-endpoint*) [ "$n" -ge 2 ] && echo 'db.abc.cn-north-1.rds.amazonaws.com.cn:3306' && exit 0 ;;
  *cache-endpoint*) echo 'cache.abc.cnn1.cache.amazonaws.com.cn:6379'; exit 0 ;;
esac
echo 'ParameterNotFound' >&2; exit 254
`
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(fake), 0o700); err != nil {
		t.Fatal(err)
	}
	// sleep is stubbed: the backoff is the script's, the waiting is not the test's.
	script := funcs + "\nsleep() { :; }\nresolve_endpoints\necho \"$DB_HOST|$DB_PORT|$CACHE_HOST|$CACHE_PORT\"\n"
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "STATE="+filepath.Join(dir, "n"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("resolve_endpoints: %v\n%s", err, out)
	}
	want := "db.abc.cn-north-1.rds.amazonaws.com.cn|3306|cache.abc.cnn1.cache.amazonaws.com.cn|6379"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("resolved %q, want %q", got, want)
	}
}

// TestUserDataShellcheck runs shellcheck on the rendered script, as the
// demo's production and as a failover render it, with no exclusions.
func TestUserDataShellcheck(t *testing.T) {
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not on PATH (Debian: apt-get install -y shellcheck); the rendered user-data was not linted")
	}
	for name, ep := range map[string]recovery.Endpoints{"endpoints": endpoints, "handoff": handoff} {
		path := filepath.Join(t.TempDir(), "user-data.sh")
		if err := os.WriteFile(path, []byte(renderWith(t, ep)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "--shell=bash", "--severity=style", path).CombinedOutput()
		if err != nil {
			t.Fatalf("shellcheck (%s): %v\n%s", name, err, out)
		}
	}
}

// TestEmbeddedFilesMatch guards the embed: the demo must run exactly the
// files a user reads in this directory.
func TestEmbeddedFilesMatch(t *testing.T) {
	for _, name := range []string{ConfigFile, UserDataFile} {
		disk, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		emb, err := Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(disk) != string(emb) {
			t.Errorf("embedded %s differs from the file", name)
		}
	}
}
