// Package discover reads a running stack in its primary region (load
// balancer, app, databases, caches, buckets, DNS records) and writes the
// pilotlight config that protects it. It only ever reads: every call it can
// make is listed in Actions, and none of them changes anything in AWS.
package discover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/partition"
)

// Options say where to look and what belongs to the stack.
type Options struct {
	Primary string
	DR      string
	// Tags, when set, select exactly the resources carrying all of them;
	// otherwise the stack is the VPC of its load balancer.
	Tags map[string]string
	// Stack names the stack; empty derives it from the load balancer.
	Stack string
	Log   *slog.Logger
}

// Discovery is what was found, and how each thing was decided.
type Discovery struct {
	Stack string `json:"stack"`
	// StackFrom says what the stack name was derived from; empty when
	// --stack gave it.
	StackFrom    string        `json:"stack_from,omitempty"`
	Primary      string        `json:"primary"`
	DR           string        `json:"dr"`
	Partition    string        `json:"partition"`
	Scope        Scope         `json:"scope"`
	LoadBalancer *LoadBalancer `json:"load_balancer,omitempty"`
	Apps         []App         `json:"apps,omitempty"`
	Databases    []Database    `json:"databases,omitempty"`
	Caches       []Cache       `json:"caches,omitempty"`
	Buckets      []Bucket      `json:"buckets,omitempty"`
	Records      []Record      `json:"records,omitempty"`
	// Undecided lists what discovery saw but could not settle; the config
	// ends with this list for a person to read.
	Undecided []string `json:"undecided,omitempty"`
}

// Scope says how the stack's resources were told from the rest.
type Scope struct {
	By   string            `json:"by"` // "tags" or "vpc"
	Tags map[string]string `json:"tags,omitempty"`
	VPC  string            `json:"vpc,omitempty"`
	CIDR string            `json:"cidr,omitempty"`
	Why  string            `json:"why"`
}

// LoadBalancer is the Application Load Balancer in front of the app.
type LoadBalancer struct {
	Name         string        `json:"name"`
	ARN          string        `json:"arn"`
	DNSName      string        `json:"dns_name"`
	Scheme       string        `json:"scheme,omitempty"`
	VPC          string        `json:"vpc,omitempty"`
	Listeners    []Listener    `json:"listeners,omitempty"`
	TargetGroups []TargetGroup `json:"target_groups,omitempty"`
	Found        string        `json:"found"`
}

// Listener is one port of the load balancer.
type Listener struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
}

// TargetGroup is one of the load balancer's target groups.
type TargetGroup struct {
	Name            string `json:"name"`
	ARN             string `json:"arn"`
	Port            int    `json:"port,omitempty"`
	Protocol        string `json:"protocol,omitempty"`
	HealthCheckPath string `json:"health_check_path,omitempty"`
}

// App is an auto scaling group (or a set of instances behind the load
// balancer) with what its instances are launched from.
type App struct {
	AutoScalingGroup    string          `json:"auto_scaling_group,omitempty"`
	Instances           []string        `json:"instances,omitempty"`
	Min                 int             `json:"min"`
	Desired             int             `json:"desired"`
	Max                 int             `json:"max"`
	LaunchTemplate      string          `json:"launch_template,omitempty"`
	LaunchConfiguration string          `json:"launch_configuration,omitempty"`
	InstanceType        string          `json:"instance_type,omitempty"`
	AMI                 string          `json:"ami,omitempty"`
	SecurityGroups      []SecurityGroup `json:"security_groups,omitempty"`
	KeyName             string          `json:"key_name,omitempty"`
	InstanceProfile     string          `json:"instance_profile,omitempty"`
	Role                string          `json:"role,omitempty"`
	UserData            string          `json:"user_data,omitempty"`
	TargetGroup         string          `json:"target_group,omitempty"`
	HealthCheckPath     string          `json:"health_check_path,omitempty"`
	// Image is how protect picks the running instance to image.
	Image ImageChoice `json:"image"`
	Found string      `json:"found"`
}

// SecurityGroup names a group by id and name.
type SecurityGroup struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// ImageChoice is the instance selector for protect.images.
type ImageChoice struct {
	Tag map[string]string `json:"tag,omitempty"`
	ID  string            `json:"id,omitempty"`
	Why string            `json:"why"`
}

// Database is an RDS DB instance or an Aurora DB cluster.
type Database struct {
	ID            string   `json:"id"`
	Kind          string   `json:"kind"` // instance or cluster
	Engine        string   `json:"engine"`
	EngineVersion string   `json:"engine_version,omitempty"`
	Class         string   `json:"class,omitempty"`
	Port          int      `json:"port,omitempty"`
	Endpoints     []string `json:"endpoints,omitempty"`
	MultiAZ       bool     `json:"multi_az,omitempty"`
	Encrypted     bool     `json:"encrypted"`
	KMSKey        string   `json:"kms_key,omitempty"`
	VPC           string   `json:"vpc,omitempty"`
	SubnetGroup   string   `json:"subnet_group,omitempty"`
	// ParameterGroup is a custom (not default.*) DB or cluster parameter
	// group: it exists only in the primary region.
	ParameterGroup string   `json:"parameter_group,omitempty"`
	Members        []string `json:"members,omitempty"`
	Found          string   `json:"found"`
}

// Cache is an ElastiCache replication group or a single cache cluster.
type Cache struct {
	ID            string   `json:"id"`
	Kind          string   `json:"kind"` // replication-group or cluster
	Engine        string   `json:"engine"`
	EngineVersion string   `json:"engine_version,omitempty"`
	NodeType      string   `json:"node_type"`
	Nodes         int      `json:"nodes"`
	Endpoints     []string `json:"endpoints,omitempty"`
	VPC           string   `json:"vpc,omitempty"`
	SubnetGroup   string   `json:"subnet_group,omitempty"`
	Found         string   `json:"found"`
}

// Bucket is an S3 bucket the app uses.
type Bucket struct {
	Name  string `json:"name"`
	Found string `json:"found"`
}

// Record is a Route 53 record that points at the load balancer.
type Record struct {
	Zone    string `json:"zone"`
	ZoneID  string `json:"zone_id"`
	Name    string `json:"name"`
	Type    string `json:"type"` // alias or cname
	TTL     int    `json:"ttl,omitempty"`
	Private bool   `json:"private,omitempty"`
	Routing string `json:"routing,omitempty"` // set identifier of a weighted/failover record
	Found   string `json:"found"`
}

// ErrNothingFound is returned (wrapped) when the region holds nothing to
// protect within the scope.
var ErrNothingFound = errors.New("nothing to discover")

// AmbiguousError says discovery found several stacks and would be guessing.
type AmbiguousError struct {
	Region     string
	Candidates []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%s holds several load balancers with an app behind them (%s): pass --tag KEY=VALUE with the stack's tag, or --stack NAME matching one load balancer's name",
		e.Region, strings.Join(e.Candidates, "; "))
}

// RegionError says a region could not be read at all: no rights, or no answer.
type RegionError struct {
	Region string
	What   string
	Denied bool
	Err    error
}

func (e *RegionError) Error() string {
	if e.Denied {
		return fmt.Sprintf("no access to %s: %s: %v (init needs read-only rights: see `pilotlight iam-policy --for init`)", e.Region, e.What, e.Err)
	}
	return fmt.Sprintf("cannot read %s: %s: %v (is the region reachable, and are the credentials valid for it?)", e.Region, e.What, e.Err)
}

func (e *RegionError) Unwrap() error { return e.Err }

// regionErr classifies a failed call that makes discovery impossible.
func regionErr(region, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %s: %w", what, region, err)
	}
	return &RegionError{Region: region, What: what, Denied: isDenied(err), Err: err}
}

func isDenied(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch c := ae.ErrorCode(); {
	case strings.Contains(c, "AccessDenied"), c == "UnauthorizedOperation", c == "AuthFailure",
		c == "InvalidClientTokenId", c == "UnrecognizedClientException", c == "OptInRequired",
		c == "SignatureDoesNotMatch", c == "ExpiredToken":
		return true
	}
	return false
}

// Discover reads the primary region through c (NewClients in production)
// and returns what belongs to the stack, or ErrNothingFound, an
// *AmbiguousError or a *RegionError.
func Discover(ctx context.Context, c *Clients, opts Options) (*Discovery, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if !partition.Known(opts.Primary) {
		return nil, fmt.Errorf("unknown primary region %q", opts.Primary)
	}
	p, _ := partition.Of(opts.Primary)
	d := &Discovery{Primary: opts.Primary, DR: opts.DR, Partition: p.ID}
	r := &run{c: c, opts: opts, d: d, log: opts.Log.With("region", opts.Primary)}
	if err := r.inventory(ctx); err != nil {
		return nil, err
	}
	if err := r.scope(ctx); err != nil {
		return nil, err
	}
	if err := r.app(ctx); err != nil {
		return nil, err
	}
	r.databases()
	if err := r.caches(ctx); err != nil {
		return nil, err
	}
	r.buckets(ctx)
	r.records(ctx)
	r.leftovers()
	if d.LoadBalancer == nil && len(d.Apps) == 0 && len(d.Databases) == 0 && len(d.Caches) == 0 && len(d.Buckets) == 0 {
		return nil, fmt.Errorf("%w in %s: %s", ErrNothingFound, opts.Primary, r.emptyWhy())
	}
	// A load balancer or a cache alone is recreated, not protected: a
	// config with nothing under protect: would validate and copy nothing.
	if len(d.Apps) == 0 && len(d.Databases) == 0 && len(d.Buckets) == 0 {
		var found []string
		if d.LoadBalancer != nil {
			found = append(found, "load balancer "+d.LoadBalancer.Name)
		}
		for _, c := range d.Caches {
			found = append(found, "cache "+c.ID)
		}
		return nil, fmt.Errorf("%w in %s: %s; only %s, which a config cannot protect (nothing to copy)",
			ErrNothingFound, opts.Primary, r.nothingProtectableWhy(), strings.Join(found, ", "))
	}
	d.Stack, d.StackFrom = r.stackName()
	sort.Strings(d.Undecided)
	return d, nil
}

func (r *run) nothingProtectableWhy() string {
	if len(r.opts.Tags) > 0 {
		return "no database, app instance or bucket carries the tags " + tagText(r.opts.Tags)
	}
	return "no database, app instance or bucket was found"
}

func (r *run) emptyWhy() string {
	if len(r.opts.Tags) > 0 {
		return "no load balancer, auto scaling group, instance, database, cache or bucket carries the tags " + tagText(r.opts.Tags)
	}
	return "no load balancer, auto scaling group, instance, database, cache or bucket was found"
}

func tagText(t map[string]string) string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + t[k]
	}
	return strings.Join(parts, ",")
}

func (r *run) undecided(format string, args ...any) {
	r.d.Undecided = append(r.d.Undecided, fmt.Sprintf(format, args...))
}
