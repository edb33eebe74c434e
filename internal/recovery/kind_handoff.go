package recovery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/pilotlight/pilotlight/internal/report"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
)

// The hand-off: the app boots beside the restore instead of after it. Its
// user-data reads the database and cache endpoints from SSM parameters in
// its own region, waiting until they exist; the database and cache kinds
// write each one the moment AWS reports the endpoint (an Aurora cluster's
// at once, an instance's while it is still being restored). Every call is
// to the region the app boots in (static stability).
//
// StepHandoff only removes the parameters on teardown: they are written
// by the database and cache steps, so it is never a step of a recovery.
const StepHandoff = "handoff"

type handoffKind struct{}

// handoffSSM is the part of SSM the hand-off calls.
type handoffSSM interface {
	PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	DeleteParameter(context.Context, *ssm.DeleteParameterInput, ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error)
	ListTagsForResource(context.Context, *ssm.ListTagsForResourceInput, ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error)
}

type handoffClients struct {
	region string
	ssm    handoffSSM
}

func (c *clients) handoff() handoffClients { return handoffClients{region: c.region, ssm: c.ssm} }

// dbEndpointParameter and cacheEndpointParameter are where the app reads
// the endpoints, per operation: a drill beside a failover reads its own.
func (n names) dbEndpointParameter() string    { return n.recoveryParameter("db-endpoint") }
func (n names) cacheEndpointParameter() string { return n.recoveryParameter("cache-endpoint") }

func (n names) recoveryParameter(base string) string {
	p := "/" + n.stack + "/recovery/" + base
	if n.suffix != "" {
		p += "-" + n.suffix
	}
	return p
}

func (handoffKind) ID() string              { return StepHandoff }
func (handoffKind) After() []string         { return []string{StepDatabase, StepCache} }
func (handoffKind) Used(*Recovery) bool     { return false }
func (handoffKind) Plan(r *Recovery) string { return "" }
func (handoffKind) Create(context.Context, *Recovery, *runbook.RunContext) (runbook.Outputs, error) {
	return nil, nil
}

func (handoffKind) TeardownPlan(r *Recovery, opts TeardownOptions) string {
	if r.cfg.Recover.App == nil {
		return ""
	}
	return "delete SSM parameters " + r.n.dbEndpointParameter() + " and " + r.n.cacheEndpointParameter()
}

// Teardown deletes the endpoint parameters this kind of operation wrote.
func (handoffKind) Teardown(ctx context.Context, r *Recovery, opts TeardownOptions) (runbook.Outputs, error) {
	c := r.c.handoff()
	var deleted []string
	for _, name := range []string{r.n.dbEndpointParameter(), r.n.cacheEndpointParameter()} {
		t, err := c.ssm.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name)})
		var nf *ssmtypes.InvalidResourceId
		if errors.As(err, &nf) || isParameterNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list tags of SSM parameter %s: %s: %w", name, c.region, err)
		}
		if !r.owned(ssmTags(t.TagList)) {
			continue
		}
		if _, err := c.ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)}); err != nil && !isParameterNotFound(err) {
			return nil, fmt.Errorf("delete SSM parameter %s: %s: %w", name, c.region, err)
		}
		deleted = append(deleted, name)
	}
	if len(deleted) == 0 {
		return nil, nil
	}
	return runbook.Outputs{"deleted": fmt.Sprint(deleted)}, nil
}

func isParameterNotFound(err error) bool {
	var nf *ssmtypes.ParameterNotFound
	return errors.As(err, &nf)
}

func ssmTags(tl []ssmtypes.Tag) map[string]string {
	m := make(map[string]string, len(tl))
	for _, t := range tl {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// publishEndpoint writes host:port to the parameter, tagged for teardown.
// Tags cannot go with an overwrite, so a parameter a crashed attempt
// already made is overwritten untagged-again (its tags stay).
func publishEndpoint(ctx context.Context, c handoffClients, name, host string, port int, t map[string]string) error {
	value := net.JoinHostPort(host, strconv.Itoa(port))
	var st []ssmtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(t)) {
		st = append(st, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	desc := aws.String("pilotlight: endpoint the recovered app reads at boot")
	_, err := c.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString, Description: desc, Tags: st})
	var exists *ssmtypes.ParameterAlreadyExists
	if errors.As(err, &exists) {
		_, err = c.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString, Description: desc, Overwrite: aws.Bool(true)})
	}
	if err != nil {
		return fmt.Errorf("write endpoint %s to SSM parameter %s: %s: %w", value, name, c.region, err)
	}
	return nil
}

// readEndpoint reads a published endpoint; "" when not written yet.
func readEndpoint(ctx context.Context, c handoffClients, name string) (host string, port int, err error) {
	out, err := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if isParameterNotFound(err) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("read SSM parameter %s: %s: %w", name, c.region, err)
	}
	h, p, err := net.SplitHostPort(aws.ToString(out.Parameter.Value))
	if err != nil {
		return "", 0, fmt.Errorf("SSM parameter %s: %s: %w", name, c.region, err)
	}
	return h, atoi(p), nil
}

// publishOnce publishes an endpoint the first time it is seen.
type publishOnce struct {
	mu   sync.Mutex
	done bool
	c    handoffClients
	name string
	tags map[string]string
}

func (p *publishOnce) publish(ctx context.Context, host string, port int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done || host == "" {
		return nil
	}
	if err := publishEndpoint(ctx, p.c, p.name, host, port, p.tags); err != nil {
		return err
	}
	p.done = true
	return nil
}

// handoffRDS watches the database kind's own describe calls and publishes
// the endpoint the first time AWS reports it: the restore's wait loop is
// already polling, so the app learns the endpoint with no extra call and
// no later than the database step does. A writer instance of a cluster is
// not the endpoint the app uses: only the cluster's is published.
type handoffRDS struct {
	databaseRDS
	id  string
	r   *Recovery
	pub *publishOnce
}

func (h handoffRDS) DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, o ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	out, err := h.databaseRDS.DescribeDBInstances(ctx, in, o...)
	if err != nil || out == nil {
		return out, err
	}
	for _, db := range out.DBInstances {
		if aws.ToString(db.DBInstanceIdentifier) == h.id && db.DBClusterIdentifier == nil && db.Endpoint != nil && h.r.ownedRDS(db.TagList) {
			if err := h.pub.publish(ctx, aws.ToString(db.Endpoint.Address), int(aws.ToInt32(db.Endpoint.Port))); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (h handoffRDS) DescribeDBClusters(ctx context.Context, in *rds.DescribeDBClustersInput, o ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error) {
	out, err := h.databaseRDS.DescribeDBClusters(ctx, in, o...)
	if err != nil || out == nil {
		return out, err
	}
	for _, cl := range out.DBClusters {
		if aws.ToString(cl.DBClusterIdentifier) == h.id && aws.ToString(cl.Endpoint) != "" && h.r.ownedRDS(cl.TagList) {
			if err := h.pub.publish(ctx, aws.ToString(cl.Endpoint), int(aws.ToInt32(cl.Port))); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// handoffCache does for the cache what handoffRDS does for the database.
type handoffCache struct {
	cacheAPI
	id  string
	pub *publishOnce
}

func (h handoffCache) DescribeReplicationGroups(ctx context.Context, in *elasticache.DescribeReplicationGroupsInput, o ...func(*elasticache.Options)) (*elasticache.DescribeReplicationGroupsOutput, error) {
	out, err := h.cacheAPI.DescribeReplicationGroups(ctx, in, o...)
	if err != nil || out == nil {
		return out, err
	}
	for _, rg := range out.ReplicationGroups {
		if aws.ToString(rg.ReplicationGroupId) != h.id {
			continue
		}
		ep := rg.ConfigurationEndpoint
		if ep == nil && len(rg.NodeGroups) > 0 {
			ep = rg.NodeGroups[0].PrimaryEndpoint
		}
		if ep != nil {
			if err := h.pub.publish(ctx, aws.ToString(ep.Address), int(aws.ToInt32(ep.Port))); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// handoffDatabase is the database kind's clients, publishing the endpoint
// for the app when the app is recovered.
func (r *Recovery) handoffDatabase(rc *runbook.RunContext, c databaseClients) databaseClients {
	if r.cfg.Recover.App == nil {
		return c
	}
	pub := &publishOnce{c: r.c.handoff(), name: r.n.dbEndpointParameter(), tags: r.stepTags(rc, StepDatabase, "db-endpoint")}
	c.rds = handoffRDS{databaseRDS: c.rds, id: r.n.db(), r: r, pub: pub}
	return c
}

// handoffCacheClients is handoffDatabase for the cache.
func (r *Recovery) handoffCacheClients(rc *runbook.RunContext, c cacheClients) cacheClients {
	if r.cfg.Recover.App == nil {
		return c
	}
	pub := &publishOnce{c: r.c.handoff(), name: r.n.cacheEndpointParameter(), tags: r.stepTags(rc, StepCache, "cache-endpoint")}
	c.cache = handoffCache{cacheAPI: c.cache, id: r.n.cache(), pub: pub}
	return c
}

// handoffEndpoints are what the launch template is rendered with: the
// parameters to read when the template reads them (the app boots beside
// the restore), otherwise the endpoints themselves, waited for in SSM, for
// a template that still renders .DBHost and .CacheHost in.
func (r *Recovery) handoffEndpoints(ctx context.Context) (Endpoints, error) {
	ep := Endpoints{Region: r.cfg.DR.Region, DBParameter: r.n.dbEndpointParameter(), CacheParameter: r.n.cacheEndpointParameter()}
	if r.cfg.Recover.Database == nil {
		ep.DBParameter = ""
	}
	if r.cfg.Recover.Cache == nil {
		ep.CacheParameter = ""
	}
	if readsHandoff(r.cfg) {
		return ep, nil
	}
	c := r.c.handoff()
	var err error
	if ep.DBParameter != "" {
		ep.DBHost, ep.DBPort, err = waitEndpoint(ctx, c, ep.DBParameter, r.wait)
		if err != nil {
			return ep, err
		}
	}
	if ep.CacheParameter != "" {
		ep.CacheHost, ep.CachePort, err = waitEndpoint(ctx, c, ep.CacheParameter, r.wait)
		if err != nil {
			return ep, err
		}
	}
	ep.DBParameter, ep.CacheParameter = "", ""
	return ep, nil
}

func waitEndpoint(ctx context.Context, c handoffClients, name string, wait waitPolicy) (string, int, error) {
	type hp struct {
		host string
		port int
	}
	v, err := waitFor(ctx, wait, "SSM parameter "+name, func(ctx context.Context) (hp, bool, error) {
		h, p, err := readEndpoint(ctx, c, name)
		return hp{h, p}, h != "", err
	})
	return v.host, v.port, err
}

// handoffCheck checks, after a drill, that the parameters the app read
// hold the recovered endpoints.
func handoffCheck(ctx context.Context, r *Recovery, out journalOutputs) report.Check {
	const name = "SSM hand-off carries the DR endpoints"
	c := r.c.handoff()
	var wrong []string
	for _, e := range []struct {
		param string
		want  endpointOut
		used  bool
	}{
		{r.n.dbEndpointParameter(), databaseOf(out[StepDatabase]), r.cfg.Recover.Database != nil},
		{r.n.cacheEndpointParameter(), cacheOf(out[StepCache]), r.cfg.Recover.Cache != nil},
	} {
		if !e.used {
			continue
		}
		h, p, err := readEndpoint(ctx, c, e.param)
		if err != nil || h != e.want.Host || p != e.want.Port {
			wrong = append(wrong, fmt.Sprintf("%s=%s:%d want %s:%d (%v)", e.param, h, p, e.want.Host, e.want.Port, err))
		}
	}
	return check(name, len(wrong) == 0, "wrong: %s", orDefault(strings.Join(wrong, "; "), "none"))
}

// readsHandoff reports whether the user-data template reads the endpoint
// parameters: rendered without them, it fails on the missing key.
func readsHandoff(cfg *spec.Config) bool {
	if cfg.Recover.App == nil || cfg.Recover.App.UserData == "" {
		return true // nothing renders the endpoints in: nothing to wait for
	}
	return cfg.UserDataReads("DBEndpointParameter") || cfg.UserDataReads("CacheEndpointParameter")
}

// steadyGrace is the app's health-check grace period once it serves:
// recover.app.load_balancer.health_check_grace (default 300 s).
func steadyGrace(cfg *spec.Config) int32 {
	return int32(cfg.Recover.App.LoadBalancer.Grace() / time.Second)
}

// bootGrace is the health-check grace period the app's group starts with.
// Instances booted beside a restore fail the load balancer's health checks
// until the database answers (user-data starts serving only then): with
// the steady 300 s the group would replace them every five minutes of a
// restore, and the instance booting when the database comes up would cost
// a whole boot after it. An hour covers a typical restore; settleGrace
// returns to the steady value once targets are healthy.
func bootGrace(cfg *spec.Config) int32 {
	if cfg.Recover.Database != nil && readsHandoff(cfg) {
		return 3600
	}
	return steadyGrace(cfg)
}

// settleGrace sets the steady grace period on the group, once healthy.
func settleGrace(ctx context.Context, c appClients, name string, cfg *spec.Config) error {
	if bootGrace(cfg) == steadyGrace(cfg) {
		return nil
	}
	if _, err := c.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name), HealthCheckGracePeriod: aws.Int32(steadyGrace(cfg))}); err != nil {
		return fmt.Errorf("set the steady health-check grace period of %s: %s: %w", name, c.region, err)
	}
	return nil
}
