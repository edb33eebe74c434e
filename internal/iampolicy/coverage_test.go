package iampolicy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// op is one AWS API operation some package's SDK interface declares.
type op struct{ pkg, service, name string }

// sdkOps parses the non-test Go files under dir (its sub-packages too, so
// a package split into folders is still read whole) and returns every method of
// every interface whose request parameter is *<sdk service>.<Op>Input: the
// "small interfaces over SDK clients" each package declares are exactly the
// operations it can call.
func sdkOps(t *testing.T, dir string) []op {
	t.Helper()
	fset := token.NewFileSet()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []op
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		alias := map[string]string{}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			const sdk = "github.com/aws/aws-sdk-go-v2/service/"
			if !strings.HasPrefix(path, sdk) || strings.Contains(strings.TrimPrefix(path, sdk), "/") {
				continue
			}
			svc := strings.TrimPrefix(path, sdk)
			name := svc
			if imp.Name != nil {
				name = imp.Name.Name
			}
			alias[name] = svc
		}
		ast.Inspect(file, func(n ast.Node) bool {
			it, ok := n.(*ast.InterfaceType)
			if !ok {
				return true
			}
			for _, m := range it.Methods.List {
				ft, ok := m.Type.(*ast.FuncType)
				if !ok || len(m.Names) == 0 {
					continue
				}
				for _, p := range ft.Params.List {
					star, ok := p.Type.(*ast.StarExpr)
					if !ok {
						continue
					}
					sel, ok := star.X.(*ast.SelectorExpr)
					if !ok {
						continue
					}
					id, ok := sel.X.(*ast.Ident)
					if !ok || alias[id.Name] == "" || sel.Sel.Name != m.Names[0].Name+"Input" {
						continue
					}
					out = append(out, op{pkg: filepath.Base(dir), service: alias[id.Name], name: m.Names[0].Name})
				}
			}
			return true
		})
	}
	return out
}

// implied are actions the policy grants that no SDK interface declares:
// AWS checks them behind another call. Anything else granted beyond the
// declared operations fails TestNothingBeyond.
var implied = map[string]string{
	"rds:AddTagsToResource":               "CreateDBSnapshot/CopyDBSnapshot/Restore*/Create* with Tags",
	"ec2:CreateTags":                      "creates with TagSpecifications",
	"ec2:RunInstances":                    "the auto scaling group launches with the caller's rights to the launch template",
	"iam:PassRole":                        "PutBucketReplication, the app's instance profile, CreateFunction, CreateSchedule",
	"iam:TagRole":                         "CreateRole with Tags",
	"iam:TagInstanceProfile":              "CreateInstanceProfile with Tags",
	"kms:CreateGrant":                     "RDS and EC2 encrypted copies use the DR key on the caller's behalf",
	"kms:Decrypt":                         "encrypted AMI copies and SSE-KMS object copies",
	"kms:ReEncrypt*":                      "encrypted AMI copies",
	"kms:GenerateDataKeyWithoutPlaintext": "encrypted AMI copies",
	"kms:GenerateDataKey":                 "SSE-KMS object copies into the replica",
	"kms:Encrypt":                         "SSE-KMS object copies into the replica",
	"elasticache:AddTagsToResource":       "creates with Tags",
	"elasticloadbalancing:AddTags":        "creates with Tags",
	"autoscaling:CreateOrUpdateTags":      "CreateAutoScalingGroup with Tags",
	"route53:ChangeTagsForResource":       "health checks are tagged for teardown",
	"s3:PutObjectTagging":                 "CopyObject keeps the source's tags",
	"s3:GetObjectTagging":                 "CopyObject keeps the source's tags",
	"s3:AbortMultipartUpload":             "a failed multipart copy is aborted",
	"lambda:TagResource":                  "CreateFunction with Tags",
	"cloudwatch:TagResource":              "PutMetricAlarm with Tags (deploy's alarms, the failover pin)",
	"sns:TagResource":                     "CreateTopic with Tags",
	"ssm:AddTagsToResource":               "PutParameter with Tags",
	"s3:GetObjectRetention":               "HeadObject returns a locked object's retention only to holders of it",
	"s3:GetObjectLegalHold":               "HeadObject returns a locked object's legal hold only to holders of it",
}

// packageVerbs says which verbs' policies must cover a package's calls.
var packageVerbs = map[string][]string{
	"points":    {Backup, Prepare}, // prepare makes the aws-backup engine's vaults and role
	"s3sync":    {Replicate, Prepare, Failover},
	"recovery":  {Prepare, Failover},
	"state":     {Backup}, // the state grants come with every verb
	"deploy":    {Deploy},
	"discover":  {Init},
	"readiness": {Prepare, Failover}, // status reads the rule prepare set up, and the DR network
	"cost":      {Backup, Replicate}, // cost measures points and replicas
	"serve":     {Backup, Replicate}, // the scheduled cycles
	"secrets":   {Backup, Failover},  // backup copies, failover checks the DR copies
}

// packageDir is where pkg lives; a package that is gone (renamed, moved)
// fails the test rather than silently leaving its calls unchecked.
func packageDir(t *testing.T, pkg string) string {
	t.Helper()
	dir := filepath.Join("..", pkg)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("package %s is in packageVerbs but %s is missing: update packageVerbs (%v)", pkg, dir, err)
	}
	return dir
}

// coverageConfig is the example stack with every feature that adds
// grants: remote state, an Aurora cluster, a KMS key.
func coverageConfig(t *testing.T) *spec.Config {
	t.Helper()
	cfg := exampleConfig(t)
	cfg.State.Path = "s3://wordpress-dr-state/pilotlight"
	// The cluster copies with AWS Backup (auto), as the China regions need.
	cfg.Protect.Databases = append(cfg.Protect.Databases, spec.Database{ID: "wordpress-aurora", Kind: "cluster", DRKMSKey: "alias/dr",
		Engine: "auto", BackupRole: "arn:aws-cn:iam::123456789012:role/wordpress-backup"})
	// The ledger is on AWS Backup with the account's default role, which
	// prepare makes, and a locked DR vault.
	cfg.Protect.Databases = append(cfg.Protect.Databases, spec.Database{ID: "wordpress-ledger", Engine: "aws-backup",
		VaultLock: &spec.VaultLock{MinRetention: spec.Duration{Raw: "7d", D: 7 * 24 * time.Hour}}})
	// The app's image is copied with a customer managed DR key, whose
	// policy prepare completes for the Auto Scaling service-linked role.
	cfg.Protect.Images[0].DRKMSKey = "alias/dr-ami"
	return cfg
}

func TestEveryDeclaredCallIsGranted(t *testing.T) {
	cfg := coverageConfig(t)
	seen := 0
	for pkg, verbs := range packageVerbs {
		dir := packageDir(t, pkg)
		doc, err := For(cfg, "123456789012", verbs...)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range sdkOps(t, dir) {
			seen++
			for _, a := range Required(o.service, o.name) {
				if !doc.Allows(a) {
					t.Errorf("%s calls %s.%s, which needs %s: not granted by --for %s", o.pkg, o.service, o.name, a, strings.Join(verbs, ","))
				}
				covered := false
				for _, v := range verbs {
					d, _ := For(cfg, "123456789012", v)
					covered = covered || CoveredByEvaluator(d, v, a)
				}
				if !covered {
					t.Errorf("%s calls %s.%s (%s), which the evaluator test never evaluates with its resources under --for %s: add the call to ownCalls",
						o.pkg, o.service, o.name, a, strings.Join(verbs, ","))
				}
			}
		}
	}
	if seen < 50 {
		t.Fatalf("only %d SDK operations found: is the parser still finding the interfaces?", seen)
	}
}

func TestNothingBeyond(t *testing.T) {
	cfg := coverageConfig(t)
	declared := map[string]bool{}
	for pkg := range packageVerbs {
		for _, o := range sdkOps(t, packageDir(t, pkg)) {
			for _, a := range Required(o.service, o.name) {
				declared[a] = true
			}
		}
	}
	vs, _ := ParseVerbs("all")
	doc, err := For(cfg, "123456789012", vs...)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, a := range doc.Actions() {
		if !declared[a] {
			if _, ok := implied[a]; !ok {
				extra = append(extra, a)
			}
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Fatalf("granted but never called nor implied by a call: %v", extra)
	}
}
