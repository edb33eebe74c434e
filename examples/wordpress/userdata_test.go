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

func render(t *testing.T) string {
	t.Helper()
	cfg, err := spec.Load(ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := recovery.RenderUserData(cfg, endpoints)
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

// TestUserDataShellcheck runs shellcheck on the rendered script, with no
// exclusions.
func TestUserDataShellcheck(t *testing.T) {
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not on PATH (Debian: apt-get install -y shellcheck); the rendered user-data was not linted")
	}
	path := filepath.Join(t.TempDir(), "user-data.sh")
	if err := os.WriteFile(path, []byte(render(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--shell=bash", "--severity=style", path).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
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
