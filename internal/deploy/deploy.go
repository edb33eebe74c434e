package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/awsenv"
	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/serve"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

type iamAPI interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateAssumeRolePolicy(context.Context, *iam.UpdateAssumeRolePolicyInput, ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
}

type lambdaAPI interface {
	GetFunction(context.Context, *lambda.GetFunctionInput, ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	CreateFunction(context.Context, *lambda.CreateFunctionInput, ...func(*lambda.Options)) (*lambda.CreateFunctionOutput, error)
	UpdateFunctionCode(context.Context, *lambda.UpdateFunctionCodeInput, ...func(*lambda.Options)) (*lambda.UpdateFunctionCodeOutput, error)
	UpdateFunctionConfiguration(context.Context, *lambda.UpdateFunctionConfigurationInput, ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error)
}

type schedulerAPI interface {
	GetSchedule(context.Context, *scheduler.GetScheduleInput, ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	CreateSchedule(context.Context, *scheduler.CreateScheduleInput, ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	UpdateSchedule(context.Context, *scheduler.UpdateScheduleInput, ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
	DeleteSchedule(context.Context, *scheduler.DeleteScheduleInput, ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
	ListSchedules(context.Context, *scheduler.ListSchedulesInput, ...func(*scheduler.Options)) (*scheduler.ListSchedulesOutput, error)
}

// Options tune a deploy.
type Options struct {
	// Region to deploy to; default the DR region.
	Region string
	// Package is the zip to deploy (BuildPackage).
	Package *Package
	// MemoryMB and Timeout of the function (defaults 256 MB, 15 min: a
	// cross-region copy that outlasts it is resumed by the next run).
	MemoryMB int32
	Timeout  time.Duration
	DryRun   bool
	Log      *slog.Logger
	// CloudWatchOptions adjust the CloudWatch client; tests choose the
	// awsQuery protocol there, the only one moto 5.2.1 serves.
	CloudWatchOptions []func(*cloudwatch.Options)
	// roleWait bounds retrying CreateFunction while a new role propagates.
	roleWait time.Duration
}

// Schedule is one EventBridge Scheduler schedule deploy keeps.
type Schedule struct {
	Name       string `json:"name"`
	Resource   string `json:"resource"`
	Expression string `json:"expression"`
	Input      string `json:"input"`
}

// Result says what deploy did, or with DryRun would do.
type Result struct {
	Region        string     `json:"region"`
	Function      string     `json:"function"`
	FunctionARN   string     `json:"function_arn"`
	Role          string     `json:"role"`
	SchedulerRole string     `json:"scheduler_role"`
	CodeSHA256    string     `json:"code_sha256"`
	Arch          string     `json:"arch"`
	Schedules     []Schedule `json:"schedules"`
	// Alarms notify AlarmTopic, in the deploy region.
	Alarms     []Alarm  `json:"alarms"`
	AlarmTopic string   `json:"alarm_topic"`
	Changes    []string `json:"changes"`
	Warnings   []string `json:"warnings,omitempty"`
	DryRun     bool     `json:"dry_run,omitempty"`
}

// Unchanged reports whether the deployed state already matched.
func (r *Result) Unchanged() bool { return len(r.Changes) == 0 }

// Names of what deploy makes; iampolicy's deploy grants use the same
// <stack>-pilotlight prefix.
func FunctionName(stack string) string      { return fit(stack+"-pilotlight", 64) }
func RoleName(stack string) string          { return fit(stack+"-pilotlight", 64) }
func SchedulerRoleName(stack string) string { return fit(stack+"-pilotlight-scheduler", 64) }

// ScheduleName is <stack>-<resource>, with characters Scheduler rejects
// replaced.
func ScheduleName(stack, resource string) string {
	var b strings.Builder
	for _, r := range stack + "-" + resource {
		if r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return fit(b.String(), 64)
}

func fit(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Policy is the Lambda role's inline policy: backup and replicate, plus
// its own log group.
func Policy(cfg *spec.Config, account, region string) (*iampolicy.Document, error) {
	doc, err := iampolicy.For(cfg, account, iampolicy.Backup, iampolicy.Replicate)
	if err != nil {
		return nil, err
	}
	p, err := partition.Of(region)
	if err != nil {
		return nil, err
	}
	doc.Statement = append(doc.Statement, iampolicy.Statement{
		Sid: "LambdaLogs", Effect: "Allow",
		Action:   []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
		Resource: []string{p.ARN("logs", region, account, "log-group:/aws/lambda/"+FunctionName(cfg.Stack)+":*")},
	})
	return doc, nil
}

// Schedules derives one schedule per protected resource.
func Schedules(cfg *spec.Config) ([]Schedule, error) {
	jobs, err := serve.Jobs(cfg, nil)
	if err != nil {
		return nil, err
	}
	var out []Schedule
	scheds := map[string]spec.Schedule{}
	for _, d := range cfg.Protect.Databases {
		scheds[d.ID] = d.Every
	}
	for _, im := range cfg.Protect.Images {
		scheds[im.Name] = im.Every
	}
	for _, b := range cfg.Protect.Buckets {
		scheds[b.Name] = b.Every
	}
	for _, j := range jobs {
		action := serve.ActionBackup
		if j.Kind == serve.KindBucket {
			action = serve.ActionVerify
		}
		// Scheduler fills in its context attribute with the fire time,
		// the same on every retry of one tick, so that a retried
		// invocation joins the protect job its tick started.
		// (Not HTML-escaped: Scheduler matches the attribute's text.)
		var in bytes.Buffer
		enc := json.NewEncoder(&in)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(serve.Event{Action: action, Only: []string{j.Resource}, Tick: "<aws.scheduler.scheduled-time>"})
		out = append(out, Schedule{Name: ScheduleName(cfg.Stack, j.Resource), Resource: j.Resource,
			Expression: scheds[j.Resource].Expression(), Input: strings.TrimSpace(in.String())})
	}
	return out, nil
}

type clients struct {
	iam   iamAPI
	fn    lambdaAPI
	sched schedulerAPI
	cw    cloudwatchAPI
	sns   snsAPI
	wait  func(ctx context.Context, name string) error
}

// Deploy creates or updates the roles, the function and the schedules.
func Deploy(ctx context.Context, env *awsenv.Env, cfg *spec.Config, opts Options) (*Result, error) {
	region := opts.Region
	if region == "" {
		region = cfg.DR.Region
	}
	ac := env.For(region)
	fn := lambda.NewFromConfig(ac)
	c := clients{
		iam: iam.NewFromConfig(ac), fn: fn, sched: scheduler.NewFromConfig(ac),
		cw: cloudwatch.NewFromConfig(ac, opts.CloudWatchOptions...), sns: sns.NewFromConfig(ac),
		wait: func(ctx context.Context, name string) error {
			return lambda.NewFunctionUpdatedV2Waiter(fn).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 5*time.Minute)
		},
	}
	acct, err := env.Account(ctx, region)
	if err != nil {
		return nil, err
	}
	return run(ctx, c, cfg, acct, region, opts)
}

type deployer struct {
	clients
	cfg    *spec.Config
	part   partition.Partition
	acct   string
	region string
	opts   Options
	res    *Result
	log    *slog.Logger
}

func (d *deployer) change(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if d.opts.DryRun {
		msg = "would " + msg
	}
	d.res.Changes = append(d.res.Changes, msg)
	d.log.Info(msg, "stack", d.cfg.Stack, "region", d.region)
}

func run(ctx context.Context, c clients, cfg *spec.Config, acct, region string, opts Options) (*Result, error) {
	if opts.Package == nil {
		return nil, errors.New("deploy: no package")
	}
	if opts.MemoryMB == 0 {
		opts.MemoryMB = 256
	}
	if opts.Timeout == 0 {
		opts.Timeout = 15 * time.Minute
	}
	if opts.roleWait == 0 {
		opts.roleWait = 90 * time.Second
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p, err := partition.Of(region)
	if err != nil {
		return nil, err
	}
	if !partition.SamePartition(region, cfg.DR.Region) {
		return nil, fmt.Errorf("deploy region %s is not in the stack's partition", region)
	}
	if region == cfg.Primary.Region {
		log.Warn("deploying to the primary region: the schedules stop with it; the DR region is the default for that reason", "region", region)
	}
	d := &deployer{clients: c, cfg: cfg, part: p, acct: acct, region: region, opts: opts, log: log, res: &Result{
		Region: region, Function: FunctionName(cfg.Stack), Role: RoleName(cfg.Stack), SchedulerRole: SchedulerRoleName(cfg.Stack),
		CodeSHA256: opts.Package.SHA256, Arch: opts.Package.Arch, Changes: []string{}, Warnings: opts.Package.Warnings, DryRun: opts.DryRun,
	}}
	d.res.FunctionARN = p.ARN("lambda", region, acct, "function:"+d.res.Function)
	if d.res.Schedules, err = Schedules(cfg); err != nil {
		return nil, err
	}

	policy, err := Policy(cfg, acct, region)
	if err != nil {
		return nil, err
	}
	// Lambda and Scheduler use their amazonaws.com principals in every
	// partition, China included.
	roleARN, err := d.role(ctx, d.res.Role, trust("lambda.amazonaws.com", ""), policy)
	if err != nil {
		return nil, err
	}
	invoke := &iampolicy.Document{Version: "2012-10-17", Statement: []iampolicy.Statement{{
		Sid: "InvokePilotlight", Effect: "Allow", Action: []string{"lambda:InvokeFunction"},
		Resource: []string{d.res.FunctionARN, d.res.FunctionARN + ":*"},
	}}}
	schedRoleARN, err := d.role(ctx, d.res.SchedulerRole, trust("scheduler.amazonaws.com", acct), invoke)
	if err != nil {
		return nil, err
	}
	if err := d.function(ctx, roleARN); err != nil {
		return nil, err
	}
	if err := d.schedules(ctx, schedRoleARN); err != nil {
		return nil, err
	}
	if err := d.alarms(ctx); err != nil {
		return nil, err
	}
	return d.res, nil
}

const inlinePolicy = "pilotlight"

func trust(service, sourceAccount string) map[string]any {
	st := map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": service}, "Action": "sts:AssumeRole"}
	if sourceAccount != "" {
		// Confused deputy: only schedules of this account may use the role.
		st["Condition"] = map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": sourceAccount}}
	}
	return map[string]any{"Version": "2012-10-17", "Statement": []any{st}}
}

// sameJSON compares two policy documents as JSON values; IAM returns them
// URL-encoded and reformatted.
func sameJSON(stored string, want any) bool {
	if s, err := url.QueryUnescape(stored); err == nil {
		stored = s
	}
	var a, b any
	if json.Unmarshal([]byte(stored), &a) != nil {
		return false
	}
	data, _ := json.Marshal(want)
	_ = json.Unmarshal(data, &b)
	return reflect.DeepEqual(a, b)
}

func (d *deployer) role(ctx context.Context, name string, trustDoc map[string]any, policy *iampolicy.Document) (string, error) {
	arn := "arn:" + d.part.ID + ":iam::" + d.acct + ":role/" + name
	trustJSON, _ := json.Marshal(trustDoc)
	policyJSON, _ := json.Marshal(policy)
	out, err := d.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	switch {
	case isCode(err, "NoSuchEntity"):
		d.change("create role %s", name)
		if !d.opts.DryRun {
			boundary, err := partition.BoundaryARN(d.cfg.DR.Region, d.acct, d.cfg.Stack)
			if err != nil {
				return "", err
			}
			if _, err := d.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), PermissionsBoundary: aws.String(boundary),
				AssumeRolePolicyDocument: aws.String(string(trustJSON)), Tags: tags.IAM(tags.Base(d.cfg.Stack)),
				Description: aws.String("pilotlight " + d.cfg.Stack)}); err != nil {
				return "", fmt.Errorf("create role %s: %w", name, err)
			}
		}
	case err != nil:
		return "", fmt.Errorf("get role %s: %w", name, err)
	default:
		arn = aws.ToString(out.Role.Arn)
		if !sameJSON(aws.ToString(out.Role.AssumeRolePolicyDocument), trustDoc) {
			d.change("update the trust policy of role %s", name)
			if !d.opts.DryRun {
				if _, err := d.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(name),
					PolicyDocument: aws.String(string(trustJSON))}); err != nil {
					return "", fmt.Errorf("update trust policy of role %s: %w", name, err)
				}
			}
		}
	}
	cur, err := d.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(inlinePolicy)})
	if err != nil && !isCode(err, "NoSuchEntity") {
		return "", fmt.Errorf("get policy %s of role %s: %w", inlinePolicy, name, err)
	}
	if err != nil || !sameJSON(aws.ToString(cur.PolicyDocument), policy) {
		d.change("put policy %s on role %s", inlinePolicy, name)
		if !d.opts.DryRun {
			if _, err := d.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(inlinePolicy),
				PolicyDocument: aws.String(string(policyJSON))}); err != nil {
				return "", fmt.Errorf("put policy on role %s: %w", name, err)
			}
		}
	}
	return arn, nil
}

func (d *deployer) function(ctx context.Context, roleARN string) error {
	name, pkg := d.res.Function, d.opts.Package
	timeout := int32(d.opts.Timeout / time.Second)
	out, err := d.fn.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if isCode(err, "ResourceNotFoundException") {
		d.change("create function %s (%s, %s)", name, lambdatypes.RuntimeProvidedal2023, pkg.Arch)
		if d.opts.DryRun {
			return nil
		}
		return d.createFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Role: aws.String(roleARN),
			Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
			Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(pkg.Arch)},
			Code:          &lambdatypes.FunctionCode{ZipFile: pkg.Zip},
			MemorySize:    aws.Int32(d.opts.MemoryMB), Timeout: aws.Int32(timeout),
			Description: aws.String("pilotlight protect plane for stack " + d.cfg.Stack),
			Tags:        tags.Base(d.cfg.Stack),
		})
	}
	if err != nil {
		return fmt.Errorf("get function %s: %s: %w", name, d.region, err)
	}
	conf := out.Configuration
	arch := ""
	if len(conf.Architectures) > 0 {
		arch = string(conf.Architectures[0])
	}
	if aws.ToString(conf.CodeSha256) != pkg.SHA256 || (arch != "" && arch != pkg.Arch) {
		d.change("update the code of function %s (sha256 %s)", name, pkg.SHA256)
		if !d.opts.DryRun {
			if _, err := d.fn.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: pkg.Zip,
				Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(pkg.Arch)}}); err != nil {
				return fmt.Errorf("update code of function %s: %s: %w", name, d.region, err)
			}
			// A configuration update while the code update runs is refused.
			if err := d.wait(ctx, name); err != nil {
				return fmt.Errorf("wait for function %s: %s: %w", name, d.region, err)
			}
		}
	}
	if aws.ToString(conf.Role) != roleARN || conf.Runtime != lambdatypes.RuntimeProvidedal2023 || aws.ToString(conf.Handler) != "bootstrap" ||
		aws.ToInt32(conf.MemorySize) != d.opts.MemoryMB || aws.ToInt32(conf.Timeout) != timeout {
		d.change("update the configuration of function %s", name)
		if !d.opts.DryRun {
			if _, err := d.fn.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name),
				Role: aws.String(roleARN), Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
				MemorySize: aws.Int32(d.opts.MemoryMB), Timeout: aws.Int32(timeout)}); err != nil {
				return fmt.Errorf("update configuration of function %s: %s: %w", name, d.region, err)
			}
		}
	}
	return nil
}

// createFunction retries while a just-made role is not yet assumable:
// IAM is eventually consistent and Lambda checks the role at once.
func (d *deployer) createFunction(ctx context.Context, in *lambda.CreateFunctionInput) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.roleWait)
	defer cancel()
	backoff := time.Second
	for {
		_, err := d.fn.CreateFunction(ctx, in)
		if err == nil {
			return nil
		}
		if !isCode(err, "InvalidParameterValueException") || !strings.Contains(err.Error(), "assume") {
			return fmt.Errorf("create function %s: %s: %w", aws.ToString(in.FunctionName), d.region, err)
		}
		d.log.Info("the new role is not assumable yet; retrying", "function", aws.ToString(in.FunctionName), "in", backoff.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("create function %s: %s: the role never became assumable: %w", aws.ToString(in.FunctionName), d.region, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (d *deployer) schedules(ctx context.Context, roleARN string) error {
	want := map[string]bool{}
	for _, s := range d.res.Schedules {
		want[s.Name] = true
		target := &schedtypes.Target{Arn: aws.String(d.res.FunctionARN), RoleArn: aws.String(roleARN), Input: aws.String(s.Input)}
		window := flexibleWindow(d.cfg, s.Resource)
		desc := "pilotlight " + d.cfg.Stack + ": " + s.Resource
		out, err := d.sched.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(s.Name)})
		if isCode(err, "ResourceNotFoundException") {
			d.change("create schedule %s (%s)", s.Name, s.Expression)
			if !d.opts.DryRun {
				if _, err := d.sched.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String(s.Name),
					ScheduleExpression: aws.String(s.Expression), ScheduleExpressionTimezone: aws.String("UTC"),
					FlexibleTimeWindow: window, Target: target, Description: aws.String(desc),
					State: schedtypes.ScheduleStateEnabled}); err != nil {
					return fmt.Errorf("create schedule %s: %s: %w", s.Name, d.region, err)
				}
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("get schedule %s: %s (is EventBridge Scheduler available there?): %w", s.Name, d.region, err)
		}
		same := aws.ToString(out.ScheduleExpression) == s.Expression && out.Target != nil &&
			aws.ToString(out.Target.Arn) == d.res.FunctionARN && aws.ToString(out.Target.RoleArn) == roleARN &&
			aws.ToString(out.Target.Input) == s.Input && out.State == schedtypes.ScheduleStateEnabled &&
			out.FlexibleTimeWindow != nil && out.FlexibleTimeWindow.Mode == window.Mode &&
			aws.ToInt32(out.FlexibleTimeWindow.MaximumWindowInMinutes) == aws.ToInt32(window.MaximumWindowInMinutes)
		if same {
			continue
		}
		d.change("update schedule %s (%s)", s.Name, s.Expression)
		if !d.opts.DryRun {
			if _, err := d.sched.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{Name: aws.String(s.Name),
				ScheduleExpression: aws.String(s.Expression), ScheduleExpressionTimezone: aws.String("UTC"),
				FlexibleTimeWindow: window, Target: target, Description: aws.String(desc),
				State: schedtypes.ScheduleStateEnabled}); err != nil {
				return fmt.Errorf("update schedule %s: %s: %w", s.Name, d.region, err)
			}
		}
	}
	// Schedules of resources no longer in the config, recognised by
	// their name and their target (this stack's function), are deleted.
	var token *string
	for {
		out, err := d.sched.ListSchedules(ctx, &scheduler.ListSchedulesInput{NamePrefix: aws.String(ScheduleName(d.cfg.Stack, "")), NextToken: token})
		if err != nil {
			return fmt.Errorf("list schedules: %s: %w", d.region, err)
		}
		for _, s := range out.Schedules {
			name := aws.ToString(s.Name)
			if want[name] || s.Target == nil || aws.ToString(s.Target.Arn) != d.res.FunctionARN {
				continue
			}
			d.change("delete schedule %s (its resource is no longer in the config)", name)
			if !d.opts.DryRun {
				if _, err := d.sched.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name)}); err != nil && !isCode(err, "ResourceNotFoundException") {
					return fmt.Errorf("delete schedule %s: %s: %w", name, d.region, err)
				}
			}
		}
		if out.NextToken == nil {
			return nil
		}
		token = out.NextToken
	}
}

// flexibleWindow is Scheduler's own jitter: up to a tenth of the period,
// at most 15 minutes; off for short schedules and for cron, whose times
// the user chose.
func flexibleWindow(cfg *spec.Config, resource string) *schedtypes.FlexibleTimeWindow {
	var s spec.Schedule
	if d, ok := cfg.Database(resource); ok {
		s = d.Every
	} else if im, ok := cfg.Image(resource); ok {
		s = im.Every
	} else if b, ok := cfg.Bucket(resource); ok {
		s = b.Every
	}
	if s.Cron == nil && s.Interval >= 10*time.Minute {
		m := min(int32(s.Interval/time.Minute/10), 15)
		return &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeFlexible, MaximumWindowInMinutes: aws.Int32(m)}
	}
	return &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff}
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return err != nil && errors.As(err, &ae) && ae.ErrorCode() == code
}
