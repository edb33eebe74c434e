package discover

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pilotlight/pilotlight/internal/tags"
)

// leftovers lists what is in scope but belongs to no part of the config:
// instances outside the app, so that a person sees what is not protected.
func (r *run) leftovers() {
	var loose []string
	for _, in := range r.instances {
		id := aws.ToString(in.InstanceId)
		if r.appInstances[id] || !r.inScope(aws.ToString(in.VpcId), tags.FromEC2(in.Tags)) {
			continue
		}
		if n := tags.FromEC2(in.Tags)["Name"]; n != "" {
			id += " (" + n + ")"
		}
		loose = append(loose, id)
	}
	sort.Strings(loose)
	if len(loose) > 0 {
		more := ""
		if len(loose) > 10 {
			more = " and " + strconv.Itoa(len(loose)-10) + " more"
			loose = loose[:10]
		}
		r.undecided("instances in scope that are neither behind the load balancer nor in an auto scaling group are not protected: %s%s (add an image entry for any that matters)", strings.Join(loose, ", "), more)
	}
	if len(r.d.Apps) > 1 {
		r.undecided("%d app units were found; recover.app rebuilds %s only (the others are protected as images)", len(r.d.Apps), r.d.Apps[0].label())
	}
	if len(r.d.Caches) > 1 {
		r.undecided("%d caches were found; recover.cache rebuilds %s only", len(r.d.Caches), r.d.Caches[0].ID)
	}
	if len(r.d.Records) > 1 {
		var others []string
		for _, rec := range r.d.Records[1:] {
			others = append(others, rec.Name)
		}
		r.undecided("%d DNS records point at the load balancer; recover.dns moves %s only, not %s", len(r.d.Records), r.d.Records[0].Name, strings.Join(others, ", "))
	}
}

var notStackChar = regexp.MustCompile(`[^a-z0-9]+`)

// stackNameRe is the config's rule for stack names.
var stackNameRe = regexp.MustCompile(`^[a-z](?:[a-z0-9]|-[a-z0-9]){0,30}$`)

// stackKeys are tag keys whose value is likely the stack's name.
var stackKeys = []string{"stack", "Stack", "app", "App", "application", "Application", "project", "Project", "service", "Service"}

// stackName is --stack, or a name derived from the stack's tag, load
// balancer, app or database; the config marks it DECIDE.
func (r *run) stackName() (name, from string) {
	if r.opts.Stack != "" {
		return r.opts.Stack, ""
	}
	type cand struct{ value, from string }
	var cands []cand
	for _, k := range stackKeys {
		if v, ok := r.opts.Tags[k]; ok {
			cands = append(cands, cand{v, "the tag " + k + "=" + v})
		}
	}
	if r.d.LoadBalancer != nil {
		cands = append(cands, cand{r.d.LoadBalancer.Name, "load balancer " + r.d.LoadBalancer.Name})
	}
	for _, a := range r.d.Apps {
		cands = append(cands, cand{a.AutoScalingGroup, "auto scaling group " + a.AutoScalingGroup})
	}
	for _, db := range r.d.Databases {
		cands = append(cands, cand{db.ID, "database " + db.ID})
	}
	for _, c := range cands {
		if n := sanitizeStack(c.value); n != "" {
			return n, c.from
		}
	}
	return "stack", "nothing: no name found"
}

// sanitizeStack makes a valid stack name of s: lower case, single hyphens,
// without the suffixes that name a resource kind rather than the stack.
func sanitizeStack(s string) string {
	s = strings.Trim(notStackChar.ReplaceAllString(strings.ToLower(s), "-"), "-")
	for _, suf := range []string{"-alb", "-lb", "-elb", "-asg", "-db", "-load-balancer"} {
		if t := strings.TrimSuffix(s, suf); t != "" {
			s = t
		}
	}
	s = strings.TrimLeft(s, "0123456789-")
	if len(s) > 31 {
		s = strings.TrimRight(s[:31], "-")
	}
	if !stackNameRe.MatchString(s) {
		return ""
	}
	return s
}

// CheckStackName says why name cannot be a stack's name, or nil.
func CheckStackName(name string) error {
	if !stackNameRe.MatchString(name) {
		return fmt.Errorf("stack name %q: want 1-31 lower-case letters, digits and single hyphens, starting with a letter", name)
	}
	return nil
}
