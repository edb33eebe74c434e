package spec

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const validBase = `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  databases:
    - id: wordpress-db
      every: 2h
      keep: { primary: 5, dr: 5 }
  images:
    - name: wordpress
      instance: { tag: { Role: wordpress } }
  buckets:
    - source: media-prod
      replica: media-dr
recover:
  database: { from: wordpress-db }
  app: { image_from: wordpress }
  dns: { mode: failover-records, zone: example.com, record: blog.example.com, primary_target: lb.example.com }
`

func TestExampleIsValid(t *testing.T) {
	cfg, err := Load("../../examples/wordpress/pilotlight.yaml")
	if err != nil {
		t.Fatalf("example invalid:\n%v", err)
	}
	if cfg.Recover.DNS.Mode != DNSFailoverRecords || cfg.Protect.Databases[0].Every.Interval.Hours() != 2 {
		t.Fatalf("unexpected decode: %+v", cfg.Recover.DNS)
	}
	if len(cfg.Warnings()) != 0 {
		t.Fatalf("failover-records should not warn: %v", cfg.Warnings())
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse("p.yaml", []byte(validBase))
	if err != nil {
		t.Fatal(err)
	}
	im := cfg.Protect.Images[0]
	if im.Reboot() || im.Keep.DR != 3 || im.Every.Interval.Hours() != 24 {
		t.Fatalf("image defaults: %+v", im)
	}
	if cfg.State.Path != ".pilotlight" || cfg.Protect.Buckets[0].Name != "media-prod" {
		t.Fatalf("defaults: %+v %+v", cfg.State, cfg.Protect.Buckets[0])
	}
	if cfg.Recover.Database.Identifier != "wordpress-wordpress-db-dr" || cfg.Recover.App.Capacity.Max != 4 {
		t.Fatalf("recover defaults: %+v %+v", cfg.Recover.Database, cfg.Recover.App)
	}
	if cfg.Protect.Databases[0].TargetRPO.D.Hours() != 4 {
		t.Fatalf("target rpo default: %v", cfg.Protect.Databases[0].TargetRPO)
	}
}

// Each rule: a mutation of the valid config and the field:why it must give.
func TestRules(t *testing.T) {
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown field", "stack: wordpress", "stack: wordpress\nstak: x", "stak: unknown field (did you mean stack?)"},
		{"unknown nested", "every: 2h", "every: 2h\n      keepp: 1", "protect.databases[0].keepp: unknown field"},
		{"unknown region", "region: cn-north-1 }", "region: cn-north-9 }", `dr.region: unknown region "cn-north-9"`},
		{"cross partition", "region: cn-north-1 }", "region: us-east-1 }", "dr.region: us-east-1 is in partition aws but primary cn-northwest-1 is in aws-cn"},
		{"same region", "region: cn-north-1 }", "region: cn-northwest-1 }", "dr.region: must differ from primary.region"},
		{"bad duration", "every: 2h", "every: 2 hours", `protect.databases[0].every: "2 hours": not a schedule`},
		{"bad rate", "every: 2h", "every: rate(2 hour)", "rate unit must be singular"},
		{"bad cron", "every: 2h", "every: cron(0 2 * * *)", "cron needs 6 fields"},
		{"keep zero", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 0 }", "protect.databases[0].keep.dr: must be >= 1"},
		{"duplicate name", "name: wordpress", "name: wordpress-db", `protect.images[0].name: name "wordpress-db" is already used by protect.databases[0].id`},
		{"bad rds id", "id: wordpress-db", "id: rds_snapshot_bej", "is not an RDS identifier"},
		{"dangling from", "database: { from: wordpress-db }", "database: { from: other-db }", `recover.database.from: "other-db" is not in protect.databases`},
		{"dangling image", "image_from: wordpress }", "image_from: nope }", `recover.app.image_from: "nope" is not in protect.images`},
		{"bad bucket", "replica: media-dr", "replica: Media_DR", `protect.buckets[0].replica: "Media_DR" is not a valid S3 bucket name`},
		{"same bucket", "replica: media-dr", "replica: media-prod", "protect.buckets[0].replica: must differ from source"},
		{"dns mode", "mode: failover-records", "mode: cname", `recover.dns.mode: must be upsert, failover-records or manual`},
		{"record outside zone", "record: blog.example.com", "record: blog.example.org", "is not inside zone"},
		{"missing stack", "stack: wordpress", "stack: ''", "stack: required"},
		{"both selectors", "instance: { tag: { Role: wordpress } }", "instance: { id: i-1, tag: { Role: wordpress } }", "give id or tag, not both"},
		{"wrong type", "keep: { primary: 5, dr: 5 }", "keep: { primary: five, dr: 5 }", `protect.databases[0].keep.primary: want a whole number, not "five"`},
		{"db port", "database: { from: wordpress-db }", "database: { from: wordpress-db, port: 70000 }", "recover.database.port: 70000 is not a TCP port (1-65535)"},
		{"db port negative", "database: { from: wordpress-db }", "database: { from: wordpress-db, port: -5 }", "recover.database.port: -5 is not a TCP port"},
		{"lb port zero", "image_from: wordpress }", "image_from: wordpress, load_balancer: { port: 0 } }", "recover.app.load_balancer.port: 0 is not a TCP port"},
		{"health check path", "image_from: wordpress }", "image_from: wordpress, load_balancer: { health_check_path: no-slash } }", `recover.app.load_balancer.health_check_path: "no-slash" must begin with /`},
		{"ami name characters", "name: wordpress", `name: 'x"><script>alert(1)</script>'`, "protect.images[0].name: \"x\\\"><script>"},
		{"ami name path", "name: wordpress", "name: ../../x", `protect.images[0].name: "../../x": use 1-63 letters`},
		{"bucket name", "- source: media-prod", "- name: '<img src=x>'\n      source: media-prod", `protect.buckets[0].name: "<img src=x>": use 1-63`},
		{"rds identifier length", "database: { from: wordpress-db }", "database: { from: wordpress-db, identifier: a" + strings.Repeat("b", 63) + " }", "recover.database.identifier: \"abbb"},
		{"parameter group", "database: { from: wordpress-db }", "database: { from: wordpress-db, parameter_group: my_params }", `recover.database.parameter_group: "my_params" is not an RDS parameter group name`},
		{"alb internal-", "stack: wordpress", "stack: internal-wp", "stack: must not begin with internal-"},
		{"empty tag key", "instance: { tag: { Role: wordpress } }", "instance: { tag: { '': '' } }", `protect.images[0].instance.tag: tag key "" must be 1-128 characters`},
		{"vpc and cidr", "recover:\n", "recover:\n  network: { vpc: { id: vpc-1 }, cidr: 10.9.0.0/16 }\n", "recover.network.cidr: describes the network prepare builds"},
		{"kms key other region", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5 }\n      dr_kms_key: arn:aws:kms:us-east-1:111122223333:key/k", `protect.databases[0].dr_kms_key: "arn:aws:kms:us-east-1:111122223333:key/k" is in us-east-1, but the copies it encrypts are made in the DR region cn-north-1`},
		{"kms key other partition", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5 }\n      dr_kms_key: arn:aws:kms:cn-north-1:111122223333:key/k", "names partition aws, but cn-north-1 is in aws-cn"},
		{"vault lock wrong engine", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5, max_age: 30d }\n      vault_lock: { min_retention: 7d }", `protect.databases[0].vault_lock: applies to the aws-backup and auto engines; engine is ""`},
		{"vault lock max below min", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5, max_age: 30d }\n      engine: aws-backup\n      vault_lock: { min_retention: 7d, max_retention: 3d }", "protect.databases[0].vault_lock.max_retention: 3d is shorter than min_retention 7d"},
		{"vault lock outlives keep", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5, max_age: 3d }\n      engine: auto\n      vault_lock: { min_retention: 7d }", "protect.databases[0].vault_lock.min_retention: 7d is longer than keep.max_age 3d"},
		{"vault lock max without lifecycle", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5 }\n      engine: auto\n      vault_lock: { max_retention: 90d }", "protect.databases[0].vault_lock.max_retention: 90d: keep.max_age must be set"},
		{"vault lock without max_age", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5 }\n      engine: auto\n      vault_lock: { min_retention: 7d }", "protect.databases[0].vault_lock.min_retention: 7d needs keep.max_age of at least as long"},
		{"vault lock hours", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5, max_age: 30d }\n      engine: auto\n      vault_lock: { min_retention: 36h }", "AWS Backup counts retention in whole days"},
		{"vault lock compliance soon", "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5, max_age: 30d }\n      engine: auto\n      vault_lock: { min_retention: 7d, compliance_after: 1d }", "at least 3d before a lock becomes immutable"},
		{"state lock without s3", "stack: wordpress", "stack: wordpress\nstate: { lock_table: t }", "state.lock_table: a lock table goes with an s3:// state path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(validBase, c.from, c.to, 1)
			if src == validBase {
				t.Fatalf("mutation %q did not apply", c.from)
			}
			_, err := Parse("p.yaml", []byte(src))
			ps, ok := AsProblems(err)
			if !ok || len(ps) == 0 {
				t.Fatalf("no problems for %s (err=%v)", c.name, err)
			}
			if !strings.Contains(ps.Error(), c.want) {
				t.Fatalf("want %q in:\n%s", c.want, ps.Error())
			}
			for _, p := range ps {
				if p.Line == 0 {
					t.Errorf("problem without line: %s", p)
				}
			}
		})
	}
}

func TestVaultLockAccepted(t *testing.T) {
	src := strings.Replace(validBase, "keep: { primary: 5, dr: 5 }", "keep: { primary: 5, dr: 5, max_age: 30d }\n      engine: aws-backup\n      vault_lock: { min_retention: 7d, max_retention: 90d, compliance_after: 3d }", 1)
	c, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Protect.Databases[0].VaultLock
	if l == nil || l.MinRetention.D != 7*24*time.Hour || l.MaxRetention.D != 90*24*time.Hour {
		t.Fatalf("vault_lock = %+v", l)
	}
}

func TestFiveMistakesFiveLines(t *testing.T) {
	src := `stack: wordpress
primary: { region: cn-northwest-1 }
dr: { region: cn-north-1 }
protect:
  databases:
    - id: wordpress-db
      every: sometimes
      keep: { primary: 5, dr: 0 }
  images:
    - name: wordpress-db
      instance: { id: i-1 }
recover:
  database: { from: missing }
  dns: { mode: bogus, zone: example.com, record: a.example.com }
`
	_, err := Parse("pilotlight.yaml", []byte(src))
	ps, _ := AsProblems(err)
	want := []string{
		"pilotlight.yaml:7: protect.databases[0].every:",
		"pilotlight.yaml:8: protect.databases[0].keep.dr: must be >= 1",
		"pilotlight.yaml:10: protect.images[0].name:",
		"pilotlight.yaml:13: recover.database.from:",
		"pilotlight.yaml:14: recover.dns.mode:",
	}
	if len(ps) != len(want) {
		t.Fatalf("want %d problems, got %d:\n%s", len(want), len(ps), ps.Error())
	}
	for i, w := range want {
		if !strings.HasPrefix(ps[i].String(), w) {
			t.Errorf("problem %d: want prefix %q, got %q", i, w, ps[i])
		}
	}
}

func TestUpsertWarnsWhenRoute53HomeIsPrimary(t *testing.T) {
	src := strings.Replace(validBase, "mode: failover-records", "mode: upsert", 1)
	cfg, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "cn-northwest-1") || !strings.Contains(w[0], "failover-records") {
		t.Fatalf("warning: %v", w)
	}
	// cn-north-1 primary: Route 53 lives in cn-northwest-1, the DR side.
	src = strings.NewReplacer("region: cn-northwest-1", "region: X", "region: cn-north-1", "region: cn-northwest-1").Replace(src)
	src = strings.Replace(src, "region: X", "region: cn-north-1", 1)
	cfg, err = Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings()) != 0 {
		t.Fatalf("no warning expected: %v", cfg.Warnings())
	}
}

func TestUserDataFileResolvedBesideConfig(t *testing.T) {
	dir := t.TempDir()
	src := strings.Replace(validBase, "image_from: wordpress }", "image_from: wordpress, user_data: ud.tmpl }", 1)
	p := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "recover.app.user_data") {
		t.Fatalf("missing template not reported: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ud.tmpl"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatal(err)
	}
}

func TestScheduleExpressions(t *testing.T) {
	for raw, want := range map[string]string{
		"2h": "rate(2 hours)", "24h": "rate(1 day)", "90m": "rate(90 minutes)",
		"rate(5 minutes)": "rate(5 minutes)", "cron(0 */2 * * ? *)": "cron(0 */2 * * ? *)",
	} {
		s, err := ParseSchedule(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if s.Expression() != want {
			t.Errorf("%s: got %s want %s", raw, s.Expression(), want)
		}
	}
}

// FuzzParse: whatever the bytes, Parse gives either Problems, each placed
// on a line of the input, or a config that, written back out, parses to
// itself (valid again, defaults already applied).
func FuzzParse(f *testing.F) {
	boundMinimization()
	f.Add([]byte(validBase))
	f.Add([]byte("stack: [\n"))
	f.Add([]byte("protect: { databases: [ { keep: { dr: -1 } } ] }"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("recover: { app: { capacity: { min: 3, max: 1 } } }"))
	f.Add([]byte(""))
	f.Add([]byte(validBase + "---\nstack: evil\n"))
	f.Add([]byte(strings.Replace(validBase, "stack: wordpress", "stack: wordpress\nstack: x", 1)))
	f.Add([]byte(strings.Replace(validBase, "every: 2h", "every: cron(99 99 99 99 ? 99)", 1)))
	data, _ := os.ReadFile("../../examples/wordpress/pilotlight.yaml")
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse("f.yaml", b)
		if err != nil {
			ps, ok := AsProblems(err)
			if !ok || len(ps) == 0 {
				t.Fatalf("error is not a list of problems: %v", err)
			}
			// YAML breaks lines at LF, CR and CRLF.
			lines := strings.Count(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(b)), "\n") + 1
			for _, p := range ps {
				if p.Line < 1 || p.Line > lines || p.File != "f.yaml" || p.Why == "" {
					t.Fatalf("problem not placed on one of the input's %d lines: %+v", lines, p)
				}
			}
			return
		}
		if cfg == nil {
			t.Fatal("nil config without error")
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("valid config does not marshal: %v", err)
		}
		again, err := Parse("f.yaml", out)
		if err != nil {
			t.Fatalf("valid config does not re-validate:\n%v\n--- written back:\n%s", err, out)
		}
		if out2, _ := yaml.Marshal(again); !bytes.Equal(out, out2) {
			t.Fatalf("re-parsed config differs:\n%s\n---\n%s", out, out2)
		}
	})
}

// boundMinimization caps how long `go test -fuzz` minimizes each new input
// at 5 s unless -test.fuzzminimizetime is given: with the default 60 s,
// FuzzParse spent most of a run minimizing, at 0 execs/s (L11). The
// testing package reads the flag when f.Fuzz starts, after this runs.
func boundMinimization() {
	set := false
	flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == "test.fuzzminimizetime" })
	if !set {
		_ = flag.Set("test.fuzzminimizetime", "5s")
	}
}

func TestSelectOnly(t *testing.T) {
	c := &Config{File: "p.yaml", Protect: Protect{
		Databases: []Database{{ID: "db1"}}, Images: []Image{{Name: "web"}}, Buckets: []Bucket{{Name: "media"}},
	}}
	got, err := c.Select(nil, KindPoints)
	if err != nil || strings.Join(got, ",") != "db1,web" {
		t.Fatalf("all points: %v %v", got, err)
	}
	got, err = c.Select([]string{"web", "db1", "web"}, KindPoints)
	if err != nil || strings.Join(got, ",") != "web,db1" {
		t.Fatalf("named once each in order: %v %v", got, err)
	}
	_, err = c.Select([]string{"media", "nope"}, KindPoints)
	if err == nil || !strings.Contains(err.Error(), "media, nope") || !strings.Contains(err.Error(), "p.yaml") || !strings.Contains(err.Error(), "have db1, web") {
		t.Fatalf("unknown names: %v", err)
	}
	if got, err := c.Select([]string{"media"}, KindBuckets); err != nil || got[0] != "media" {
		t.Fatalf("bucket: %v %v", got, err)
	}
}

// L11: fuzzing FuzzParse does not stall in minimization: unless the
// command line says otherwise, each new input gets at most 5 s.
func TestFuzzMinimizationIsBounded(t *testing.T) {
	boundMinimization()
	fl := flag.Lookup("test.fuzzminimizetime")
	if fl == nil {
		t.Fatal("no -test.fuzzminimizetime flag")
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == fl.Name })
	if !set && fl.Value.String() != "5s" {
		t.Fatalf("minimization time %s", fl.Value)
	}
}
