package spec

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// HealthCheck is how Route 53 probes the production endpoint for the
// PRIMARY failover record. Zero values take the defaults of Resolve.
type HealthCheck struct {
	// Protocol is http (default) or https.
	Protocol string `yaml:"protocol"`
	// Port defaults to 80 for http and 443 for https.
	Port int `yaml:"port"`
	// Path defaults to recover.app.load_balancer.health_check_path.
	Path string `yaml:"path"`
	// Host is the name Route 53 connects to and sends as Host header (and
	// as SNI over https); default recover.dns.primary_target. An HTTPS
	// production whose certificate does not cover the load balancer's
	// name needs a host name the certificate covers that resolves to it.
	Host string `yaml:"host"`
	// SNI sends Host in the TLS handshake (https only; default true).
	SNI *bool `yaml:"sni"`
}

// Resolve fills the defaults: path is the app's health path and target
// the primary target.
func (h HealthCheck) Resolve(path, target string) HealthCheck {
	h.Protocol = strings.ToLower(h.Protocol)
	if h.Protocol == "" {
		h.Protocol = "http"
	}
	if h.Port == 0 {
		h.Port = 80
		if h.Protocol == "https" {
			h.Port = 443
		}
	}
	if h.Path == "" {
		h.Path = path
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Host == "" {
		h.Host = target
	}
	if h.SNI == nil {
		sni := h.Protocol == "https"
		h.SNI = &sni
	}
	return h
}

// DefaultMatcher is the target group's healthy codes unless configured:
// an app answering its canonical redirect is up.
const DefaultMatcher = "200-399"

// DefaultHealthCheckGrace is the auto scaling group's grace period unless
// configured.
const DefaultHealthCheckGrace = 300 * time.Second

// TargetMatcher is the configured matcher or DefaultMatcher.
func (l LoadBalancer) TargetMatcher() string {
	if l.Matcher == "" {
		return DefaultMatcher
	}
	return l.Matcher
}

// Grace is the configured grace period or DefaultHealthCheckGrace.
func (l LoadBalancer) Grace() time.Duration {
	if l.HealthCheckGrace.IsZero() {
		return DefaultHealthCheckGrace
	}
	return l.HealthCheckGrace.D
}

// ELB accepts "200", "200,302" or "200-399", codes 200 to 499.
var matcherRe = regexp.MustCompile(`^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$`)

func (v *validator) targetHealth(l LoadBalancer) {
	if l.Matcher != "" {
		ok := matcherRe.MatchString(l.Matcher)
		for _, part := range strings.FieldsFunc(l.Matcher, func(r rune) bool { return r == ',' || r == '-' }) {
			if n, _ := strconv.Atoi(part); n < 200 || n > 499 {
				ok = false
			}
		}
		if !ok {
			v.bad("recover.app.load_balancer.matcher", "must be HTTP codes 200-499 as \"200\", \"200,302\" or \"200-399\", not %q", l.Matcher)
		}
	}
	if a := l.CertificateARN; a != "" {
		part, svc, region, _, _, ok := partition.ParseARN(a)
		p, _ := partition.Of(v.cfg.DR.Region)
		if !ok || svc != "acm" || region != v.cfg.DR.Region || part != p.ID {
			v.bad("recover.app.load_balancer.certificate_arn", "must be an ACM certificate ARN in the DR region %s, not %q", v.cfg.DR.Region, a)
		}
	}
	if !l.HealthCheckGrace.IsZero() {
		// The Auto Scaling API takes whole seconds up to 7200.
		if d := l.HealthCheckGrace.D; d < time.Second || d > 2*time.Hour || d%time.Second != 0 {
			v.bad("recover.app.load_balancer.health_check_grace", "must be whole seconds from 1s to 2h, not %s", l.HealthCheckGrace.Raw)
		}
	}
}

func (v *validator) healthCheck(h HealthCheck) {
	const f = "recover.dns.health_check"
	switch strings.ToLower(h.Protocol) {
	case "", "http", "https":
	default:
		v.bad(f+".protocol", "must be http or https, not %q", h.Protocol)
	}
	if h.Port < 0 || h.Port > 65535 {
		v.bad(f+".port", "must be 1 to 65535")
	}
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		v.bad(f+".path", "must start with /, not %q", h.Path)
	}
	if len(h.Path) > 255 {
		v.bad(f+".path", "Route 53 takes at most 255 characters")
	}
	if h.SNI != nil && *h.SNI && strings.ToLower(h.Protocol) != "https" {
		v.bad(f+".sni", "only an https health check sends SNI")
	}
}
