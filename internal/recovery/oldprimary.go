package recovery

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/runbook"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

// After a failback the production the primary served from before (its
// database, its app, its load balancer) still runs and is billed: failback
// names it in its report (FailbackSummary.OldProduction) and never touches
// it. RetireOldPrimary retires exactly what that report named, resolved
// to AWS resources in the primary region, and refuses while the config
// still names any of it as production or the current production still
// uses it. With it go what the failback left for it alone: the snapshots
// that carried the database home (in both regions) and the SSM endpoints
// its app read. The network is not its business: the network in the
// primary is shared by every failback of the stack.

// KindOldPrimary is what `teardown --kind old-primary` retires.
const KindOldPrimary = "old-primary"

// OldPrimary is what one failback replaced.
type OldPrimary struct {
	// Failback is the run id of the failback whose report named it.
	Failback string
	// Completed: that failback finished. Until it has, the old production
	// may be the only one.
	Completed bool
	// Old is the report's old production; Production what serves now,
	// never touched whatever Old says.
	Old, Production []Resource
	// Earlier are the completed failbacks before this one, newest first:
	// a production one of them replaced and nobody retired is named by
	// no later report, so it would run unmentioned for ever. Their old
	// productions are retired too; what of them is gone is not listed.
	Earlier []OldPrimary
}

// failbacks are the run ids of o and every earlier failback.
func (o OldPrimary) failbacks() []string {
	ids := []string{o.Failback}
	for _, e := range o.Earlier {
		ids = append(ids, e.Failback)
	}
	return ids
}

// all are the old-production entries of o and every earlier failback,
// each with whether it is an earlier one's.
func (o OldPrimary) all() []oldEntry {
	var out []oldEntry
	for _, r := range o.Old {
		out = append(out, oldEntry{Resource: r})
	}
	for _, e := range o.Earlier {
		for _, r := range e.Old {
			out = append(out, oldEntry{Resource: r, earlier: true})
		}
	}
	return out
}

type oldEntry struct {
	Resource
	earlier bool
}

// OldPrimaryOf reads what a failback's report says it replaced.
func OldPrimaryOf(rep *Report) OldPrimary {
	o := OldPrimary{Failback: rep.RunID, Completed: rep.Phase == string(runbook.PhaseDone)}
	if s := rep.Failback; s != nil {
		o.Old, o.Production = s.OldProduction, s.Production
	} else {
		o.Completed = false
	}
	return o
}

// RetireOptions shape a retirement.
type RetireOptions struct {
	// DryRun resolves and checks everything, and deletes nothing.
	DryRun bool
	// SkipFinalSnapshot deletes the old database without a final snapshot.
	SkipFinalSnapshot bool
	Now               func() time.Time
	Log               *slog.Logger
	// Wait overrides the polling policy (tests).
	Wait *waitPolicy
}

// What happens to one resource of the old production.
const (
	RetireDelete  = "delete"  // dry run: would be deleted
	RetireDeleted = "deleted" // deleted
	RetireGone    = "gone"    // named by the report, no longer exists
	RetireKept    = "kept"    // found with it but not pilotlight's to delete
	RetireRefused = "refused" // still production: nothing is deleted
	RetireFailed  = "failed"
)

// Resource types a retirement deletes.
const (
	RetireRDSInstance    = "rds-instance"
	RetireRDSCluster     = "rds-cluster"
	RetireASG            = "auto-scaling-group"
	RetireInstance       = "instance"
	RetireLaunchTemplate = "launch-template"
	RetireLoadBalancer   = "load-balancer"
	RetireTargetGroup    = "target-group"
	// The snapshots a failback took to carry the database home.
	RetireSnapshot        = "rds-snapshot"
	RetireClusterSnapshot = "rds-cluster-snapshot"
	// A recovery point of the retired database: listed, kept.
	RetirePoint = "recovery-point"
	// Where the retired app read its endpoints (kind_handoff.go).
	RetireParameter = "ssm-parameter"
)

// RetireItem is one resource of the old production and its fate.
type RetireItem struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// Name is the resource's name where its id is an ARN.
	Name string `json:"name,omitempty"`
	// Region is where it is, for the snapshots (looked for in both
	// regions); empty is the primary.
	Region string `json:"region,omitempty"`
	// From is the report's entry it was found from.
	From  string `json:"from"`
	Phase string `json:"phase"`
	// Note says how it goes (a final snapshot first) or why it stays.
	Note          string `json:"note,omitempty"`
	FinalSnapshot string `json:"final_snapshot,omitempty"`
	Error         string `json:"error,omitempty"`
}

func (it RetireItem) label() string {
	if it.Name != "" {
		return it.Type + " " + it.Name
	}
	return it.Type + " " + it.ID
}

// Retirement is what RetireOldPrimary found, refused and did.
type Retirement struct {
	Stack    string       `json:"stack"`
	Region   string       `json:"region"`
	Failback string       `json:"failback"`
	DryRun   bool         `json:"dry_run,omitempty"`
	Items    []RetireItem `json:"items"`
	// Refused are the reasons nothing was (or would be) deleted.
	Refused []string `json:"refused,omitempty"`
}

// Deletes reports whether the retirement deletes (or would delete)
// anything.
func (r *Retirement) Deletes() bool {
	for _, it := range r.Items {
		if it.Phase == RetireDelete || it.Phase == RetireDeleted {
			return true
		}
	}
	return false
}

// ErrRetireRefused marks a retirement refused as a whole.
var ErrRetireRefused = errors.New("old production not retired")

// retireEC2 is the part of EC2 a retirement calls: the in-use reads
// (inuse.go) and the deletes.
type retireEC2 interface {
	inUseEC2
	TerminateInstances(context.Context, *ec2.TerminateInstancesInput, ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	DeleteLaunchTemplate(context.Context, *ec2.DeleteLaunchTemplateInput, ...func(*ec2.Options)) (*ec2.DeleteLaunchTemplateOutput, error)
}

type retireELB interface {
	inUseELB
	DescribeTargetGroups(context.Context, *elb.DescribeTargetGroupsInput, ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
	DescribeTargetHealth(context.Context, *elb.DescribeTargetHealthInput, ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error)
	DescribeTags(context.Context, *elb.DescribeTagsInput, ...func(*elb.Options)) (*elb.DescribeTagsOutput, error)
	DeleteLoadBalancer(context.Context, *elb.DeleteLoadBalancerInput, ...func(*elb.Options)) (*elb.DeleteLoadBalancerOutput, error)
	DeleteTargetGroup(context.Context, *elb.DeleteTargetGroupInput, ...func(*elb.Options)) (*elb.DeleteTargetGroupOutput, error)
}

type retireASG interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DeleteAutoScalingGroup(context.Context, *autoscaling.DeleteAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error)
}

// retireSnapshots is the part of RDS a retirement calls, in both
// regions, for the snapshots a failback left.
type retireSnapshots interface {
	DescribeDBSnapshots(context.Context, *rds.DescribeDBSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	DescribeDBClusterSnapshots(context.Context, *rds.DescribeDBClusterSnapshotsInput, ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
	DeleteDBSnapshot(context.Context, *rds.DeleteDBSnapshotInput, ...func(*rds.Options)) (*rds.DeleteDBSnapshotOutput, error)
	DeleteDBClusterSnapshot(context.Context, *rds.DeleteDBClusterSnapshotInput, ...func(*rds.Options)) (*rds.DeleteDBClusterSnapshotOutput, error)
}

// retirer holds one retirement's clients (the primary region's, and
// Route 53 through the DR region's, as everything else that reads DNS)
// and what it learns while resolving.
type retirer struct {
	cfg    *spec.Config
	env    *awsenv.Env
	region string
	ec2    retireEC2
	elb    retireELB
	asg    retireASG
	db     databaseClients
	home   *clients
	dns    dnsClients
	snaps  map[string]retireSnapshots // by region
	opts   RetireOptions
	wait   waitPolicy
	res    *Retirement

	// Learnt while resolving, for the checks.
	asgs       []asgInfo // every auto scaling group of the region
	lbs        []elbtypes.LoadBalancer
	tgs        []elbtypes.TargetGroup // every target group of the region
	endpoint   map[string]string      // DB item id -> its endpoint address
	members    map[string][]string    // ASG name -> its instance ids
	pendingLTs []pendingLT            // launch templates of retired groups
}

// pendingLT is the launch template of a group being retired, looked at
// once every group is known.
type pendingLT struct{ id, from string }

type asgInfo struct {
	name, lt string
	tgs      []string
	ids      []string
}

// RetireOldPrimary retires the old production a failback named: its
// auto scaling groups and instances, their launch templates and the load
// balancer with its target groups where pilotlight made them, and the
// database after a final snapshot (unless SkipFinalSnapshot). It refuses,
// deleting nothing, when the failback has not completed, when the config
// still names one of them as production (recover.database.from,
// protect.databases, recover.dns.primary_target, a protect.images
// selector), or when the current production still uses one (DNS points at
// the load balancer, a group that stays registers in its target group, a
// launch template that stays reads the database's endpoint). A resource
// already gone is success, so a retirement resumes by running it again.
func RetireOldPrimary(ctx context.Context, cfg *spec.Config, env *awsenv.Env, old OldPrimary, opts RetireOptions) (*Retirement, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	w := defaultWait().in(env)
	if opts.Wait != nil {
		w = *opts.Wait
	}
	home := newClients(env, cfg.Primary.Region)
	r := &retirer{
		cfg: cfg, env: env, region: cfg.Primary.Region, ec2: home.ec2, elb: home.elb, asg: home.asg, db: home.database(), home: home,
		dns: newClients(env, cfg.DR.Region).dns(), opts: opts, wait: w,
		snaps:    map[string]retireSnapshots{cfg.Primary.Region: home.rds, cfg.DR.Region: newClients(env, cfg.DR.Region).rds},
		res:      &Retirement{Stack: cfg.Stack, Region: cfg.Primary.Region, Failback: old.Failback, DryRun: opts.DryRun, Items: []RetireItem{}},
		endpoint: map[string]string{}, members: map[string][]string{},
	}
	switch {
	case old.Failback == "":
		r.refuse("no failback of %s is recorded: there is no old production to retire", cfg.Stack)
		return r.res, r.refusal()
	case !old.Completed:
		r.refuse("failback %s has not completed: until it has, the old production may be the only one; run `pilotlight failback` to finish it first", old.Failback)
		return r.res, r.refusal()
	}
	if err := r.resolve(ctx, old); err != nil {
		return r.res, err
	}
	if err := r.check(ctx, old); err != nil {
		return r.res, err
	}
	if len(r.res.Refused) > 0 {
		for i := range r.res.Items {
			if r.res.Items[i].Phase == RetireDelete {
				r.res.Items[i].Phase = RetireRefused
			}
		}
		return r.res, r.refusal()
	}
	if opts.DryRun {
		return r.res, nil
	}
	return r.res, r.delete(ctx)
}

func (r *retirer) refuse(format string, args ...any) {
	r.res.Refused = append(r.res.Refused, fmt.Sprintf(format, args...))
}

func (r *retirer) refusal() error {
	return fmt.Errorf("%w: %s", ErrRetireRefused, strings.Join(r.res.Refused, "; "))
}

func (r *retirer) add(it RetireItem) {
	for _, have := range r.res.Items {
		if have.Type == it.Type && have.ID == it.ID && have.Region == it.Region {
			return
		}
	}
	r.res.Items = append(r.res.Items, it)
}

// deleting reports whether the retirement deletes the resource typ id.
func (r *retirer) deleting(typ, id string) bool {
	for _, it := range r.res.Items {
		if it.Type == typ && it.ID == id && it.Phase == RetireDelete {
			return true
		}
	}
	return false
}

// resolve turns the report's entries into AWS resources of the primary.
func (r *retirer) resolve(ctx context.Context, old OldPrimary) error {
	if err := r.readRegion(ctx); err != nil {
		return err
	}
	for _, o := range old.all() {
		from := o.Type + " " + o.ID
		n := len(r.res.Items)
		var err error
		switch o.Type {
		case "rds", "rds-cluster":
			err = r.resolveDB(ctx, o.ID, from)
		case "instance":
			err = r.resolveInstances(ctx, o.ID, from)
		case "auto-scaling-group":
			r.resolveASG(o.ID, from)
		case "load-balancer":
			err = r.resolveLB(ctx, o.ID, from)
		default:
			r.add(RetireItem{Type: o.Type, ID: o.ID, From: from, Phase: RetireKept, Note: "not a kind retire knows how to delete: retire it by hand"})
		}
		if err != nil {
			return err
		}
		if o.earlier {
			// Retired long ago: not worth a row.
			kept := r.res.Items[:n]
			for _, it := range r.res.Items[n:] {
				if it.Phase != RetireGone {
					kept = append(kept, it)
				}
			}
			r.res.Items = kept
		}
	}
	if err := r.resolveLTs(ctx); err != nil {
		return err
	}
	if err := r.resolveSnapshots(ctx, old); err != nil {
		return err
	}
	return r.resolveParameters(ctx, old)
}

// oldGenerations are the failback generations (names.go) the old
// production was built as, read from its database and load balancer; the
// hand-built production is generation 0 and has none.
func (r *retirer) oldGenerations(old OldPrimary) []int {
	var gens []int
	for _, o := range old.all() {
		g := 0
		switch o.Type {
		case "rds", "rds-cluster":
			_, g = splitFailbackDB(r.cfg.Stack, o.ID)
		case "load-balancer":
			g = lbGeneration(r.cfg.Stack, o.ID)
		}
		if g > 0 && !slices.Contains(gens, g) {
			gens = append(gens, g)
		}
	}
	return gens
}

// resolveParameters adds the SSM parameters the retired app read its
// endpoints from: each generation has its own, so they go with it.
func (r *retirer) resolveParameters(ctx context.Context, old OldPrimary) error {
	c := r.home.handoff()
	current := failbackGeneration(r.cfg) - 1
	for _, g := range r.oldGenerations(old) {
		if g == current {
			continue // the config names it as serving: check refuses the rest
		}
		n := newNames(r.cfg, "fb"+strconv.Itoa(g))
		for _, name := range []string{n.dbEndpointParameter(), n.cacheEndpointParameter()} {
			t, err := c.ssm.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name)})
			var nf *ssmtypes.InvalidResourceId
			if errors.As(err, &nf) || isParameterNotFound(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("list tags of SSM parameter %s: %s: %w", name, r.region, err)
			}
			if m := ssmTags(t.TagList); tags.Managed(m, r.cfg.Stack) && m[tags.OpKind] == KindFailback {
				r.add(RetireItem{Type: RetireParameter, ID: name, From: "failback generation " + strconv.Itoa(g), Phase: RetireDelete,
					Note: "where the retired app read its endpoint"})
			}
		}
	}
	return nil
}

// resolveSnapshots finds, in both regions, the snapshots the failback
// took to carry the database home (tagged with its run): the new
// production is restored and serves, so they go with the old one. The
// recovery points of the retired database are listed and kept: they are
// backups, no longer under any retention, for the user to judge.
func (r *retirer) resolveSnapshots(ctx context.Context, old OldPrimary) error {
	var retired []string
	for _, o := range old.all() {
		if o.Type == "rds" || o.Type == "rds-cluster" {
			retired = append(retired, o.ID)
		}
	}
	for _, region := range []string{r.cfg.Primary.Region, r.cfg.DR.Region} {
		c := r.snaps[region]
		found := map[string]string{} // id -> type
		tagsOf := map[string]map[string]string{}
		p := rds.NewDescribeDBSnapshotsPaginator(c, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describe DB snapshots: %s: %w", region, err)
			}
			for _, s := range page.DBSnapshots {
				id := aws.ToString(s.DBSnapshotIdentifier)
				found[id], tagsOf[id] = RetireSnapshot, tags.FromRDS(s.TagList)
			}
		}
		cp := rds.NewDescribeDBClusterSnapshotsPaginator(c, &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
		for cp.HasMorePages() {
			page, err := cp.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describe DB cluster snapshots: %s: %w", region, err)
			}
			for _, s := range page.DBClusterSnapshots {
				id := aws.ToString(s.DBClusterSnapshotIdentifier)
				found[id], tagsOf[id] = RetireClusterSnapshot, tags.FromRDS(s.TagList)
			}
		}
		ids := make([]string, 0, len(found))
		for id := range found {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			t := tagsOf[id]
			if !tags.Managed(t, r.cfg.Stack) {
				continue
			}
			switch {
			case t[tags.OpKind] == KindFailback && slices.Contains(old.failbacks(), t[tags.Operation]):
				r.add(RetireItem{Type: found[id], ID: id, Region: region, From: "failback " + t[tags.Operation], Phase: RetireDelete,
					Note: "the failback's copy of " + t[tags.Resource] + " on its way home: the new production is restored from it and serves"})
			case t[tags.OpKind] == "" && slices.Contains(retired, t[tags.Resource]):
				r.add(RetireItem{Type: RetirePoint, ID: id, Region: region, From: "rds " + t[tags.Resource], Phase: RetireKept,
					Note: "recovery point of the retired " + t[tags.Resource] + ": kept, under no retention now; delete it by hand when no longer needed"})
			}
		}
	}
	return nil
}

// resolveLTs adds the launch templates of the groups being retired: the
// ones pilotlight made go with their group; a template someone else made
// is left for them.
func (r *retirer) resolveLTs(ctx context.Context) error {
	for _, p := range r.pendingLTs {
		out, err := r.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{p.id}})
		if err != nil || len(out.LaunchTemplates) == 0 {
			// InvalidLaunchTemplateId.NotFound: already gone.
			continue
		}
		lt := out.LaunchTemplates[0]
		it := RetireItem{Type: RetireLaunchTemplate, ID: p.id, Name: aws.ToString(lt.LaunchTemplateName), From: p.from, Phase: RetireDelete}
		if !tags.Managed(tags.FromEC2(lt.Tags), r.cfg.Stack) {
			it.Phase, it.Note = RetireKept, "not made by pilotlight: left"
		}
		r.add(it)
	}
	return nil
}

// readRegion reads every auto scaling group, load balancer and target
// group of the primary once: the report's entries resolve among them, and
// the checks ask who else uses what.
func (r *retirer) readRegion(ctx context.Context) error {
	ap := autoscaling.NewDescribeAutoScalingGroupsPaginator(r.asg, &autoscaling.DescribeAutoScalingGroupsInput{})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe auto scaling groups: %s: %w", r.region, err)
		}
		for _, g := range page.AutoScalingGroups {
			a := asgInfo{name: aws.ToString(g.AutoScalingGroupName), tgs: g.TargetGroupARNs}
			switch {
			case g.LaunchTemplate != nil:
				a.lt = aws.ToString(g.LaunchTemplate.LaunchTemplateId)
			case g.MixedInstancesPolicy != nil && g.MixedInstancesPolicy.LaunchTemplate != nil && g.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification != nil:
				a.lt = aws.ToString(g.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId)
			}
			for _, i := range g.Instances {
				a.ids = append(a.ids, aws.ToString(i.InstanceId))
			}
			r.asgs = append(r.asgs, a)
		}
	}
	lp := elb.NewDescribeLoadBalancersPaginator(r.elb, &elb.DescribeLoadBalancersInput{})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe load balancers: %s: %w", r.region, err)
		}
		r.lbs = append(r.lbs, page.LoadBalancers...)
	}
	tp := elb.NewDescribeTargetGroupsPaginator(r.elb, &elb.DescribeTargetGroupsInput{})
	for tp.HasMorePages() {
		page, err := tp.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe target groups: %s: %w", r.region, err)
		}
		r.tgs = append(r.tgs, page.TargetGroups...)
	}
	return nil
}

func (r *retirer) resolveDB(ctx context.Context, id, from string) error {
	inst, err := describeInstance(ctx, r.db, id)
	if err != nil {
		return err
	}
	final := ""
	if !r.opts.SkipFinalSnapshot {
		final = fit(id+"-final-"+r.opts.Now().UTC().Format("20060102150405"), 255)
	}
	note := func() string {
		if final == "" {
			return "no final snapshot (--skip-final-snapshot)"
		}
		return "a final snapshot " + final + " is taken first"
	}
	if inst != nil && inst.DBClusterIdentifier == nil {
		if inst.Endpoint != nil {
			r.endpoint[id] = aws.ToString(inst.Endpoint.Address)
		}
		it := RetireItem{Type: RetireRDSInstance, ID: id, From: from, Phase: RetireDelete, Note: note(), FinalSnapshot: final}
		if s := aws.ToString(inst.DBInstanceStatus); s == "deleting" {
			it.Phase, it.Note, it.FinalSnapshot = RetireGone, "already deleting", ""
		}
		if aws.ToBool(inst.DeletionProtection) {
			r.refuse("DB instance %s in %s has deletion protection on: whoever set it turns it off (pilotlight never does)", id, r.region)
		}
		if len(inst.ReadReplicaDBInstanceIdentifiers) > 0 || len(inst.ReadReplicaDBClusterIdentifiers) > 0 {
			r.refuse("DB instance %s in %s is the source of read replicas %s: something still reads from it", id, r.region,
				strings.Join(append(inst.ReadReplicaDBInstanceIdentifiers, inst.ReadReplicaDBClusterIdentifiers...), ", "))
		}
		r.add(it)
		return nil
	}
	cl, err := describeCluster(ctx, r.db, id)
	if err != nil {
		return err
	}
	if cl == nil {
		r.add(RetireItem{Type: RetireRDSInstance, ID: id, From: from, Phase: RetireGone, Note: "no DB instance or cluster " + id + " in " + r.region})
		return nil
	}
	r.endpoint[id] = aws.ToString(cl.Endpoint)
	// A cluster's instances go first, without snapshots of their own: the
	// cluster's final snapshot holds the data.
	for _, m := range cl.DBClusterMembers {
		r.add(RetireItem{Type: RetireRDSInstance, ID: aws.ToString(m.DBInstanceIdentifier), From: from, Phase: RetireDelete,
			Note: "instance of cluster " + id})
	}
	if aws.ToBool(cl.DeletionProtection) {
		r.refuse("DB cluster %s in %s has deletion protection on: whoever set it turns it off (pilotlight never does)", id, r.region)
	}
	if len(cl.ReadReplicaIdentifiers) > 0 {
		r.refuse("DB cluster %s in %s is the source of read replicas %s: something still reads from it", id, r.region, strings.Join(cl.ReadReplicaIdentifiers, ", "))
	}
	r.add(RetireItem{Type: RetireRDSCluster, ID: id, From: from, Phase: RetireDelete, Note: note(), FinalSnapshot: final})
	return nil
}

// parseSelector reads back describeSelector's text (failback_report.go):
// an instance id, or "tagged k=v,k2=v2".
func parseSelector(s string) (spec.InstanceSelector, bool) {
	if rest, ok := strings.CutPrefix(s, "tagged "); ok {
		sel := spec.InstanceSelector{Tag: map[string]string{}}
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return spec.InstanceSelector{}, false
			}
			sel.Tag[k] = v
		}
		return sel, true
	}
	if strings.HasPrefix(s, "i-") && !strings.ContainsAny(s, " ,=") {
		return spec.InstanceSelector{ID: s}, true
	}
	return spec.InstanceSelector{}, false
}

// selectInstances lists the live instances of the primary a selector
// picks.
func (r *retirer) selectInstances(ctx context.Context, sel spec.InstanceSelector) ([]ec2types.Instance, error) {
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}}}
	if sel.ID != "" {
		in.InstanceIds = []string{sel.ID}
	}
	keys := make([]string, 0, len(sel.Tag))
	for k := range sel.Tag {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{sel.Tag[k]}})
	}
	var out []ec2types.Instance
	p := ec2.NewDescribeInstancesPaginator(r.ec2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if sel.ID != "" && strings.Contains(err.Error(), "InvalidInstanceID.NotFound") {
				return nil, nil
			}
			return nil, fmt.Errorf("describe instances: %s: %w", r.region, err)
		}
		for _, res := range page.Reservations {
			for _, i := range res.Instances {
				// Filters a service ignores must not widen the selection.
				t := tags.FromEC2(i.Tags)
				ok := sel.ID == "" || aws.ToString(i.InstanceId) == sel.ID
				for k, v := range sel.Tag {
					ok = ok && t[k] == v
				}
				if ok && i.State != nil && i.State.Name != ec2types.InstanceStateNameTerminated && i.State.Name != ec2types.InstanceStateNameShuttingDown {
					out = append(out, i)
				}
			}
		}
	}
	return out, nil
}

// asgTag is the tag Auto Scaling puts on the instances of a group.
const asgTag = "aws:autoscaling:groupName"

func (r *retirer) resolveInstances(ctx context.Context, selText, from string) error {
	sel, ok := parseSelector(selText)
	if !ok {
		r.add(RetireItem{Type: RetireInstance, ID: selText, From: from, Phase: RetireKept, Note: "cannot read this selector back: retire it by hand"})
		return nil
	}
	found, err := r.selectInstances(ctx, sel)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		r.add(RetireItem{Type: RetireInstance, ID: selText, From: from, Phase: RetireGone, Note: "no live instance in " + r.region + " is " + selText})
	}
	for _, i := range found {
		// An instance of an auto scaling group would come back: the group
		// is what retires.
		if g := tags.FromEC2(i.Tags)[asgTag]; g != "" {
			r.resolveASG(g, from)
			continue
		}
		r.add(RetireItem{Type: RetireInstance, ID: aws.ToString(i.InstanceId), From: from, Phase: RetireDelete, Note: "terminated"})
	}
	return nil
}

func (r *retirer) findASG(name string) (asgInfo, bool) {
	for _, g := range r.asgs {
		if g.name == name {
			return g, true
		}
	}
	return asgInfo{}, false
}

func (r *retirer) resolveASG(name, from string) {
	g, ok := r.findASG(name)
	if !ok {
		r.add(RetireItem{Type: RetireASG, ID: name, From: from, Phase: RetireGone, Note: "no auto scaling group " + name + " in " + r.region})
		return
	}
	r.members[name] = g.ids
	r.add(RetireItem{Type: RetireASG, ID: name, From: from, Phase: RetireDelete, Note: fmt.Sprintf("with its %d instances", len(g.ids))})
	if g.lt != "" {
		r.pendingLTs = append(r.pendingLTs, pendingLT{id: g.lt, from: from})
	}
}

func (r *retirer) resolveLB(ctx context.Context, target, from string) error {
	var lb *elbtypes.LoadBalancer
	for i := range r.lbs {
		if normDNS(aws.ToString(r.lbs[i].DNSName)) == normDNS(target) || aws.ToString(r.lbs[i].LoadBalancerName) == target || aws.ToString(r.lbs[i].LoadBalancerArn) == target {
			lb = &r.lbs[i]
		}
	}
	if lb == nil {
		r.add(RetireItem{Type: RetireLoadBalancer, ID: target, From: from, Phase: RetireGone,
			Note: "no load balancer (ELBv2) in " + r.region + " answers as " + target + ": nothing to delete here (a Classic Load Balancer, or one elsewhere, is retired by hand)"})
		return nil
	}
	arn := aws.ToString(lb.LoadBalancerArn)
	r.add(RetireItem{Type: RetireLoadBalancer, ID: arn, Name: aws.ToString(lb.LoadBalancerName), From: from, Phase: RetireDelete, Note: "with its listeners"})
	for _, tg := range r.tgs {
		if !slices.Contains(tg.LoadBalancerArns, arn) {
			continue
		}
		it := RetireItem{Type: RetireTargetGroup, ID: aws.ToString(tg.TargetGroupArn), Name: aws.ToString(tg.TargetGroupName), From: from, Phase: RetireDelete}
		mine, err := r.madeByPilotlight(ctx, it.ID)
		if err != nil {
			return err
		}
		if !mine {
			it.Phase, it.Note = RetireKept, "not made by pilotlight: left (it costs nothing once its load balancer is gone)"
		}
		r.add(it)
	}
	return nil
}

func normDNS(s string) string {
	return strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(s), "."), "dualstack.")
}

// madeByPilotlight reports whether an ELBv2 resource carries the stack's
// tags.
func (r *retirer) madeByPilotlight(ctx context.Context, arn string) (bool, error) {
	out, err := r.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		return false, fmt.Errorf("describe tags of %s: %s: %w", arn, r.region, err)
	}
	for _, d := range out.TagDescriptions {
		return tags.Managed(tags.FromELB(d.Tags), r.cfg.Stack), nil
	}
	return false, nil
}

// lbDNS is the DNS name of a load balancer the retirement found.
func (r *retirer) lbDNS(arn string) string {
	for _, lb := range r.lbs {
		if aws.ToString(lb.LoadBalancerArn) == arn {
			return aws.ToString(lb.DNSName)
		}
	}
	return ""
}

// check refuses what is production now: what the config names, what the
// failback's report calls production, and what the current production
// still uses.
func (r *retirer) check(ctx context.Context, old OldPrimary) error {
	cfg := r.cfg
	apply := "apply the config change `pilotlight failback` printed (or run it with --write-config) first"
	prod := map[string]bool{}
	for _, p := range old.Production {
		prod[p.ID] = true
		prod[normDNS(p.ID)] = true
	}
	for _, it := range r.res.Items {
		if it.Phase != RetireDelete {
			continue
		}
		if prod[it.ID] || (it.Name != "" && prod[it.Name]) {
			r.refuse("%s is production now (failback %s's report)", it.label(), old.Failback)
		}
		switch it.Type {
		case RetireRDSInstance, RetireRDSCluster:
			if d := cfg.Recover.Database; d != nil && d.From == it.ID {
				r.refuse("recover.database.from still names %s: the next failover would restore it; %s", it.ID, apply)
			}
			if _, ok := cfg.Database(it.ID); ok {
				r.refuse("protect.databases still protects %s; %s", it.ID, apply)
			}
		case RetireLoadBalancer:
			dns := r.lbDNS(it.ID)
			if prod[normDNS(dns)] {
				r.refuse("%s (%s) is production now (failback %s's report)", it.label(), dns, old.Failback)
			}
			if d := cfg.Recover.DNS; d != nil && d.PrimaryTarget != "" && normDNS(d.PrimaryTarget) == normDNS(dns) {
				r.refuse("recover.dns.primary_target still names %s (%s); %s", it.label(), dns, apply)
			}
		}
	}
	// An image selector that picks the old app would make the next backup
	// fail (or, worse, image what no longer serves).
	for _, im := range cfg.Protect.Images {
		found, err := r.selectInstances(ctx, im.Instance)
		if err != nil {
			return err
		}
		for _, i := range found {
			id := aws.ToString(i.InstanceId)
			if r.deleting(RetireInstance, id) || r.deleting(RetireASG, tags.FromEC2(i.Tags)[asgTag]) {
				r.refuse("protect.images %s still selects instance %s of the old production: point it at an instance of the new production (the note failback printed)", im.Name, id)
			}
		}
	}
	return r.checkInUse(ctx)
}

// checkInUse asks who still uses what the retirement would delete, as
// `teardown --network` does (inuse.go): a user that stays keeps it, and is
// named.
func (r *retirer) checkInUse(ctx context.Context) error {
	u := users{}
	for _, g := range r.asgs {
		if r.deleting(RetireASG, g.name) {
			continue
		}
		who := "auto scaling group " + g.name + " (stays)"
		for _, tg := range g.tgs {
			u.add(tg, who)
		}
		if g.lt != "" {
			u.add(g.lt, who)
		}
	}
	var stayingTGs []string
	for _, tg := range r.tgs {
		arn := aws.ToString(tg.TargetGroupArn)
		for _, lb := range tg.LoadBalancerArns {
			if !r.deleting(RetireLoadBalancer, lb) {
				u.add(arn, "load balancer "+lbName(lb)+" (stays)")
				stayingTGs = append(stayingTGs, arn)
			}
		}
	}
	for _, it := range r.res.Items {
		if it.Phase != RetireDelete && it.Type != RetireTargetGroup {
			continue
		}
		switch it.Type {
		case RetireASG:
			g, _ := r.findASG(it.ID)
			for _, tg := range g.tgs {
				for _, who := range u[tg] {
					if strings.HasPrefix(who, "load balancer ") {
						r.refuse("%s is registered in target group %s, which %s still routes to", it.label(), lbName(tg), who)
					}
				}
			}
		case RetireLaunchTemplate:
			if w := u.of(it.ID); len(w) > 0 {
				r.refuse("%s: launch template %s", it.label(), strings.Join(w, "; "))
			}
		case RetireTargetGroup:
			for _, who := range u[it.ID] {
				// A target group that stays (not pilotlight's) matters
				// only when an app that stays registers in it: then the
				// old load balancer still serves that app.
				if it.Phase == RetireDelete || strings.HasPrefix(who, "auto scaling group ") {
					r.refuse("target group %s of the old load balancer is used by %s", it.Name, who)
				}
			}
		case RetireLoadBalancer:
			if err := r.checkRecord(ctx, it); err != nil {
				return err
			}
		}
	}
	// An instance that a staying load balancer routes to serves.
	if r.hasItem(RetireInstance) {
		for _, tg := range sortedUniq(stayingTGs) {
			h, err := r.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
			if err != nil {
				return fmt.Errorf("describe target health of %s: %s: %w", tg, r.region, err)
			}
			for _, d := range h.TargetHealthDescriptions {
				if d.Target != nil {
					u.add(aws.ToString(d.Target.Id), "target group "+lbName(tg)+" of a load balancer that stays")
				}
			}
		}
		for _, it := range r.res.Items {
			if it.Type == RetireInstance && it.Phase == RetireDelete {
				if w := u.of(it.ID); len(w) > 0 {
					r.refuse("instance %s", strings.Join(w, "; "))
				}
			}
		}
	}
	return r.checkDBUsers(ctx)
}

func (r *retirer) hasItem(typ string) bool {
	for _, it := range r.res.Items {
		if it.Type == typ && it.Phase == RetireDelete {
			return true
		}
	}
	return false
}

// lbName is the name in an ELBv2 ARN (load balancer or target group).
func lbName(arn string) string {
	parts := strings.Split(arn, "/")
	switch {
	case strings.Contains(arn, ":targetgroup/") && len(parts) >= 2:
		return parts[1]
	case len(parts) >= 3:
		return parts[2]
	}
	return arn
}

// checkRecord refuses a load balancer the stack's record still sends
// users to (a plain record or either of a failover pair).
func (r *retirer) checkRecord(ctx context.Context, it RetireItem) error {
	d := r.cfg.Recover.DNS
	if d == nil {
		return nil
	}
	dns := r.lbDNS(it.ID)
	zoneID, err := findZone(ctx, r.dns, d.Zone)
	if err != nil {
		return err
	}
	plain, err := plainRecords(ctx, r.dns, zoneID, d.Record)
	if err != nil {
		return err
	}
	pair, err := failoverRecords(ctx, r.dns, zoneID, d.Record)
	if err != nil {
		return err
	}
	for _, rr := range pair {
		plain = append(plain, rr)
	}
	for _, rr := range plain {
		if pointsAt(rr, dns) {
			r.refuse("%s: the record %s still sends users to it (%s)", it.label(), d.Record, recordText(rr))
		}
	}
	return nil
}

// checkDBUsers refuses a database whose endpoint an app that stays reads:
// rendered into a launch template's user-data, or handed off in SSM.
func (r *retirer) checkDBUsers(ctx context.Context) error {
	var hosts []string
	for id, h := range r.endpoint {
		if h != "" && (r.deleting(RetireRDSInstance, id) || r.deleting(RetireRDSCluster, id)) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	u := users{}
	p := ec2.NewDescribeLaunchTemplatesPaginator(r.ec2, &ec2.DescribeLaunchTemplatesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe launch templates: %s: %w", r.region, err)
		}
		for _, lt := range page.LaunchTemplates {
			id := aws.ToString(lt.LaunchTemplateId)
			if r.deleting(RetireLaunchTemplate, id) {
				continue
			}
			v, err := r.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), Versions: []string{"$Latest", "$Default"}})
			if err != nil {
				return fmt.Errorf("describe launch template %s: %s: %w", id, r.region, err)
			}
			for _, ver := range v.LaunchTemplateVersions {
				if ver.LaunchTemplateData == nil {
					continue
				}
				ud, _ := base64.StdEncoding.DecodeString(aws.ToString(ver.LaunchTemplateData.UserData))
				for _, h := range hosts {
					if strings.Contains(string(ud), h) {
						u.add(h, "the user-data of launch template "+aws.ToString(lt.LaunchTemplateName)+" ("+id+")")
					}
				}
			}
		}
	}
	// The parameter the serving app reads its endpoint from: its
	// generation's (names.go), as the config names it now.
	var params []string
	if g := failbackGeneration(r.cfg) - 1; g > 0 {
		params = append(params, newNames(r.cfg, "fb"+strconv.Itoa(g)).dbEndpointParameter())
	}
	for _, name := range params {
		h, _, err := readEndpoint(ctx, r.home.handoff(), name)
		if err != nil {
			return err
		}
		if slices.Contains(hosts, h) {
			u.add(h, "SSM parameter "+name)
		}
	}
	for id, h := range r.endpoint {
		if w := u[h]; len(w) > 0 {
			r.refuse("the old database %s (%s) is still read by %s", id, h, strings.Join(w, ", "))
		}
	}
	return nil
}

// deleteRank orders the deletes: the app before what it reads, the load
// balancer before its target groups, a cluster's instances before it.
var deleteRank = map[string]int{RetireASG: 0, RetireInstance: 1, RetireLaunchTemplate: 2, RetireLoadBalancer: 3, RetireTargetGroup: 4, RetireRDSInstance: 5, RetireRDSCluster: 6,
	RetireSnapshot: 7, RetireClusterSnapshot: 7, RetireParameter: 8}

// delete deletes every item to delete, in deleteRank order; one that
// fails is recorded and the rest that do not depend on it go on.
func (r *retirer) delete(ctx context.Context) error {
	idx := make([]int, len(r.res.Items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ia, ib := r.res.Items[idx[a]], r.res.Items[idx[b]]
		return deleteRank[ia.Type] < deleteRank[ib.Type]
	})
	var errs []error
	for _, i := range idx {
		it := &r.res.Items[i]
		if it.Phase != RetireDelete {
			continue
		}
		r.opts.Log.Info("retiring old production", "stack", r.cfg.Stack, "region", r.region, "resource", it.ID, "type", it.Type)
		if err := r.deleteOne(ctx, it); err != nil {
			it.Phase, it.Error = RetireFailed, err.Error()
			errs = append(errs, err)
			continue
		}
		it.Phase = RetireDeleted
		if it.FinalSnapshot != "" {
			it.Note = "its final snapshot " + it.FinalSnapshot + " is kept"
		}
	}
	return errors.Join(errs...)
}

func (r *retirer) deleteOne(ctx context.Context, it *RetireItem) error {
	switch it.Type {
	case RetireASG:
		if _, err := r.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(it.ID), ForceDelete: aws.Bool(true)}); err != nil {
			return fmt.Errorf("delete auto scaling group %s: %s: %w", it.ID, r.region, err)
		}
		_, err := waitFor(ctx, r.wait, "deletion of auto scaling group "+it.ID, func(ctx context.Context) (struct{}, bool, error) {
			out, err := r.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{it.ID}})
			if err != nil {
				return struct{}{}, false, fmt.Errorf("describe auto scaling group %s: %s: %w", it.ID, r.region, err)
			}
			return struct{}{}, len(out.AutoScalingGroups) == 0, nil
		})
		if err != nil {
			return err
		}
		return r.waitTerminated(ctx, r.members[it.ID])
	case RetireInstance:
		if _, err := r.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{it.ID}}); err != nil {
			return fmt.Errorf("terminate instance %s: %s: %w", it.ID, r.region, err)
		}
		return r.waitTerminated(ctx, []string{it.ID})
	case RetireLaunchTemplate:
		if _, err := r.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(it.ID)}); err != nil && !strings.Contains(err.Error(), "NotFound") {
			return fmt.Errorf("delete launch template %s (%s): %s: %w", it.Name, it.ID, r.region, err)
		}
	case RetireLoadBalancer:
		if _, err := r.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(it.ID)}); err != nil {
			var nf *elbtypes.LoadBalancerNotFoundException
			if !errors.As(err, &nf) {
				return fmt.Errorf("delete load balancer %s: %s: %w", it.Name, r.region, err)
			}
		}
	case RetireTargetGroup:
		// A target group frees up once its load balancer's listeners are
		// gone; ELB answers ResourceInUse until then.
		_, err := waitFor(ctx, r.wait, "deletion of target group "+it.Name, func(ctx context.Context) (struct{}, bool, error) {
			_, err := r.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(it.ID)})
			var inUse *elbtypes.ResourceInUseException
			var nf *elbtypes.TargetGroupNotFoundException
			switch {
			case errors.As(err, &inUse):
				return struct{}{}, false, nil
			case err == nil || errors.As(err, &nf):
				return struct{}{}, true, nil
			}
			return struct{}{}, false, err
		})
		if err != nil {
			return fmt.Errorf("delete target group %s: %s: %w", it.Name, r.region, err)
		}
	case RetireRDSInstance:
		in := &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(it.ID), SkipFinalSnapshot: aws.Bool(it.FinalSnapshot == "")}
		if it.FinalSnapshot != "" {
			in.FinalDBSnapshotIdentifier = aws.String(it.FinalSnapshot)
		}
		if _, err := r.db.rds.DeleteDBInstance(ctx, in); err != nil && !isRDSNotFound(err) {
			return fmt.Errorf("delete DB instance %s: %s: %w", it.ID, r.region, err)
		}
		_, err := waitFor(ctx, r.wait, "deletion of DB instance "+it.ID, func(ctx context.Context) (struct{}, bool, error) {
			db, err := describeInstance(ctx, r.db, it.ID)
			return struct{}{}, db == nil, err
		})
		return err
	case RetireParameter:
		if _, err := r.home.handoff().ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(it.ID)}); err != nil && !isParameterNotFound(err) {
			return fmt.Errorf("delete SSM parameter %s: %s: %w", it.ID, r.region, err)
		}
	case RetireSnapshot:
		if _, err := r.snaps[it.Region].DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(it.ID)}); err != nil && !strings.Contains(err.Error(), "NotFound") {
			return fmt.Errorf("delete DB snapshot %s: %s: %w", it.ID, it.Region, err)
		}
	case RetireClusterSnapshot:
		if _, err := r.snaps[it.Region].DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String(it.ID)}); err != nil && !strings.Contains(err.Error(), "NotFound") {
			return fmt.Errorf("delete DB cluster snapshot %s: %s: %w", it.ID, it.Region, err)
		}
	case RetireRDSCluster:
		in := &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(it.ID), SkipFinalSnapshot: aws.Bool(it.FinalSnapshot == "")}
		if it.FinalSnapshot != "" {
			in.FinalDBSnapshotIdentifier = aws.String(it.FinalSnapshot)
		}
		if _, err := r.db.rds.DeleteDBCluster(ctx, in); err != nil && !isRDSNotFound(err) {
			return fmt.Errorf("delete DB cluster %s: %s: %w", it.ID, r.region, err)
		}
		_, err := waitFor(ctx, r.wait, "deletion of DB cluster "+it.ID, func(ctx context.Context) (struct{}, bool, error) {
			cl, err := describeCluster(ctx, r.db, it.ID)
			return struct{}{}, cl == nil || aws.ToString(cl.Status) == "deleting", err
		})
		return err
	}
	return nil
}

// waitTerminated waits until none of ids runs: an instance still shutting
// down still serves and bills.
func (r *retirer) waitTerminated(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := waitFor(ctx, r.wait, "termination of "+strings.Join(ids, ", "), func(ctx context.Context) (struct{}, bool, error) {
		out, err := r.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			if strings.Contains(err.Error(), "InvalidInstanceID.NotFound") {
				return struct{}{}, true, nil
			}
			return struct{}{}, false, fmt.Errorf("describe instances %s: %s: %w", strings.Join(ids, ", "), r.region, err)
		}
		for _, res := range out.Reservations {
			for _, i := range res.Instances {
				if i.State != nil && i.State.Name != ec2types.InstanceStateNameTerminated {
					return struct{}{}, false, nil
				}
			}
		}
		return struct{}{}, true, nil
	})
	return err
}

// sortedUniq is ids sorted, without repeats.
func sortedUniq(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
