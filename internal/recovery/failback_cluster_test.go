package recovery

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

// TestAuroraFailback: an Aurora stack fails over and back. The cluster
// comes home from a cluster snapshot taken after the freeze began (moto
// holds no rows, so "no write before the freeze is lost" is asserted on
// the snapshot the primary's cluster is restored from: the recorded calls
// show it created after the DR app was scaled to zero, and the restore
// naming it, not the first copy). The new cluster and its writer serve in
// the primary, the DR cluster is gone, the config change names the new
// cluster (and still says it is a cluster), and the report lists the old
// one as old production.
func TestAuroraFailback(t *testing.T) {
	moto := testenv.Shared(t)
	for _, c := range []struct {
		primary, dr string
		encrypted   bool
	}{
		{"us-east-1", "us-west-2", false},
		{"cn-north-1", "cn-northwest-1", false},
		{"us-west-2", "us-east-1", true},
	} {
		t.Run(c.primary+"/encrypted="+strconv.FormatBool(c.encrypted), func(t *testing.T) {
			t.Parallel()
			proxy, err := testenv.NewProxy(moto.NewAccount(t).URL, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(proxy.Close)
			rec := recordRDS(t, proxy.URL)
			env := testenv.AWS(t, rec.URL)
			cfg := auroraConfig(t, c.primary, c.dr)
			ctx := ctxTimeout(t)
			if c.encrypted {
				cfg = encryptAurora(t, env, cfg)
			}
			seedAuroraProduction(t, env, cfg)
			if _, err := Prepare(ctx, cfg, env); err != nil {
				t.Fatal(err)
			}
			store := openStore(t, cfg)
			g, _ := New(cfg, env, Options{Wait: fastWait}).Graph()
			if _, err := run(t, ctx, store, cfg, g, KindFailover); err != nil {
				t.Fatalf("failover of an Aurora stack: %v", err)
			}
			drCluster := newNames(cfg, "").db()
			if cl := clusterIn(t, env, cfg.DR.Region, drCluster); cl == nil || aws.ToBool(cl.StorageEncrypted) != c.encrypted {
				t.Fatalf("failover restored no cluster %s in %s (encrypted: %v): %+v", drCluster, cfg.DR.Region, c.encrypted, cl)
			}

			// The freeze is held so that the test can see which RDS calls
			// were made before users were stopped.
			freeze := proxy.HoldFirst(testenv.Match{Region: cfg.DR.Region, Service: "autoscaling", Action: "UpdateAutoScalingGroup"})
			beforeFreeze := -1
			go func() {
				select {
				case <-freeze.Reached():
				case <-ctx.Done():
					return
				}
				beforeFreeze = len(rec.calls())
				freeze.Release()
			}()
			f := NewFailback(cfg, env, Options{Wait: fastWait})
			fg, err := f.Graph()
			if err != nil {
				t.Fatal(err)
			}
			j, err := run(t, ctx, store, cfg, fg, KindFailback)
			if err != nil {
				t.Fatalf("failback of an Aurora stack: %v", err)
			}
			if beforeFreeze < 0 {
				t.Fatal("the DR app was never frozen")
			}
			out := outputsOf(j)
			first, final := out[StepCatchUpDB]["snapshot"], out[StepFinalDB]["snapshot"]
			if out[StepCatchUpDB]["mode"] != "snapshot" || first == "" || final == "" || first == final {
				t.Fatalf("catch-up %v, final %v: want a first cluster snapshot and a distinct last one", out[StepCatchUpDB], out[StepFinalDB])
			}
			for _, id := range []string{first, final} {
				if len(id) > 63 {
					t.Fatalf("cluster snapshot id %s is longer than RDS's 63", id)
				}
			}
			calls := rec.calls()
			snapAt := func(id string) int {
				return slices.IndexFunc(calls, func(c rdsCall) bool {
					return c.Region == cfg.DR.Region && c.Action == "CreateDBClusterSnapshot" && c.Params["DBClusterSnapshotIdentifier"] == id
				})
			}
			if i := snapAt(first); i < 0 || i >= beforeFreeze {
				t.Fatalf("first cluster snapshot %s at call %d, want before the freeze (call %d)", first, i, beforeFreeze)
			}
			if i := snapAt(final); i < beforeFreeze {
				t.Fatalf("last cluster snapshot %s at call %d, want after the freeze began (call %d): writes made until the freeze would be lost", final, i, beforeFreeze)
			}
			home := f.home.n.db()
			restores := slices.DeleteFunc(slices.Clone(calls), func(c rdsCall) bool {
				return c.Region != cfg.Primary.Region || c.Action != "RestoreDBClusterFromSnapshot"
			})
			if len(restores) != 1 || restores[0].Params["SnapshotIdentifier"] != final || restores[0].Params["DBClusterIdentifier"] != home {
				t.Fatalf("restores in %s: %+v, want one of cluster %s from the last snapshot %s", cfg.Primary.Region, restores, home, final)
			}
			if cl := clusterIn(t, env, cfg.Primary.Region, home); cl == nil || aws.ToString(cl.Status) != "available" || len(cl.DBClusterMembers) != 1 {
				t.Fatalf("no serving cluster %s with its writer in %s: %+v", home, cfg.Primary.Region, cl)
			}
			if c.encrypted {
				// Both copies home are encrypted with the primary's key: a
				// KMS key never leaves its region. The first is gone by now
				// (failback drops it): its copy call says.
				for _, c := range calls {
					if c.Region == cfg.Primary.Region && c.Action == "CopyDBClusterSnapshot" && c.Params["KmsKeyId"] != cfg.Recover.Database.FailbackKMSKey {
						t.Fatalf("copy of %s with key %q, want the failback key %s", c.Params["TargetDBClusterSnapshotIdentifier"], c.Params["KmsKeyId"], cfg.Recover.Database.FailbackKMSKey)
					}
				}
				for _, id := range []string{final} {
					s, err := rds.NewFromConfig(env.For(cfg.Primary.Region)).DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id)})
					if err != nil || len(s.DBClusterSnapshots) != 1 {
						t.Fatalf("copy %s in %s: %v", id, cfg.Primary.Region, err)
					}
					if got := s.DBClusterSnapshots[0]; !aws.ToBool(got.StorageEncrypted) || aws.ToString(got.KmsKeyId) != cfg.Recover.Database.FailbackKMSKey {
						t.Fatalf("copy %s encrypted=%v with %q, want the failback key %s", id, aws.ToBool(got.StorageEncrypted), aws.ToString(got.KmsKeyId), cfg.Recover.Database.FailbackKMSKey)
					}
				}
			}
			if cl := clusterIn(t, env, cfg.DR.Region, drCluster); cl != nil && aws.ToString(cl.Status) != "deleting" {
				t.Fatalf("the DR cluster %s is still there after failback: %s", drCluster, aws.ToString(cl.Status))
			}

			// What the snapshot path leaves: the last copy home (the
			// restore's source), nothing in DR.
			manual := func(region string) []string {
				out, err := rds.NewFromConfig(env.For(region)).DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, s := range out.DBClusterSnapshots {
					if id := aws.ToString(s.DBClusterSnapshotIdentifier); id == first || id == final {
						ids = append(ids, id)
					}
				}
				return ids
			}
			if got := manual(cfg.DR.Region); len(got) != 0 {
				t.Fatalf("failback left its snapshots %v in %s", got, cfg.DR.Region)
			}
			if got := manual(cfg.Primary.Region); !slices.Equal(got, []string{final}) {
				t.Fatalf("failback's snapshots in %s: %v, want only the last copy %s", cfg.Primary.Region, got, final)
			}
			sum := f.BuildReport(j).Failback
			if !slices.Contains(sum.OldProduction, Resource{Type: "rds-cluster", ID: "shop-db"}) {
				t.Fatalf("report does not list the old cluster: %v", sum.OldProduction)
			}
			if !slices.Contains(sum.Production, Resource{Type: "rds-cluster", ID: home}) {
				t.Fatalf("report does not name the new cluster as production: %v", sum.Production)
			}
			if !slices.Contains(sum.AfterFreeze, "database: last snapshot "+final+" copied back and restored") {
				t.Fatalf("report does not say the last snapshot came after the freeze: %v", sum.AfterFreeze)
			}
			if !slices.ContainsFunc(sum.Notes, func(n string) bool { return strings.Contains(n, "in full") && strings.Contains(n, final) }) {
				t.Fatalf("report does not say the freeze held a full cluster snapshot copy: %v", sum.Notes)
			}
			// --write-config: the edited file protects and recovers the new
			// cluster, as a cluster.
			after, edited := applyConfigChanges(t, cfg, sum.ConfigChanges)
			if pd, ok := after.Database(home); !ok || !pd.IsCluster() || after.Recover.Database.From != home {
				t.Fatalf("the written config does not protect cluster %s as a cluster:\n%s", home, edited)
			}
			// What protect does next runs against the cluster that serves.
			if _, err := points.Backup(ctx, env, after, points.BackupOptions{Only: []string{home}}); err != nil {
				t.Fatalf("protect after failback: %v", err)
			}
		})
	}
}

// auroraConfig is testConfig with the database an Aurora cluster.
func auroraConfig(t testing.TB, primary, dr string) *spec.Config {
	t.Helper()
	cfg := testConfig(t, primary, dr, spec.DNSUpsert)
	raw, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(raw), "{ id: shop-db,", "{ id: shop-db, kind: cluster,", 1)
	src = strings.Replace(src, "class: db.t3.medium", "class: db.r6g.large", 1)
	if err := os.WriteFile(cfg.File, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = spec.Load(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	if pd, ok := cfg.Database("shop-db"); !ok || !pd.IsCluster() {
		t.Fatalf("shop-db is not a cluster in\n%s", src)
	}
	return cfg
}

// encryptAurora gives cfg's cluster a key in each region: the DR copies'
// (protect.databases dr_kms_key) and failback's (failback_kms_key); the
// production cluster seedAuroraProduction makes is then encrypted.
func encryptAurora(t testing.TB, env *awsenv.Env, cfg *spec.Config) *spec.Config {
	t.Helper()
	key := func(region string) string {
		k, err := kms.NewFromConfig(env.For(region)).CreateKey(context.Background(), &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.Arn)
	}
	raw, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(raw), "{ id: shop-db, kind: cluster,", "{ id: shop-db, kind: cluster, dr_kms_key: "+key(cfg.DR.Region)+",", 1)
	src = strings.Replace(src, "database: { from: shop-db,", "database: { from: shop-db, failback_kms_key: "+key(cfg.Primary.Region)+",", 1)
	if err := os.WriteFile(cfg.File, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := spec.Load(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	if pd, _ := out.Database("shop-db"); pd.DRKMSKey == "" || out.Recover.Database.FailbackKMSKey == "" {
		t.Fatalf("no keys in\n%s", src)
	}
	return out
}

// seedAuroraProduction is seedProduction with an Aurora cluster (and its
// writer) as the production database.
func seedAuroraProduction(t testing.TB, env *awsenv.Env, cfg *spec.Config) {
	t.Helper()
	ctx := context.Background()
	p := env.For(cfg.Primary.Region)
	db := rds.NewFromConfig(p)
	in := &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String("shop-db"), Engine: aws.String("aurora-mysql"),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"),
	}
	if pd, _ := cfg.Database("shop-db"); pd.DRKMSKey != "" {
		k, err := kms.NewFromConfig(p).CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		in.StorageEncrypted, in.KmsKeyId = aws.Bool(true), k.KeyMetadata.Arn
	}
	if _, err := db.CreateDBCluster(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("shop-db-1"), DBClusterIdentifier: aws.String("shop-db"), Engine: aws.String("aurora-mysql"),
		DBInstanceClass: aws.String("db.r6g.large"),
	}); err != nil {
		t.Fatal(err)
	}
	seedWebZoneAndBackup(t, ctx, env, cfg)
}

func clusterIn(t testing.TB, env *awsenv.Env, region, id string) *rdstypes.DBCluster {
	t.Helper()
	cl, err := describeCluster(context.Background(), databaseClients{region: region, rds: rds.NewFromConfig(env.For(region))}, id)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// rdsCall is one RDS request with its parameters, in the order sent.
type rdsCall struct {
	Region, Action string
	Params         map[string]string
}

type rdsRecorder struct {
	URL string
	mu  sync.Mutex
	got []rdsCall
}

func (r *rdsRecorder) calls() []rdsCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

var credentialRegion = regexp.MustCompile(`Credential=[^/]+/[0-9]+/([a-z0-9-]+)/rds/`)

// recordRDS serves endpoint and records every RDS query-protocol request
// with its form: testenv's proxy records actions, not their parameters,
// and which snapshot a restore names is what the test is about.
func recordRDS(t testing.TB, endpoint string) *rdsRecorder {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rec := &rdsRecorder{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := credentialRegion.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			form, _ := url.ParseQuery(string(b))
			c := rdsCall{Region: m[1], Action: form.Get("Action"), Params: map[string]string{}}
			for k, v := range form {
				c.Params[k] = v[0]
			}
			rec.mu.Lock()
			rec.got = append(rec.got, c)
			rec.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// TestFailbackRefusesATakenName: when the config still names an older
// generation (its config change was not applied), the next failback's
// database name may be taken by the production an earlier failback built.
// Failback refuses before it snapshots or freezes anything, and says why,
// instead of adopting that database or failing after users were stopped.
func TestFailbackRefusesATakenName(t *testing.T) {
	moto := testenv.Shared(t)
	for _, cluster := range []bool{false, true} {
		t.Run("cluster="+strconv.FormatBool(cluster), func(t *testing.T) {
			t.Parallel()
			env := testenv.AWS(t, moto.NewAccount(t).URL)
			cfg := testConfig(t, "us-east-1", "us-west-2", spec.DNSUpsert)
			engine := "sqlserver-ex"
			if cluster {
				cfg, engine = auroraConfig(t, "us-east-1", "us-west-2"), "aurora-mysql"
			}
			ctx := ctxTimeout(t)
			dr, home := rds.NewFromConfig(env.For(cfg.DR.Region)), rds.NewFromConfig(env.For(cfg.Primary.Region))
			if cluster {
				if _, err := dr.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String(newNames(cfg, "").db()), Engine: aws.String(engine),
					MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123")}); err != nil {
					t.Fatal(err)
				}
			} else if _, err := dr.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(newNames(cfg, "").db()), Engine: aws.String(engine),
				DBInstanceClass: aws.String("db.t3.medium"), AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123")}); err != nil {
				t.Fatal(err)
			}
			// An earlier failback's production, serving under the name.
			earlier := tags.RDS(tags.With(tags.Base(cfg.Stack), tags.OpKind, KindFailback, tags.Operation, "failback-20260101-000000-aaaa"))
			taken := nextFailbackDB(cfg)
			if cluster {
				if _, err := home.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String(taken), Engine: aws.String(engine),
					MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"), Tags: earlier}); err != nil {
					t.Fatal(err)
				}
			} else if _, err := home.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(taken), Engine: aws.String(engine),
				DBInstanceClass: aws.String("db.t3.medium"), AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123"), Tags: earlier}); err != nil {
				t.Fatal(err)
			}
			f := NewFailback(cfg, env, Options{Wait: fastWait})
			g, err := runbook.New(
				runbook.Step{ID: StepCatchUpDB, Run: f.runCatchUpDB},
				runbook.Step{ID: StepFreeze, Needs: []string{StepCatchUpDB}, Run: f.runFreeze},
			)
			if err != nil {
				t.Fatal(err)
			}
			j, err := run(t, ctx, openStore(t, cfg), cfg, g, KindFailback)
			if err == nil || !strings.Contains(err.Error(), taken) || !strings.Contains(err.Error(), "recover.database.from") {
				t.Fatalf("failback onto the taken name %s: %v, want a refusal naming it and the config change", taken, err)
			}
			if out := outputsOf(j); out[StepFreeze] != nil {
				t.Fatalf("froze writes before refusing: %v", out)
			}
			snaps, err := dr.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
			if err != nil {
				t.Fatal(err)
			}
			csnaps, err := dr.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
			if err != nil {
				t.Fatal(err)
			}
			if len(snaps.DBSnapshots)+len(csnaps.DBClusterSnapshots) != 0 {
				t.Fatalf("snapshotted the DR database before refusing: %d, %d", len(snaps.DBSnapshots), len(csnaps.DBClusterSnapshots))
			}
		})
	}
}

// TestAuroraFailbackTwice: two failover → failback cycles of an Aurora
// stack, each failback's config change applied before the next failover.
// The second failback builds a new generation beside the first (which
// still stands, untouched, as the old production its report lists), and
// no name grows.
func TestAuroraFailbackTwice(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := auroraConfig(t, "us-east-1", "us-west-2")
	// No cache: moto never frees a deleted replication group's id
	// (MOTO.md), so the second failover could not make the DR cache
	// again; on AWS the deletion ends.
	raw, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	noCache := strings.Replace(string(raw), "  cache: { node_type: cache.t3.micro }\n", "", 1)
	if err := os.WriteFile(cfg.File, []byte(noCache), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = spec.Load(cfg.File); err != nil || cfg.Recover.Cache != nil {
		t.Fatalf("config without a cache: %v", err)
	}
	ctx := ctxTimeout(t)
	seedAuroraProduction(t, env, cfg)
	if _, err := Prepare(ctx, cfg, env); err != nil {
		t.Fatal(err)
	}
	var built []string
	for cycle := 1; cycle <= 2; cycle++ {
		store := openStore(t, cfg)
		g, _ := New(cfg, env, Options{Wait: fastWait}).Graph()
		if _, err := run(t, ctx, store, cfg, g, KindFailover); err != nil {
			t.Fatalf("cycle %d: failover: %v", cycle, err)
		}
		f := NewFailback(cfg, env, Options{Wait: fastWait})
		fg, err := f.Graph()
		if err != nil {
			t.Fatal(err)
		}
		j, err := run(t, ctx, store, cfg, fg, KindFailback)
		if err != nil {
			t.Fatalf("cycle %d: failback: %v", cycle, err)
		}
		home := outputsOf(j)[StepDatabase]["db_id"]
		if want := "shop-shop-db-fb" + strconv.Itoa(cycle); home != want {
			t.Fatalf("cycle %d: failback built %q, want %q", cycle, home, want)
		}
		sum := f.BuildReport(j).Failback
		if !slices.Contains(sum.OldProduction, Resource{Type: "rds-cluster", ID: cfg.Recover.Database.From}) {
			t.Fatalf("cycle %d: old production %v lacks cluster %s", cycle, sum.OldProduction, cfg.Recover.Database.From)
		}
		built = append(built, home)
		for _, id := range built {
			if cl := clusterIn(t, env, cfg.Primary.Region, id); cl == nil || aws.ToString(cl.Status) != "available" {
				t.Fatalf("cycle %d: cluster %s gone from %s: a failback touched an earlier production", cycle, id, cfg.Primary.Region)
			}
		}
		cfg, _ = applyConfigChanges(t, cfg, sum.ConfigChanges)
		// The next cycle's protect: DR copies of the cluster that serves.
		if _, err := points.Backup(ctx, env, cfg, points.BackupOptions{Only: []string{home, "web"}}); err != nil {
			t.Fatalf("cycle %d: protect after failback: %v", cycle, err)
		}
	}
}

// TestDropSnapshotsKeepsOthers: failback drops a snapshot by name only if
// it carries that failback's tags; a recovery point protect made under
// the name is refused and stays.
func TestDropSnapshotsKeepsOthers(t *testing.T) {
	moto := testenv.Shared(t)
	env := testenv.AWS(t, moto.NewAccount(t).URL)
	cfg := auroraConfig(t, "us-east-1", "us-west-2")
	ctx := ctxTimeout(t)
	api := rds.NewFromConfig(env.For(cfg.DR.Region))
	if _, err := api.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("shop-db-x"), Engine: aws.String("aurora-mysql"),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password123")}); err != nil {
		t.Fatal(err)
	}
	mine := tags.With(tags.Base(cfg.Stack), tags.OpKind, KindFailback, tags.Operation, "failback-1")
	for id, tg := range map[string]map[string]string{"shop-point": tags.Base(cfg.Stack), "shop-other-run": tags.With(mine, tags.Operation, "failback-0"), "shop-mine": mine} {
		if _, err := api.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("shop-db-x"), DBClusterSnapshotIdentifier: aws.String(id), Tags: tags.RDS(tg)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"shop-point", "shop-other-run"} {
		if err := points.DeleteFailbackSnapshot(ctx, env, cfg.DR.Region, id, true, mine); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Fatalf("drop %s: %v, want a refusal", id, err)
		}
		if _, err := api.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id)}); err != nil {
			t.Fatalf("%s, not this failback's, is gone: %v", id, err)
		}
	}
	if err := points.DeleteFailbackSnapshot(ctx, env, cfg.DR.Region, "shop-mine", true, mine); err != nil {
		t.Fatal(err)
	}
	if err := points.DeleteFailbackSnapshot(ctx, env, cfg.DR.Region, "shop-mine", true, mine); err != nil {
		t.Fatalf("dropping a snapshot already gone: %v", err)
	}
}

// seedWebZoneAndBackup finishes a hand-built production around its
// database: the web instance protect.images selects, the zone with the
// record at the primary target, the buckets, and one protect cycle.
func seedWebZoneAndBackup(t testing.TB, ctx context.Context, env *awsenv.Env, cfg *spec.Config) {
	t.Helper()
	p := env.For(cfg.Primary.Region)
	if _, err := ec2.NewFromConfig(p).RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Small,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("Role"), Value: aws.String("web")}}}},
	}); err != nil {
		t.Fatal(err)
	}
	r53 := route53.NewFromConfig(env.For(cfg.DR.Region))
	zone, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String(testenv.RandomAccountID())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: zone.HostedZone.Id,
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String("shop.example.com."), Type: r53types.RRTypeCname, TTL: aws.Int64(60),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(cfg.Recover.DNS.PrimaryTarget)}},
		}}}}}); err != nil {
		t.Fatal(err)
	}
	seedBuckets(t, env, cfg)
	if rep, err := points.Backup(ctx, env, cfg, points.BackupOptions{Only: []string{"shop-db", "web"}}); err != nil {
		t.Fatalf("protect cycle: %v (%+v)", err, rep)
	}
}
