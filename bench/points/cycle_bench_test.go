// Package points_test benchmarks one protect cycle (pilotlight backup) on
// moto: wall time and API calls per resource for one database and one
// image, and for 50 of each, with and without an added per-call latency
// that stands in for a real API round trip. Run:
//
//	go test -run '^$' -bench . -benchtime 3x ./bench/points/
//
// Figures go to docs/benchmarks.md, "Protect cycle (backup)".
package points_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/pilotlight/pilotlight/internal/points"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const primary, dr = "cn-northwest-1", "cn-north-1"

// stack makes n DB instances and n tagged EC2 instances in a fresh moto
// account and returns the config protecting them.
func stack(b *testing.B, url string, n int) *spec.Config {
	b.Helper()
	ctx := context.Background()
	env := testenv.AWS(b, url)
	rc, ec := rds.NewFromConfig(env.For(primary)), ec2.NewFromConfig(env.For(primary))
	var y strings.Builder
	fmt.Fprintf(&y, "stack: bench\nprimary: { region: %s }\ndr: { region: %s }\nprotect:\n  databases:\n", primary, dr)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("db%02d", i)
		if _, err := rc.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), Engine: aws.String("mysql"), DBInstanceClass: aws.String("db.t3.micro"),
			AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("password1"),
		}); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&y, "    - { id: %s, keep: { primary: 3, dr: 3 } }\n", id)
	}
	y.WriteString("  images:\n")
	for i := 0; i < n; i++ {
		role := fmt.Sprintf("web%02d", i)
		if _, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String("ami-0a1b2c3d4e5f60001"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("Role"), Value: aws.String(role)}}}},
		}); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&y, "    - { name: %s, instance: { tag: { Role: %s } }, keep: { primary: 3, dr: 3 } }\n", role, role)
	}
	cfg, err := spec.Parse("bench.yaml", []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// mode is what stands between pilotlight and moto.
type mode struct {
	name  string
	rules []testenv.Rule
}

// modes: moto as is (every point is available in the first response);
// a 30 ms round trip per call; and a scaled-down model of AWS's own work,
// where taking a point holds its Create call for 2 s and copying holds its
// Copy call for 4 s (on AWS these are minutes to hours of polling).
var modes = []mode{
	{name: "moto"},
	{name: "rtt30ms", rules: []testenv.Rule{{Latency: 30 * time.Millisecond}}},
	{name: "aws-model", rules: []testenv.Rule{
		{Match: testenv.Match{Action: "CreateDBSnapshot"}, Latency: 2 * time.Second},
		{Match: testenv.Match{Action: "CreateImage"}, Latency: 2 * time.Second},
		{Match: testenv.Match{Action: "CopyDBSnapshot"}, Latency: 4 * time.Second},
		{Match: testenv.Match{Action: "CopyImage"}, Latency: 4 * time.Second},
		{Latency: 30 * time.Millisecond},
	}},
}

// world is one protected stack of n databases and n images, warmed up.
type world struct {
	url   string
	cfg   *spec.Config
	cycle int // cycles run so far: the clock of the next one
}

var worlds = map[int]*world{}

// worldOf builds the stack for n once and runs three untimed cycles, so
// that keep (3 per region) is full and every timed cycle also prunes one
// point per region per resource: steady state.
// The account lives as long as parent (the top-level benchmark), so that
// every sub-benchmark of one size shares it.
func worldOf(parent, b *testing.B, n int) *world {
	if w := worlds[n]; w != nil {
		return w
	}
	acct := testenv.Shared(b).NewAccount(parent).URL
	w := &world{url: acct, cfg: stack(b, acct, n)}
	env := testenv.AWS(b, acct)
	for ; w.cycle < 3; w.cycle++ {
		if _, err := points.Backup(context.Background(), env, w.cfg, points.BackupOptions{Now: w.clock()}); err != nil {
			b.Fatal(err)
		}
	}
	worlds[n] = w
	return w
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func (w *world) clock() func() time.Time {
	now := t0.Add(time.Duration(w.cycle) * 2 * time.Hour)
	return func() time.Time { return now }
}

// BenchmarkCycle runs one protect cycle per iteration for 1 database and 1
// image, and for 50 of each, in each mode. It reports wall time per cycle
// and API calls per resource (counted by the proxy).
func BenchmarkCycle(b *testing.B) {
	parent := b
	for _, n := range []int{1, 50} {
		for _, m := range modes {
			for _, par := range []int{16, 64} {
				if n == 1 && par != 16 {
					continue
				}
				name := fmt.Sprintf("db=%d,image=%d,mode=%s,parallel=%d", n, n, m.name, par)
				b.Run(name, func(b *testing.B) { benchCycle(b, worldOf(parent, b, n), m, par) })
			}
		}
	}
}

func benchCycle(b *testing.B, w *world, m mode, parallel int) {
	proxy, err := testenv.NewProxy(w.url, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer proxy.Close()
	for _, r := range m.rules {
		proxy.AddRule(r)
	}
	env := testenv.AWS(b, proxy.URL)
	resources := len(w.cfg.Protect.Databases) + len(w.cfg.Protect.Images)
	var calls int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		proxy.ResetCalls()
		rep, err := points.Backup(context.Background(), env, w.cfg, points.BackupOptions{Now: w.clock(), Parallelism: parallel})
		w.cycle++
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rep.Results {
			if r.Copied == "" || len(r.Deleted) != 2 {
				b.Fatalf("%s: not a steady-state cycle: %+v", r.Resource, r)
			}
		}
		calls += len(proxy.Calls())
	}
	b.StopTimer()
	b.ReportMetric(float64(calls)/float64(b.N)/float64(resources), "calls/resource")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/cycle")
}
