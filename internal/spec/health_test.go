package spec

import (
	"strings"
	"testing"
	"time"
)

// TestHealthSettings covers the health-check and target-group fields: a
// config may ask for an HTTPS probe, a matcher and a grace period, and a
// wrong one is named.
func TestHealthSettings(t *testing.T) {
	src := strings.Replace(validBase, "app: { image_from: wordpress }",
		"app: { image_from: wordpress, load_balancer: { health_check_path: /wp-login.php, matcher: \"200,301-302\", health_check_grace: 15m, certificate_arn: \"arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc\" } }", 1)
	src = strings.Replace(src, "primary_target: lb.example.com }",
		"primary_target: lb.example.com, health_check: { protocol: https, host: origin.example.com } }", 1)
	cfg, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	lb := cfg.Recover.App.LoadBalancer
	if lb.TargetMatcher() != "200,301-302" || lb.Grace() != 15*time.Minute {
		t.Fatalf("matcher %q grace %s", lb.TargetMatcher(), lb.Grace())
	}
	h := cfg.Recover.DNS.HealthCheck.Resolve(lb.HealthCheckPath, cfg.Recover.DNS.PrimaryTarget)
	if h.Protocol != "https" || h.Port != 443 || h.Path != "/wp-login.php" || h.Host != "origin.example.com" || !*h.SNI {
		t.Fatalf("resolved: %+v", h)
	}
	def, err := Parse("p.yaml", []byte(validBase))
	if err != nil {
		t.Fatal(err)
	}
	if l := def.Recover.App.LoadBalancer; l.TargetMatcher() != "200-399" || l.Grace() != 300*time.Second {
		t.Fatalf("defaults: %q %s", l.TargetMatcher(), l.Grace())
	}

	for _, c := range []struct{ from, to, want string }{
		{"app: { image_from: wordpress }", "app: { image_from: wordpress, load_balancer: { matcher: \"600\" } }", "recover.app.load_balancer.matcher"},
		{"app: { image_from: wordpress }", "app: { image_from: wordpress, load_balancer: { health_check_grace: 3h } }", "recover.app.load_balancer.health_check_grace"},
		{"app: { image_from: wordpress }", "app: { image_from: wordpress, load_balancer: { certificate_arn: \"arn:aws-cn:acm:cn-northwest-1:1:certificate/x\" } }", "recover.app.load_balancer.certificate_arn"},
		{"primary_target: lb.example.com }", "primary_target: lb.example.com, health_check: { protocol: tcp } }", "recover.dns.health_check.protocol"},
		{"primary_target: lb.example.com }", "primary_target: lb.example.com, health_check: { path: healthz } }", "recover.dns.health_check.path"},
		{"primary_target: lb.example.com }", "primary_target: lb.example.com, health_check: { sni: true } }", "recover.dns.health_check.sni"},
	} {
		_, err := Parse("p.yaml", []byte(strings.Replace(validBase, c.from, c.to, 1)))
		if ps, ok := AsProblems(err); !ok || !strings.Contains(ps.Error(), c.want) {
			t.Errorf("%s: want a problem at %s, got %v", c.to, c.want, err)
		}
	}
}
