package recovery

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/spec"
)

// TestFailbackNamesOverCycles runs the naming of failover → failback
// cycles, applying each failback's config change as --write-config does:
// every generation's names are new (the previous production still stands
// beside the new one until retired), within AWS's limits, and do not grow
// with the cycles, whatever the stack, the database's name, or a config
// written by a failback from before generations.
func TestFailbackNamesOverCycles(t *testing.T) {
	long := strings.Repeat("x", 40)
	for _, c := range []struct{ name, stack, from string }{
		{"short", "shop", "shop-db"},
		{"long stack", "a" + long[:31], "orders"},
		{"long db", "shop", "d" + strings.Repeat("b", 62)},
		{"db named like a failback's", "shop", "shop-orders-fb"},
		{"legacy -fb", "shop", "shop-shop-db-fb"},
		{"legacy -fb-fb", "shop", "shop-shop-shop-db-fb-fb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &spec.Config{Stack: c.stack, Recover: spec.Recover{
				Database: &spec.RecoverDatabase{From: c.from},
				DNS:      &spec.DNS{PrimaryTarget: "prod-lb.example.net"},
			}}
			seen := map[string]int{}
			var firstLen, prevGen int
			for cycle := 1; cycle <= 25; cycle++ {
				// What spec.Load defaults after the config change: the DR DB
				// of the next failover.
				cfg.Recover.Database.Identifier = cfg.Stack + "-" + cfg.Recover.Database.From + "-dr"
				dr := newNames(cfg, "").db()
				n := failbackNames(cfg, cfg)
				gen, _ := strconv.Atoi(strings.TrimPrefix(n.suffix, "fb"))
				if gen <= prevGen {
					t.Fatalf("cycle %d: generation %d after %d", cycle, gen, prevGen)
				}
				prevGen = gen
				for _, x := range []struct {
					what, id string
					max      int
				}{
					{"DB", n.db(), 63}, {"DR DB", dr, 63}, {"writer", fit(n.db()+"-1", 63), 63},
					{"load balancer", n.lb(), 32}, {"target group", n.tg(), 32}, {"cache", n.cache(), 40},
					{"launch template", n.launchTemplate(), 128}, {"auto scaling group", n.asg(), 255},
				} {
					if len(x.id) > x.max || x.id == "" {
						t.Fatalf("cycle %d: %s %q is %d characters, AWS allows %d", cycle, x.what, x.id, len(x.id), x.max)
					}
					if x.what == "DR DB" {
						continue // one at a time: failback deletes it
					}
					key := x.what + ":" + x.id
					if prev, ok := seen[key]; ok {
						t.Fatalf("cycle %d: %s %q already named by cycle %d, whose production may still stand", cycle, x.what, x.id, prev)
					}
					seen[key] = cycle
				}
				if !strings.HasPrefix(n.db(), c.stack+"-") || !strings.HasSuffix(n.db(), "-fb"+strconv.Itoa(gen)) {
					t.Fatalf("cycle %d: DB %q does not say its stack and generation %d", cycle, n.db(), gen)
				}
				if cycle == 1 {
					firstLen = len(n.db())
				} else if grew := len(n.db()) - firstLen; grew > len(strconv.Itoa(gen))-1 {
					t.Fatalf("cycle %d: DB %q grew by %d characters since the first failback", cycle, n.db(), grew)
				}
				// --write-config: the config names what the failback built.
				cfg.Recover.Database.From = n.db()
				cfg.Recover.DNS.PrimaryTarget = strings.ToLower(n.lb()) + "-1234567890.us-east-1.elb.amazonaws.com"
			}
		})
	}
}

// TestFailbackGeneration: the generation is one more than what the config
// says serves: its database, else its load balancer.
func TestFailbackGeneration(t *testing.T) {
	for _, c := range []struct {
		from, target string
		want         int
		db           string
	}{
		{"shop-db", "prod-lb.example.net", 1, "shop-shop-db-fb1"},
		{"shop-shop-db-fb1", "shop-app-fb1-1.us-east-1.elb.amazonaws.com", 2, "shop-shop-db-fb2"},
		{"shop-shop-db-fb9", "", 10, "shop-shop-db-fb10"},
		{"shop-shop-db-fb", "", 2, "shop-shop-db-fb2"},
		// A config whose database change was not applied still moves past
		// the load balancer the last failback built.
		{"shop-db", "dualstack.shop-app-fb3-99.cn-north-1.elb.amazonaws.com.cn", 4, "shop-shop-db-fb4"},
		{"", "shop-app-fb2-1.us-west-2.elb.amazonaws.com", 3, ""},
		{"orders-fb2", "", 1, "shop-orders-fb2-fb1"},
	} {
		cfg := &spec.Config{Stack: "shop", Recover: spec.Recover{DNS: &spec.DNS{PrimaryTarget: c.target}}}
		if c.from != "" {
			cfg.Recover.Database = &spec.RecoverDatabase{From: c.from}
		}
		if got := failbackGeneration(cfg); got != c.want {
			t.Errorf("from %q, target %q: generation %d, want %d", c.from, c.target, got, c.want)
		}
		if c.db != "" {
			if got := failbackNames(cfg, cfg).db(); got != c.db {
				t.Errorf("from %q: failback DB %q, want %q", c.from, got, c.db)
			}
		}
	}
}

// TestFinalSnapshotName: teardown's final snapshot of a DB recovered under
// a long identifier stays within RDS's limit for its kind (63 for a
// cluster snapshot), keeps the time whole and stays distinct per DB.
func TestFinalSnapshotName(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	long := "a" + strings.Repeat("b", 62)
	for _, c := range []struct {
		id      string
		cluster bool
		max     int
	}{{"shop-shop-db-dr", true, 63}, {long, true, 63}, {long, false, 255}, {"shop-shop-db-dr", false, 255}} {
		got := finalSnapshotName(c.id, at, c.cluster)
		if len(got) > c.max || !strings.HasSuffix(got, "-final-20261207100000") {
			t.Errorf("%s (cluster %v): %q, %d characters (max %d)", c.id, c.cluster, got, len(got), c.max)
		}
		if len(c.id)+len("-final-20261207100000") <= c.max && got != c.id+"-final-20261207100000" {
			t.Errorf("%s: %q, want the identifier whole when it fits", c.id, got)
		}
	}
	if finalSnapshotName(long, at, true) == finalSnapshotName(long+"x", at, true) {
		t.Error("two long cluster identifiers share a final snapshot name")
	}
}
