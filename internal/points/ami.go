package points

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pilotlight/pilotlight/internal/partition"
	"github.com/pilotlight/pilotlight/internal/spec"
	"github.com/pilotlight/pilotlight/internal/tags"
)

func init() {
	registerKind(KindAMI, func(c *clients) kindOps { return ami{c} })
}

// ami makes images of an EC2 instance and copies them. The DR copy has the
// same name as its source; EBS snapshots are tagged alongside the image and
// deleted with it.
type ami struct{ c *clients }

// amiPrefix is the part of a point's name before its stamp.
func amiPrefix(stack, resource string) string {
	n := amiName(stack, resource, time.Time{})
	return n[:len(n)-len(stampLayout)]
}

// copyDescription marks a DR copy with its source so that a copy whose
// tagging was interrupted is still recognised (moto's CopyImage drops
// TagSpecifications, and a crash may fall between copy and CreateTags).
func copyDescription(srcID, srcRegion string) string {
	return "pilotlight copy of " + srcID + " from " + srcRegion
}

var copyDescRe = regexp.MustCompile(`^pilotlight copy of (ami-[0-9a-f]+) from `)

func (k ami) list(ctx context.Context, cfg *spec.Config, t target, region string) ([]Point, error) {
	prefix := amiPrefix(cfg.Stack, t.name)
	in := &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{prefix + "*"}}},
	}
	return listImages(ctx, k.c.ec2(region), in, cfg, t, region)
}

// listImages pages through DescribeImages and keeps images named as this
// resource's points (the name filter's wildcard would also match a
// resource whose name extends this one's).
func listImages(ctx context.Context, api ec2.DescribeImagesAPIClient, in *ec2.DescribeImagesInput, cfg *spec.Config, t target, region string) ([]Point, error) {
	nameRe := regexp.MustCompile(`^` + regexp.QuoteMeta(amiPrefix(cfg.Stack, t.name)) + `\d{14}$`)
	var out []Point
	pg := ec2.NewDescribeImagesPaginator(api, in, func(o *ec2.DescribeImagesPaginatorOptions) { o.Limit = 1000 })
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list images of %s: %s: %w", t.name, region, err)
		}
		for _, im := range page.Images {
			if nameRe.MatchString(aws.ToString(im.Name)) {
				out = append(out, imagePoint(im, cfg, t, region))
			}
		}
	}
	sortNewestFirst(out)
	return out, nil
}

func imagePoint(im ec2types.Image, cfg *spec.Config, t target, region string) Point {
	m := tags.FromEC2(im.Tags)
	created, _ := time.Parse(time.RFC3339, aws.ToString(im.CreationDate))
	p := Point{
		ID:       aws.ToString(im.ImageId),
		Name:     aws.ToString(im.Name),
		Resource: t.name,
		Kind:     KindAMI,
		Region:   region,
		Source:   m[tags.Source],
		Created:  createdFrom(m, created),
		Managed:  managedFor(m, cfg.Stack, t.name),
		tags:     m,
	}
	if part, err := partition.Of(region); err == nil {
		// AMI ARNs carry no account.
		p.ARN = part.ARN("ec2", region, "", "image/"+p.ID)
	}
	if p.Source == "" {
		p.Source = aws.ToString(im.SourceInstanceId)
	}
	if p.Managed {
		p.CopyOf = m[tags.CopyOf]
	} else if mm := copyDescRe.FindStringSubmatch(aws.ToString(im.Description)); mm != nil {
		p.CopyOf = mm[1]
	}
	for _, bd := range im.BlockDeviceMappings {
		if bd.Ebs == nil {
			continue
		}
		if id := aws.ToString(bd.Ebs.SnapshotId); id != "" {
			p.Snapshots = append(p.Snapshots, id)
		}
		p.SizeGB += int(aws.ToInt32(bd.Ebs.VolumeSize))
		if aws.ToBool(bd.Ebs.Encrypted) {
			p.Encrypted = true
			if p.KMSKey == "" {
				p.KMSKey = aws.ToString(bd.Ebs.KmsKeyId)
			}
		}
	}
	switch st := string(im.State); st {
	case "pending":
		p.Status = StatusCreating
		if region == cfg.DR.Region {
			p.Status = StatusCopying
		}
	default:
		p.Status = st
	}
	return p
}

func (k ami) get(ctx context.Context, cfg *spec.Config, t target, region, id string) (Point, error) {
	out, err := k.c.ec2(region).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if isAMINotFound(err) || (err == nil && len(out.Images) == 0) {
		return Point{}, fmt.Errorf("image %s: %s: %w", id, region, ErrNotFound)
	}
	if err != nil {
		return Point{}, fmt.Errorf("describe image %s: %s: %w", id, region, err)
	}
	p := imagePoint(out.Images[0], cfg, t, region)
	if !p.Managed && !strings.HasPrefix(p.Name, amiPrefix(cfg.Stack, t.name)) {
		return Point{}, fmt.Errorf("image %s: %s: %q is not a recovery point of %s", id, region, p.Name, t.name)
	}
	return p, nil
}

func isAMINotFound(err error) bool {
	switch apiCode(err) {
	case "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed":
		return true
	}
	return false
}

// source finds the instance to image: by id, or the running instance the
// tag selector matches (the oldest, when several do, so that runs agree).
func (k ami) source(ctx context.Context, s scope) (source, error) {
	region := s.cfg.Primary.Region
	sel := s.t.img.Instance
	api := k.c.ec2(region)
	in := &ec2.DescribeInstancesInput{}
	what := "instance " + sel.ID
	if sel.ID != "" {
		in.InstanceIds = []string{sel.ID}
	} else {
		var desc []string
		for _, key := range slices.Sorted(maps.Keys(sel.Tag)) {
			in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("tag:" + key), Values: []string{sel.Tag[key]}})
			desc = append(desc, key+"="+sel.Tag[key])
		}
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("instance-state-name"), Values: []string{"running"}})
		what = "running instance tagged " + strings.Join(desc, ",")
	}
	var found []ec2types.Instance
	pg := ec2.NewDescribeInstancesPaginator(api, in)
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			if apiCode(err) == "InvalidInstanceID.NotFound" {
				break
			}
			return source{}, fmt.Errorf("find %s for image %s: %s: %w", what, s.t.name, region, err)
		}
		for _, r := range page.Reservations {
			found = append(found, r.Instances...)
		}
	}
	if len(found) == 0 {
		return source{}, fmt.Errorf("image %s: no %s in %s", s.t.name, what, region)
	}
	sort.Slice(found, func(i, j int) bool {
		a, b := aws.ToTime(found[i].LaunchTime), aws.ToTime(found[j].LaunchTime)
		if !a.Equal(b) {
			return a.Before(b)
		}
		return aws.ToString(found[i].InstanceId) < aws.ToString(found[j].InstanceId)
	})
	inst := found[0]
	src := source{ID: aws.ToString(inst.InstanceId)}
	// Encryption is decided before CreateImage, so that an encrypted image
	// without a DR key fails before anything is made.
	var vols []string
	for _, bd := range inst.BlockDeviceMappings {
		if bd.Ebs != nil && bd.Ebs.VolumeId != nil {
			vols = append(vols, *bd.Ebs.VolumeId)
		}
	}
	if len(vols) > 0 {
		out, err := api.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: vols})
		if err != nil {
			return source{}, fmt.Errorf("describe volumes of %s: %s: %w", src.ID, region, err)
		}
		for _, v := range out.Volumes {
			if aws.ToBool(v.Encrypted) {
				src.Encrypted = true
			}
		}
	}
	return src, nil
}

func (k ami) create(ctx context.Context, s scope, src source, name string, at time.Time) (Point, error) {
	region := s.cfg.Primary.Region
	m := pointTags(s.cfg, s.t, src.ID, at, "")
	out, err := k.c.ec2(region).CreateImage(ctx, &ec2.CreateImageInput{
		InstanceId: aws.String(src.ID),
		Name:       aws.String(name),
		// The seed's CreateImage rebooted production on every run.
		NoReboot:    aws.Bool(!s.t.img.Reboot()),
		Description: aws.String("pilotlight " + s.cfg.Stack + "/" + s.t.name + " from " + src.ID),
		// Snapshots are tagged after the image is available: moto answers
		// HTTP 500 to snapshot TagSpecifications on CreateImage.
		TagSpecifications: tags.EC2Spec(ec2types.ResourceTypeImage, m),
	})
	if apiCode(err) == "InvalidAMIName.Duplicate" {
		return k.adoptByName(ctx, s, region, name, "")
	}
	if err != nil {
		return Point{}, fmt.Errorf("create image %s of %s: %s: %w", name, src.ID, region, err)
	}
	return Point{
		ID: aws.ToString(out.ImageId), Name: name, Resource: s.t.name, Kind: KindAMI, Region: region,
		Source: src.ID, Created: at.UTC(), Status: StatusCreating, Managed: true, Encrypted: src.Encrypted, tags: m,
	}, nil
}

// adoptByName finds the image called name in region after a duplicate-name
// error and returns it if it is this resource's point.
func (k ami) adoptByName(ctx context.Context, s scope, region, name, copyOf string) (Point, error) {
	out, err := k.c.ec2(region).DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners: []string{"self"}, Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{name}}},
	})
	if err != nil {
		return Point{}, fmt.Errorf("image %s exists in %s but cannot be read: %w", name, region, err)
	}
	for _, im := range out.Images {
		p := imagePoint(im, s.cfg, s.t, region)
		if p.CopyOf == copyOf && (p.Managed || copyOf != "") {
			return p, nil
		}
	}
	return Point{}, fmt.Errorf("image %s already exists in %s and was not made by pilotlight for %s/%s", name, region, s.cfg.Stack, s.t.name)
}

// wait waits for the image, then tags it and its EBS snapshots. Tagging
// here, not at creation, covers snapshots (known only now), copies (moto's
// CopyImage drops tags) and a copy adopted after an interrupted run.
func (k ami) wait(ctx context.Context, s scope, p Point) (Point, error) {
	api := k.c.ec2(p.Region)
	w := ec2.NewImageAvailableWaiter(api, func(o *ec2.ImageAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = k.c.waits.MinDelay, k.c.waits.MaxDelay
		// The waiter gives up on InvalidAMIID.NotFound, which EC2 answers
		// for a while right after CopyImage (eventual consistency).
		o.Retryable = retryNotFound(notFoundGrace, isAMIIDNotFound, o.Retryable)
	})
	out, err := w.WaitForOutput(ctx, &ec2.DescribeImagesInput{ImageIds: []string{p.ID}}, k.c.waits.max(p, s.cfg))
	if err != nil {
		return p, fmt.Errorf("wait for image %s: %s: %w", p.ID, p.Region, err)
	}
	got := imagePoint(out.Images[0], s.cfg, s.t, p.Region)
	if !got.Managed {
		// An untagged copy (moto drops CopyImage's tags; a crash may fall
		// before CreateTags): the caller's point says what it is.
		got.Created, got.Source, got.CopyOf = p.Created, p.Source, p.CopyOf
	}
	// Encryption known from the source volumes stands: a describe that does
	// not report it (moto's images) must not lead to an unencrypted copy
	// request for an encrypted image.
	got.Encrypted = got.Encrypted || p.Encrypted
	m := pointTags(s.cfg, s.t, got.Source, got.Created, got.CopyOf)
	for _, extra := range []map[string]string{got.tags, p.tags} {
		for k, v := range extra {
			if _, ours := m[k]; !ours {
				m[k] = v
			}
		}
	}
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: append([]string{got.ID}, got.Snapshots...),
		Tags:      tags.EC2(m),
	}); err != nil {
		return got, fmt.Errorf("tag image %s and its snapshots: %s: %w", got.ID, got.Region, err)
	}
	got.Managed, got.tags = true, m
	return got, nil
}

func (k ami) copy(ctx context.Context, s scope, p Point, kmsKey string) (Point, error) {
	from, to := s.cfg.Primary.Region, s.cfg.DR.Region
	if err := checkCopy(from, to, p.ARN); err != nil {
		return Point{}, err
	}
	m := copyTags(p)
	in := &ec2.CopyImageInput{
		SourceImageId: aws.String(p.ID),
		SourceRegion:  aws.String(from),
		Name:          aws.String(p.Name),
		Description:   aws.String(copyDescription(p.ID, from)),
		// AWS deduplicates retries by token; moto ignores it, so pilotlight
		// also looks for the copy by name before copying.
		ClientToken: aws.String(clientToken(s.cfg.Stack, p.ID, to)),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeImage, Tags: tags.EC2(m)},
			{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags.EC2(m)},
		},
	}
	if p.Encrypted {
		in.Encrypted, in.KmsKeyId = aws.Bool(true), aws.String(kmsKey)
	}
	out, err := k.c.ec2(to).CopyImage(ctx, in)
	if apiCode(err) == "InvalidAMIName.Duplicate" {
		return k.adoptByName(ctx, s, to, p.Name, p.ID)
	}
	if err != nil {
		return Point{}, fmt.Errorf("copy image %s (%s) to %s: %w", p.ID, p.Name, to, err)
	}
	return Point{
		ID: aws.ToString(out.ImageId), Name: p.Name, Resource: s.t.name, Kind: KindAMI, Region: to,
		Source: p.Source, CopyOf: p.ID, Created: p.Created, Status: StatusCopying, Encrypted: p.Encrypted, tags: m,
	}, nil
}

func clientToken(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "pilotlight-" + hex.EncodeToString(h[:])[:40]
}

// remove deregisters the image and deletes its EBS snapshots, which the
// seed left behind for ever.
func (k ami) remove(ctx context.Context, s scope, p Point) error {
	if !p.Managed {
		return fmt.Errorf("refusing to delete image %s: %s: not made by pilotlight for %s", p.ID, p.Region, s.cfg.Stack)
	}
	api := k.c.ec2(p.Region)
	_, err := api.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(p.ID), DeleteAssociatedSnapshots: aws.Bool(true)})
	if err != nil && !isAMINotFound(err) {
		return fmt.Errorf("deregister image %s: %s: %w", p.ID, p.Region, err)
	}
	// moto ignores DeleteAssociatedSnapshots, and older regions may too:
	// delete them explicitly; already gone is fine.
	var errs []error
	for _, snap := range p.Snapshots {
		_, err := api.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
		if err != nil && apiCode(err) != "InvalidSnapshot.NotFound" {
			errs = append(errs, fmt.Errorf("delete snapshot %s of image %s: %s: %w", snap, p.ID, p.Region, err))
		}
	}
	return errors.Join(errs...)
}
