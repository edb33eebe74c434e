package discover

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// sample is a discovery as the moto tests produce it, for the pure tests
// of rendering.
func sample(primary, dr string) *Discovery {
	return &Discovery{
		Stack: "shop", StackFrom: "load balancer shop-alb", Primary: primary, DR: dr, Partition: "aws",
		Scope:        Scope{By: "vpc", VPC: "vpc-1", CIDR: "10.0.0.0/16", Why: "the VPC of load balancer shop-alb"},
		LoadBalancer: &LoadBalancer{Name: "shop-alb", DNSName: "shop-alb-1." + primary + ".elb.amazonaws.com", Listeners: []Listener{{Port: 80, Protocol: "HTTP"}}},
		Apps: []App{{
			AutoScalingGroup: "shop-asg", Min: 1, Desired: 2, Max: 4, InstanceType: "t3.small", KeyName: "k",
			UserData:        "#!/bin/sh\nDB=db1.abc." + primary + ".rds.amazonaws.com\nB=shop-media\n",
			HealthCheckPath: "/health", TargetGroup: "shop-tg",
			Image: ImageChoice{Tag: map[string]string{"Role": "web"}, Why: "tag"}, Found: "behind shop-alb",
		}},
		Databases: []Database{{ID: "db1", Kind: "instance", Engine: "mysql", Class: "db.t3.medium", Port: 3306,
			Endpoints: []string{"db1.abc." + primary + ".rds.amazonaws.com"}, Encrypted: true, KMSKey: "arn:key", Found: "RDS DB instance"}},
		Caches:  []Cache{{ID: "c1", Kind: "replication-group", Engine: "redis", NodeType: "cache.t3.micro", Nodes: 1, Found: "group"}},
		Buckets: []Bucket{{Name: "shop-media", Found: "named in the user-data"}},
		Records: []Record{{Zone: "example.com", Name: "www.example.com", Type: "alias", Found: "alias"}},
	}
}

func load(t *testing.T, d *Discovery) (*spec.Config, string, Files) {
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
	cfg, err := spec.Parse(filepath.Join(dir, "pilotlight.yaml"), files.Config)
	if err != nil {
		t.Fatalf("does not validate: %v\n%s", err, files.Config)
	}
	return cfg, strings.Join(strings.Fields(strings.ReplaceAll(string(files.Config), "#", "")), " "), files
}

func TestRender(t *testing.T) {
	cases := []struct {
		name    string
		primary string
		dr      string
		edit    func(d *Discovery)
		check   func(t *testing.T, cfg *spec.Config, text string, f Files)
	}{
		{"route53 home is the primary", "us-east-1", "us-west-2", nil, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			must := []string{"WARNING (static stability): Route 53's control plane lives in us-east-1",
				"IAM's control plane lives in us-east-1", "db1 is encrypted (KMS key arn:key)", "dr_kms_key: alias/<a key in us-west-2>",
				"key_name: k", "DECIDE: failover-records (static, recommended here)"}
			for _, m := range must {
				if !strings.Contains(text, m) {
					t.Errorf("lacks %q", m)
				}
			}
			if cfg.Recover.DNS.Mode != spec.DNSFailoverRecords || len(cfg.Warnings()) != 0 {
				t.Errorf("dns %+v warnings %v", cfg.Recover.DNS, cfg.Warnings())
			}
			if !strings.Contains(strings.Join(f.Undecided, "\n"), "db1 is encrypted") {
				t.Errorf("undecided %v", f.Undecided)
			}
			if string(f.UserData) != "#!/bin/sh\nDB={{ .DBHost }}\nB={{ .Bucket }}\n" {
				t.Errorf("template %q", f.UserData)
			}
		}},
		{"route53 home elsewhere", "us-east-2", "us-west-2", nil, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if strings.Contains(text, "WARNING") || strings.Contains(text, "IAM's control plane") || !strings.Contains(text, "upsert (change the record at failover) also works here") {
				t.Errorf("%s", text)
			}
		}},
		{"china, IAM home is the primary", "cn-north-1", "cn-northwest-1", nil, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if strings.Contains(text, "WARNING") || !strings.Contains(text, "IAM's control plane lives in cn-north-1") {
				t.Errorf("%s", text)
			}
		}},
		{"no dns record", "us-east-1", "us-west-2", func(d *Discovery) { d.Records = nil }, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if cfg.Recover.DNS != nil || !strings.Contains(text, "no Route 53 record points at load balancer shop-alb") {
				t.Errorf("dns %+v", cfg.Recover.DNS)
			}
		}},
		{"only a database", "us-east-1", "us-west-2", func(d *Discovery) {
			d.LoadBalancer, d.Apps, d.Caches, d.Buckets, d.Records = nil, nil, nil, nil, nil
		}, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if cfg.Recover.App != nil || cfg.Recover.Database == nil || f.UserData != nil {
				t.Errorf("recover %+v", cfg.Recover)
			}
		}},
		{"instance id selector", "us-east-1", "us-west-2", func(d *Discovery) {
			d.Apps[0].Image = ImageChoice{ID: "i-1", Why: "no tag selects them alone"}
		}, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if cfg.Protect.Images[0].Instance.ID != "i-1" || !strings.Contains(text, "DECIDE: no tag selects them alone") {
				t.Errorf("images %+v", cfg.Protect.Images)
			}
		}},
		{"no instance to image", "us-east-1", "us-west-2", func(d *Discovery) {
			d.Apps[0].Image = ImageChoice{Why: "no running instance"}
		}, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if len(cfg.Protect.Images) != 0 || cfg.Recover.App != nil || cfg.Recover.DNS != nil || !strings.Contains(text, "no running instance; it is not protected") {
				t.Errorf("images %+v app %+v", cfg.Protect.Images, cfg.Recover.App)
			}
		}},
		{"the database the app names is recovered", "us-east-1", "us-west-2", func(d *Discovery) {
			d.Databases = append([]Database{{ID: "aaa", Kind: "instance", Found: "x"}}, d.Databases...)
		}, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if cfg.Recover.Database.From != "db1" || len(cfg.Protect.Databases) != 2 || !strings.Contains(text, "recover.database restores db1 only") {
				t.Errorf("database %+v", cfg.Recover.Database)
			}
		}},
		{"names are one namespace", "us-east-1", "us-west-2", func(d *Discovery) {
			d.Apps[0].AutoScalingGroup = "db1"
			d.Buckets = append(d.Buckets, Bucket{Name: "db1-image", Found: "x"})
		}, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if cfg.Protect.Images[0].Name != "db1-image" || cfg.Recover.App.ImageFrom != "db1-image" || cfg.Protect.Buckets[1].Name != "db1-image-bucket" {
				t.Errorf("images %+v buckets %+v", cfg.Protect.Images, cfg.Protect.Buckets)
			}
		}},
		{"a CIDR prepare cannot build", "us-east-1", "us-west-2", func(d *Discovery) { d.Scope.CIDR = "10.0.0.0/24" }, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if cfg.Recover.Network.CIDR != "10.1.0.0/16" || !strings.Contains(text, "10.0.0.0/24 is outside") {
				t.Errorf("network %+v", cfg.Recover.Network)
			}
		}},
		{"https only", "us-east-1", "us-west-2", func(d *Discovery) {
			d.LoadBalancer.Listeners = []Listener{{Port: 443, Protocol: "HTTPS"}}
		}, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if cfg.Recover.App.LoadBalancer.Port != 80 || !strings.Contains(text, "listens on HTTPS") {
				t.Errorf("lb %+v", cfg.Recover.App.LoadBalancer)
			}
		}},
		{"http on 8080, no user-data, capacity zero", "us-east-1", "us-west-2", func(d *Discovery) {
			d.LoadBalancer.Listeners = []Listener{{Port: 8080, Protocol: "HTTP"}}
			d.Apps[0].UserData = ""
			d.Apps[0].Min, d.Apps[0].Desired, d.Apps[0].Max = 0, 0, 0
		}, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			a := cfg.Recover.App
			if a.LoadBalancer.Port != 8080 || a.UserData != "" || f.UserData != nil || a.Capacity != (spec.Capacity{Min: 1, Desired: 1, Max: 1}) {
				t.Errorf("app %+v", a)
			}
		}},
		{"stack given", "us-east-1", "us-west-2", func(d *Discovery) { d.StackFrom = "" }, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if strings.Contains(text, "stack: shop DECIDE") {
				t.Errorf("a given stack name is not a decision left")
			}
		}},
		{"private zone with a routing policy", "us-east-1", "us-west-2", func(d *Discovery) {
			d.Records[0].Private, d.Records[0].Routing = true, "blue"
		}, func(t *testing.T, cfg *spec.Config, text string, f Files) {
			if !strings.Contains(text, "private hosted zone") || !strings.Contains(text, "set identifier blue") {
				t.Errorf("%v", f.Undecided)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := sample(c.primary, c.dr)
			if c.edit != nil {
				c.edit(d)
			}
			cfg, text, f := load(t, d)
			c.check(t, cfg, text, f)
		})
	}
}

func TestUserDataTemplate(t *testing.T) {
	subs := []templateSubst{
		{value: "db.abc.us-east-1.rds.amazonaws.com", action: "{{ .DBHost }}", what: "db"},
		{value: "media", action: "{{ .Bucket }}", what: "bucket"},
		{value: "us-east-1", action: "{{ .Region }}", what: "region"},
	}
	cases := []struct{ in, want string }{
		{"DB=DB.ABC.us-east-1.rds.amazonaws.com:3306", "DB={{ .DBHost }}:3306"},
		{"s3://media/x media-old premedia media.s3.us-east-1.amazonaws.com", "s3://{{ .Bucket }}/x media-old premedia {{ .Bucket }}.s3.{{ .Region }}.amazonaws.com"},
		{"us-east-11 us-east-1a --region us-east-1", "us-east-11 us-east-1a --region {{ .Region }}"},
		{"{{ x }} }} {{", `{{"{"}}{ x }} }} {{"{"}}{`},
		{"${A}{media}", `${A}{{"{"}}{{ .Bucket }}}`},
		{"{}}", "{}}"},
		{"", ""},
	}
	for _, c := range cases {
		got, _ := userDataTemplate(c.in, append([]templateSubst{}, subs...))
		if got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// FuzzUserDataTemplate: whatever the user-data, the template parses and,
// rendered with the values it replaced, gives the user-data back (up to
// the case of replaced DNS names).
func FuzzUserDataTemplate(f *testing.F) {
	for _, s := range []string{"DB=db.example:3306 {{ .X }}", "}}{{", "media/media.media", "{{\"{{\"}}", "{}}", "{media{{{db.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		subs := []templateSubst{
			{value: "db.example", action: "{{ .DBHost }}"},
			{value: "media", action: "{{ .Bucket }}"},
			{value: "us-east-1", action: "{{ .Region }}"},
		}
		out, _ := userDataTemplate(src, subs)
		tmpl, err := template.New("t").Option("missingkey=error").Parse(out)
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", src, out, err)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, map[string]any{"DBHost": "db.example", "Bucket": "media", "Region": "us-east-1"}); err != nil {
			t.Fatalf("%q -> %q: %v", src, out, err)
		}
		if !strings.EqualFold(b.String(), src) {
			t.Fatalf("%q -> %q renders %q", src, out, b.String())
		}
	})
}

func TestMentions(t *testing.T) {
	cases := []struct {
		text, bucket string
		want         bool
	}{
		{"s3fs media /mnt", "media", true},
		{"BUCKET=media\n", "media", true},
		{"https://media.s3.us-east-1.amazonaws.com/x", "media", true},
		{"https://media.s3-us-west-2.amazonaws.com/x", "media", true},
		{"mediaold media-old old-media my.media media.example.com", "media", false},
		{"s3://other-media/x then s3://media", "media", true},
	}
	for _, c := range cases {
		if got := mentions(c.text, c.bucket); got != c.want {
			t.Errorf("mentions(%q, %q) = %v", c.text, c.bucket, got)
		}
	}
}

func TestS3Patterns(t *testing.T) {
	cases := []struct {
		doc  string
		want []string
		all  bool
	}{
		{`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::media/*"}}`, []string{"media"}, false},
		{`{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws-cn:s3:::a","arn:aws-cn:s3:::a/*","arn:aws-cn:s3:::logs-*"]}]}`, []string{"a", "logs-*"}, false},
		{`{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::x"},{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:::y"}]}`, nil, false},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, nil, true},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::*"}]}`, nil, true},
		{`%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Amedia%2F%2A%22%7D%5D%7D`, []string{"media"}, false},
		{`not json`, nil, false},
	}
	for _, c := range cases {
		got, all := s3Patterns(c.doc)
		if strings.Join(got, ",") != strings.Join(c.want, ",") || all != c.all {
			t.Errorf("%s: got %v %v, want %v %v", c.doc, got, all, c.want, c.all)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"Shop-ALB": "shop", "my_app-prod-lb": "my-app-prod", "123-web": "web", "db": "db", "---": "",
		strings.Repeat("a", 40): strings.Repeat("a", 31), "wp.example.com": "wp-example-com",
	} {
		if got := sanitizeStack(in); got != want {
			t.Errorf("sanitizeStack(%q) = %q, want %q", in, got, want)
		}
	}
	if got := replicaName(strings.Repeat("b", 60), "cn-northwest-1"); len(got) > 63 || !strings.HasSuffix(got, "-cn-northwest-1") {
		t.Errorf("replicaName: %q", got)
	}
	if normDNS("DualStack.Shop-ALB-1.us-east-1.elb.amazonaws.com.") != "shop-alb-1.us-east-1.elb.amazonaws.com" {
		t.Error("normDNS")
	}
	if got := unescapeName(`\052.example.com.`); got != "*.example.com." {
		t.Errorf("unescapeName: %q", got)
	}
	if got := unescapeName(`a\05`); got != `a\05` {
		t.Errorf("unescapeName of a short escape: %q", got)
	}
	if CheckStackName("shop") != nil || CheckStackName("Shop") == nil {
		t.Error("CheckStackName")
	}
}

// TestRenderSaysWhatItCannotCarry: a custom DB parameter group is named
// with what to do (the DR copy gets the default otherwise); a cache whose
// endpoint init could not read leaves a DECIDE line and no literal host of
// the primary's cache in the template.
func TestRenderSaysWhatItCannotCarry(t *testing.T) {
	d := sample("us-east-1", "us-west-2")
	d.Databases[0].ParameterGroup = "shop-mysql8"
	host := "c1.abc123.ng.0001.use1.cache.amazonaws.com"
	d.Apps[0].UserData += "REDIS=" + host + ":6379\n"
	cfg, text, files := load(t, d)
	if !strings.Contains(text, "DECIDE: db1 uses the custom parameter group shop-mysql8") || !strings.Contains(text, "parameter_group: shop-mysql8") {
		t.Errorf("parameter group not mentioned:\n%s", files.Config)
	}
	if cfg.Recover.Database == nil || cfg.Recover.Database.ParameterGroup != "" {
		t.Errorf("the group, which does not exist in the DR region, was set: %+v", cfg.Recover.Database)
	}
	ud := string(files.UserData)
	if strings.Contains(ud, host) || !strings.Contains(ud, "REDIS={{ .CacheHost }}:6379") {
		t.Errorf("template keeps the primary's cache host:\n%s", ud)
	}
	if !strings.Contains(text, "DECIDE: the endpoint of cache c1 could not be read; "+host+" in the user-data looks like one and became {{ .CacheHost }}") {
		t.Errorf("no DECIDE line for the cache:\n%s", files.Config)
	}

	// No cache host in the user-data: the DECIDE line says where to put it.
	d = sample("us-east-1", "us-west-2")
	_, text, files = load(t, d)
	if !strings.Contains(text, "DECIDE: the endpoint of cache c1 could not be read, so nothing in the user-data became {{ .CacheHost }}") {
		t.Errorf("no DECIDE line for the cache:\n%s", files.Config)
	}
	// A cache with its endpoint read needs no such line.
	d.Caches[0].Endpoints = []string{host}
	if _, text, _ = load(t, d); strings.Contains(text, "could not be read") {
		t.Errorf("DECIDE line for a cache whose endpoint was read")
	}
}
