package discover

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/recovery"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// names lists what a discovery names, per kind, for exact comparison.
func names(d *Discovery) map[string][]string {
	out := map[string][]string{}
	if d.LoadBalancer != nil {
		out["lb"] = []string{d.LoadBalancer.Name}
	}
	for _, a := range d.Apps {
		out["app"] = append(out["app"], a.AutoScalingGroup)
	}
	for _, db := range d.Databases {
		out["db"] = append(out["db"], db.ID)
	}
	for _, c := range d.Caches {
		out["cache"] = append(out["cache"], c.ID)
	}
	for _, b := range d.Buckets {
		out["bucket"] = append(out["bucket"], b.Name)
	}
	for _, r := range d.Records {
		out["dns"] = append(out["dns"], r.Name)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

func (s *Stack) want() map[string][]string {
	b := []string{s.Bucket, s.PolicyBucket}
	sort.Strings(b)
	return map[string][]string{
		"lb": {s.LB}, "app": {s.ASG}, "db": {s.Cluster}, "cache": {s.Cache}, "bucket": b, "dns": {s.Record},
	}
}

func (s *Stack) unrelated() []string {
	return []string{s.OtherLB, s.OtherDB, s.OtherBucket, s.OtherCache, s.OtherInstance, s.OtherRecord, s.OtherVPC}
}

// renderAndLoad writes the rendered files to a directory and loads the
// config as `validate` does.
func renderAndLoad(t *testing.T, d *Discovery) (*spec.Config, string) {
	t.Helper()
	files, err := Render(d, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if files.UserData != nil {
		if err := os.WriteFile(filepath.Join(dir, files.UserDataName), files.UserData, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "pilotlight.yaml")
	if err := os.WriteFile(p, files.Config, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.Load(p)
	if err != nil {
		t.Fatalf("generated config does not validate: %v\n%s", err, files.Config)
	}
	return cfg, string(files.Config)
}

func TestDiscoverByVPC(t *testing.T) {
	for _, pair := range Pairs {
		t.Run(pair.Primary, func(t *testing.T) {
			t.Parallel()
			env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
			s := BuildStack(t, env, pair.Primary, BuildOptions{})
			d, err := Discover(ctxT(t), SimClients(env, pair.Primary), Options{Primary: pair.Primary, DR: pair.DR})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(d); !reflect.DeepEqual(got, s.want()) {
				t.Fatalf("discovered %v, want %v", got, s.want())
			}
			js, _ := json.Marshal(d)
			for _, u := range s.unrelated() {
				if strings.Contains(string(js), u) {
					t.Errorf("discovery names unrelated %s: %s", u, js)
				}
			}
			if d.Scope.By != "vpc" || d.Scope.VPC != s.VPC || d.Scope.CIDR != "10.0.0.0/16" || !strings.Contains(d.Scope.Why, "only one with auto scaling group shop-asg") {
				t.Errorf("scope %+v", d.Scope)
			}
			if d.Stack != "shop" || d.Partition != s.Partition {
				t.Errorf("stack %q partition %q", d.Stack, d.Partition)
			}
			a := d.Apps[0]
			if a.InstanceType != "t3.small" || a.KeyName != "shop-key" || len(a.SecurityGroups) != 1 || a.SecurityGroups[0].Name != "shop-app" ||
				a.Min != 1 || a.Desired != 2 || a.Max != 4 || a.HealthCheckPath != "/health" || !strings.Contains(a.UserData, s.ClusterEndpoint) {
				t.Errorf("app %+v", a)
			}
			if !reflect.DeepEqual(a.Image.Tag, map[string]string{"Role": "shop-web"}) {
				t.Errorf("image selector %+v", a.Image)
			}
			if db := d.Databases[0]; db.Kind != "cluster" || db.Class != "db.r5.large" || !reflect.DeepEqual(db.Members, []string{"shop-aurora-1"}) {
				t.Errorf("database %+v", db)
			}
			if c := d.Caches[0]; c.Engine != "redis" || c.NodeType != "cache.t3.micro" || c.Nodes != 1 || c.VPC != s.VPC {
				t.Errorf("cache %+v", c)
			}
			if r := d.Records[0]; r.Type != "alias" || r.Zone != s.Zone {
				t.Errorf("record %+v", r)
			}

			cfg, text := renderAndLoad(t, d)
			checkConfig(t, cfg, s)
			for _, want := range []string{"DECIDE: schedule", "DECIDE: retention", "dr_kms_key", "WARNING (static stability)", "What init could not decide", "Found: Aurora DB cluster"} {
				if !strings.Contains(text, want) {
					t.Errorf("config lacks %q:\n%s", want, text)
				}
			}
			// The failover plan builds on it without any config problem
			// (recovery points do not exist in a fresh account; the CLI
			// test runs `plan failover` itself).
			if err := recovery.CheckUserData(cfg); err != nil {
				t.Fatal(err)
			}
			if _, err := recovery.New(cfg, env, recovery.Options{}).Graph(); err != nil {
				t.Fatal(err)
			}
			ud, err := recovery.RenderUserData(cfg, recovery.Endpoints{DBHost: "db.dr", DBPort: 3306, CacheHost: "cache.dr", CachePort: 6379, Region: pair.DR})
			if err != nil {
				t.Fatal(err)
			}
			// Every value is shell-quoted where it lands (spec.RenderUserData).
			wantUD := "echo '{{ not a template }}' > /etc/motd\nDB_HOST='db.dr'\nREDIS_HOST='cache.dr'\ns3fs '" + cfg.Protect.Buckets[0].Replica + "'"
			if !strings.Contains(ud, wantUD) || strings.Contains(ud, pair.Primary) {
				t.Errorf("rendered user-data:\n%s\nwant it to contain:\n%s\nand no %s", ud, wantUD, pair.Primary)
			}
		})
	}
}

// checkConfig asserts the loaded config names exactly the stack.
func checkConfig(t *testing.T, cfg *spec.Config, s *Stack) {
	t.Helper()
	var dbs, images, buckets []string
	for _, d := range cfg.Protect.Databases {
		dbs = append(dbs, d.ID+"/"+d.Kind)
	}
	for _, im := range cfg.Protect.Images {
		images = append(images, im.Name)
		if !reflect.DeepEqual(im.Instance.Tag, map[string]string{"Role": "shop-web"}) || !*im.NoReboot {
			t.Errorf("image %+v", im)
		}
	}
	for _, b := range cfg.Protect.Buckets {
		buckets = append(buckets, b.Source)
		if !strings.HasSuffix(b.Replica, "-"+cfg.DR.Region) || !b.CreateReplica {
			t.Errorf("bucket %+v", b)
		}
	}
	sort.Strings(buckets)
	if !reflect.DeepEqual(dbs, []string{s.Cluster + "/cluster"}) || !reflect.DeepEqual(images, []string{s.ASG}) || !reflect.DeepEqual(buckets, s.want()["bucket"]) {
		t.Errorf("protect: dbs %v images %v buckets %v", dbs, images, buckets)
	}
	r := cfg.Recover
	if r.Database == nil || r.Database.From != s.Cluster || r.Database.Class != "db.r5.large" {
		t.Errorf("recover.database %+v", r.Database)
	}
	if r.Cache == nil || r.Cache.Engine != "redis" || r.Cache.NodeType != "cache.t3.micro" || r.Cache.Nodes != 1 {
		t.Errorf("recover.cache %+v", r.Cache)
	}
	if a := r.App; a == nil || a.ImageFrom != s.ASG || a.InstanceType != "t3.small" || a.Capacity != (spec.Capacity{Min: 1, Desired: 2, Max: 4}) ||
		a.UserData != DefaultUserDataName || a.LoadBalancer.Port != 80 || a.LoadBalancer.HealthCheckPath != "/health" || a.KeyName != "" {
		t.Errorf("recover.app %+v", r.App)
	}
	if d := r.DNS; d == nil || d.Mode != spec.DNSFailoverRecords || d.Zone != s.Zone || d.Record != s.Record || d.Type != "alias" || d.PrimaryTarget != s.LBDNS {
		t.Errorf("recover.dns %+v", r.DNS)
	}
	if r.Network.CIDR != "10.0.0.0/16" || r.Network.AZs != 2 {
		t.Errorf("recover.network %+v", r.Network)
	}
}

func TestDiscoverByTags(t *testing.T) {
	pair := Pairs[1]
	t.Parallel()
	env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
	// OtherApp: by tags, a second stack behind another load balancer is
	// no ambiguity.
	s := BuildStack(t, env, pair.Primary, BuildOptions{OtherApp: true})
	// Tags need no VPC, so moto's own ElastiCache answers do.
	d, err := Discover(ctxT(t), NewClients(env, pair.Primary), Options{Primary: pair.Primary, DR: pair.DR, Tags: map[string]string{"stack": "shop"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(d); !reflect.DeepEqual(got, s.want()) {
		t.Fatalf("discovered %v, want %v", got, s.want())
	}
	if d.Scope.By != "tags" || d.Stack != "shop" || !strings.Contains(d.StackFrom, "stack=shop") {
		t.Errorf("scope %+v stack %q from %q", d.Scope, d.Stack, d.StackFrom)
	}
	for _, b := range d.Buckets {
		if !strings.Contains(b.Found, "carries the tags stack=shop") {
			t.Errorf("bucket %+v", b)
		}
	}
	js, _ := json.Marshal(d)
	for _, u := range append(s.unrelated(), s.OtherASG) {
		if strings.Contains(string(js), u) {
			t.Errorf("discovery names unrelated %s", u)
		}
	}
	cfg, _ := renderAndLoad(t, d)
	checkConfig(t, cfg, s)
}

func TestTwoStacksAreNotGuessed(t *testing.T) {
	pair := Pairs[0]
	t.Parallel()
	env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
	s := BuildStack(t, env, pair.Primary, BuildOptions{OtherApp: true})
	c := SimClients(env, pair.Primary)
	_, err := Discover(ctxT(t), c, Options{Primary: pair.Primary, DR: pair.DR})
	var amb *AmbiguousError
	if !errors.As(err, &amb) || len(amb.Candidates) != 2 || !strings.Contains(err.Error(), "--tag") {
		t.Fatalf("want an AmbiguousError naming both load balancers, got %v", err)
	}
	// --stack matching one load balancer's name settles it.
	d, err := Discover(ctxT(t), c, Options{Primary: pair.Primary, DR: pair.DR, Stack: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(d); !reflect.DeepEqual(got, s.want()) || !strings.Contains(d.Scope.Why, `contains the stack name "shop"`) {
		t.Fatalf("discovered %v (%s), want %v", got, d.Scope.Why, s.want())
	}
}

func TestNothingToDiscover(t *testing.T) {
	for _, pair := range Pairs {
		t.Run(pair.Primary, func(t *testing.T) {
			t.Parallel()
			env := testenv.AWS(t, testenv.Shared(t).NewAccount(t).URL)
			_, err := Discover(ctxT(t), NewClients(env, pair.Primary), Options{Primary: pair.Primary, DR: pair.DR})
			if !errors.Is(err, ErrNothingFound) || !strings.Contains(err.Error(), pair.Primary) {
				t.Fatalf("want ErrNothingFound naming %s, got %v", pair.Primary, err)
			}
			_, err = Discover(ctxT(t), NewClients(env, pair.Primary), Options{Primary: pair.Primary, DR: pair.DR, Tags: map[string]string{"stack": "x"}})
			if !errors.Is(err, ErrNothingFound) || !strings.Contains(err.Error(), "stack=x") {
				t.Fatalf("want ErrNothingFound naming the tags, got %v", err)
			}
		})
	}
}

func TestDeadRegion(t *testing.T) {
	for _, pair := range Pairs {
		t.Run(pair.Primary, func(t *testing.T) {
			t.Parallel()
			p, err := testenv.NewProxy(testenv.Shared(t).NewAccount(t).URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			p.KillRegion(pair.Primary)
			env := testenv.AWS(t, p.URL)
			_, err = Discover(ctxT(t), NewClients(env, pair.Primary), Options{Primary: pair.Primary, DR: pair.DR})
			var re *RegionError
			if !errors.As(err, &re) || re.Region != pair.Primary || re.Denied || !strings.Contains(err.Error(), "cannot read "+pair.Primary) {
				t.Fatalf("want a RegionError for %s, got %v", pair.Primary, err)
			}
		})
	}
}

// TestReadOnly proves init changes nothing: through the recording proxy,
// every call discovery makes is a Describe, List or Get, and its IAM
// action is in Actions.
func TestReadOnly(t *testing.T) {
	pair := Pairs[0]
	t.Parallel()
	acct := testenv.Shared(t).NewAccount(t)
	BuildStack(t, testenv.AWS(t, acct.URL), pair.Primary, BuildOptions{})
	p, err := testenv.NewProxy(acct.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	env := testenv.AWS(t, p.URL)
	for _, tags := range []map[string]string{nil, {"stack": "shop"}} {
		if _, err := Discover(ctxT(t), NewClients(env, pair.Primary), Options{Primary: pair.Primary, DR: pair.DR, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	allowed := map[string]bool{}
	for _, a := range Actions() {
		allowed[a] = true
	}
	// The proxy names S3 calls by their HTTP shape: a bucket's ?tagging
	// GET is not told from a listing there.
	s3Names := map[string]string{"ListBuckets": "ListAllMyBuckets", "ListObjectsV2": "GetBucketTagging"}
	seen := map[string]bool{}
	for _, c := range p.Calls() {
		action := c.Action
		if c.Service == "s3" && s3Names[action] != "" {
			action = s3Names[action]
		}
		svc := c.Service
		if svc == "elasticloadbalancing" || svc == "autoscaling" || svc == "ec2" || svc == "rds" || svc == "elasticache" || svc == "s3" || svc == "iam" || svc == "route53" {
			seen[svc+":"+action] = true
		}
		if !(strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "List") || strings.HasPrefix(action, "Get")) {
			t.Errorf("init made a call that is not a read: %+v", c)
		}
		if !allowed[svc+":"+action] {
			t.Errorf("call %s:%s is not in Actions()", svc, action)
		}
	}
	if len(seen) < 20 {
		t.Errorf("only %d distinct actions recorded: %v", len(seen), seen)
	}
}

// TestActionsMatchClients keeps Actions equal to the client interfaces:
// a method added to an interface without its IAM action fails here.
func TestActionsMatchClients(t *testing.T) {
	prefix := map[string]string{"EC2": "ec2", "RDS": "rds", "Cache": "elasticache", "ELB": "elasticloadbalancing",
		"AutoScaling": "autoscaling", "S3": "s3", "IAM": "iam", "Route53": "route53"}
	iamName := map[string]string{"s3:ListBuckets": "s3:ListAllMyBuckets"}
	var got []string
	ct := reflect.TypeOf(Clients{})
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		if f.Type.Kind() != reflect.Interface {
			continue
		}
		svc, ok := prefix[f.Name]
		if !ok {
			t.Fatalf("no IAM prefix for client %s", f.Name)
		}
		for j := 0; j < f.Type.NumMethod(); j++ {
			m := f.Type.Method(j).Name
			if !(strings.HasPrefix(m, "Describe") || strings.HasPrefix(m, "List") || strings.HasPrefix(m, "Get")) {
				t.Errorf("%s.%s is not a read", f.Name, m)
			}
			a := svc + ":" + m
			if n, ok := iamName[a]; ok {
				a = n
			}
			got = append(got, a)
		}
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, Actions()) {
		t.Fatalf("client methods %v\n!= Actions() %v", got, Actions())
	}
}
