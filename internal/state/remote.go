package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/pilotlight/pilotlight/internal/awsenv"
)

// s3API is the part of S3 the remote store uses.
type s3API interface {
	GetBucketLocation(ctx context.Context, in *s3.GetBucketLocationInput, optFns ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// dynamoAPI is the part of DynamoDB the lock uses.
type dynamoAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// RemoteOptions locate the team backend.
type RemoteOptions struct {
	Bucket, Prefix string
	// LockTable is a DynamoDB table whose partition key is LockID (string),
	// the same shape as Terraform's S3 backend lock table.
	LockTable string
	// Region is the DR region, where bucket and table must live.
	Region string
	// PrimaryRegion is only named in errors: state there would die with
	// the region it is meant to recover.
	PrimaryRegion string
}

// remoteStore keeps blobs as S3 objects under the prefix and the lock as a
// DynamoDB item written with a condition.
type remoteStore struct {
	opt RemoteOptions
	s3  s3API
	ddb dynamoAPI
}

// primaryProbeTimeout bounds the one call OpenRemote may make to the
// primary region, only after the lock table was not found in the DR region,
// to say why; a correct config never reaches it.
const primaryProbeTimeout = 5 * time.Second

// OpenRemote checks that the bucket and lock table exist in the DR region
// and refuses them in any other region.
func OpenRemote(ctx context.Context, env *awsenv.Env, opt RemoteOptions) (Store, error) {
	r := &remoteStore{opt: opt, s3: env.S3(opt.Region, 0), ddb: dynamodb.NewFromConfig(env.For(opt.Region))}
	if err := r.checkBucket(ctx); err != nil {
		return nil, err
	}
	if err := r.checkTable(ctx, func() dynamoAPI { return dynamodb.NewFromConfig(env.For(opt.PrimaryRegion)) }); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *remoteStore) String() string {
	if r.opt.Prefix == "" {
		return "s3://" + r.opt.Bucket
	}
	return "s3://" + r.opt.Bucket + "/" + r.opt.Prefix
}

const survive = "the state must survive the primary region it is used to recover"

func (r *remoteStore) checkBucket(ctx context.Context) error {
	out, err := r.s3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(r.opt.Bucket)})
	if err != nil {
		var nb *s3types.NoSuchBucket
		if errors.As(err, &nb) || apiCode(err) == "NoSuchBucket" {
			return fmt.Errorf("state bucket %s does not exist: create it in the DR region %s (%s)", r.opt.Bucket, r.opt.Region, survive)
		}
		return fmt.Errorf("state bucket %s: %s: %w", r.opt.Bucket, r.opt.Region, err)
	}
	loc := string(out.LocationConstraint)
	switch loc {
	case "":
		loc = "us-east-1" // S3 reports its first region as no constraint
	case "EU":
		loc = "eu-west-1"
	}
	switch {
	case loc == r.opt.Region:
		return nil
	case loc == r.opt.PrimaryRegion:
		return fmt.Errorf("state bucket %s is in the primary region %s: refused, because %s; use a bucket in the DR region %s", r.opt.Bucket, loc, survive, r.opt.Region)
	default:
		return fmt.Errorf("state bucket %s is in %s, not in the DR region %s: %s, so it must live in the DR region", r.opt.Bucket, loc, r.opt.Region, survive)
	}
}

func (r *remoteStore) checkTable(ctx context.Context, primary func() dynamoAPI) error {
	out, err := r.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.opt.LockTable)})
	if err != nil {
		var nf *ddbtypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return fmt.Errorf("lock table %s: %s: %w", r.opt.LockTable, r.opt.Region, err)
		}
		if r.opt.PrimaryRegion != "" && r.opt.PrimaryRegion != r.opt.Region {
			pctx, cancel := context.WithTimeout(ctx, primaryProbeTimeout)
			defer cancel()
			if _, perr := primary().DescribeTable(pctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.opt.LockTable)}); perr == nil {
				return fmt.Errorf("lock table %s is in the primary region %s: refused, because %s; create it in the DR region %s", r.opt.LockTable, r.opt.PrimaryRegion, survive, r.opt.Region)
			}
		}
		return fmt.Errorf("lock table %s does not exist in the DR region %s: create it there with partition key LockID (string), as for Terraform's S3 backend", r.opt.LockTable, r.opt.Region)
	}
	for _, k := range out.Table.KeySchema {
		if k.KeyType == ddbtypes.KeyTypeHash && aws.ToString(k.AttributeName) == "LockID" {
			return nil
		}
	}
	return fmt.Errorf("lock table %s: %s: its partition key must be LockID (string)", r.opt.LockTable, r.opt.Region)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func (r *remoteStore) object(key string) string {
	if r.opt.Prefix == "" {
		return key
	}
	return r.opt.Prefix + "/" + key
}

func (r *remoteStore) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := r.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.opt.Bucket), Key: aws.String(r.object(key))})
	if err != nil {
		var nk *s3types.NoSuchKey
		if errors.As(err, &nk) || apiCode(err) == "NoSuchKey" {
			return nil, fmt.Errorf("%s: %s: %w", r, key, ErrNotFound)
		}
		return nil, fmt.Errorf("get %s/%s: %s: %w", r, key, r.opt.Region, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %s: %w", r, key, r.opt.Region, err)
	}
	return data, nil
}

func (r *remoteStore) Put(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return errors.New("put: empty key")
	}
	_, err := r.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(r.opt.Bucket), Key: aws.String(r.object(key)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return fmt.Errorf("put %s/%s: %s: %w", r, key, r.opt.Region, err)
	}
	return nil
}

func (r *remoteStore) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(r.s3, &s3.ListObjectsV2Input{Bucket: aws.String(r.opt.Bucket), Prefix: aws.String(r.object(prefix))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s/%s: %s: %w", r, prefix, r.opt.Region, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if r.opt.Prefix != "" {
				k = strings.TrimPrefix(k, r.opt.Prefix+"/")
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (r *remoteStore) Delete(ctx context.Context, key string) error {
	_, err := r.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.opt.Bucket), Key: aws.String(r.object(key))})
	if err != nil {
		return fmt.Errorf("delete %s/%s: %s: %w", r, key, r.opt.Region, err)
	}
	return nil
}

// lockID is the DynamoDB item key, bucket/path as Terraform writes it, so
// one table can serve several stacks and prefixes.
func (r *remoteStore) lockID(stack string) string {
	return r.opt.Bucket + "/" + path.Join(r.opt.Prefix, "locks", stack)
}

// Lock writes the item only if none exists (a conditional put), so two
// processes racing get one winner and one *LockedError.
func (r *remoteStore) Lock(ctx context.Context, stack, operation string) (func(context.Context) error, error) {
	info, err := newLockInfo(stack, operation)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	// A holder can release between our failed put and our read; try again
	// then, a few times, rather than report a lock nobody holds.
	for try := 0; try < 3; try++ {
		_, err = r.ddb.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(r.opt.LockTable),
			Item: map[string]ddbtypes.AttributeValue{
				"LockID": &ddbtypes.AttributeValueMemberS{Value: r.lockID(stack)},
				"ID":     &ddbtypes.AttributeValueMemberS{Value: info.ID},
				"Info":   &ddbtypes.AttributeValueMemberS{Value: string(data)},
			},
			ConditionExpression: aws.String("attribute_not_exists(LockID)"),
		})
		if err == nil {
			return func(ctx context.Context) error {
				if err := r.unlock(ctx, stack, info.ID); err != nil {
					return fmt.Errorf("release lock %s of stack %s (was it force-unlocked?): %w", info.ID, stack, err)
				}
				return nil
			}, nil
		}
		var cf *ddbtypes.ConditionalCheckFailedException
		if !errors.As(err, &cf) {
			return nil, fmt.Errorf("lock stack %s in table %s: %s: %w", stack, r.opt.LockTable, r.opt.Region, err)
		}
		cur, err := r.Holder(ctx, stack)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			return nil, lockedError(*cur)
		}
	}
	return nil, fmt.Errorf("lock stack %s in table %s: %s: the lock kept changing hands", stack, r.opt.LockTable, r.opt.Region)
}

func (r *remoteStore) Holder(ctx context.Context, stack string) (*LockInfo, error) {
	out, err := r.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(r.opt.LockTable),
		Key:            map[string]ddbtypes.AttributeValue{"LockID": &ddbtypes.AttributeValueMemberS{Value: r.lockID(stack)}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("lock of stack %s in table %s: %s: %w", stack, r.opt.LockTable, r.opt.Region, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	v, ok := out.Item["Info"].(*ddbtypes.AttributeValueMemberS)
	if !ok {
		return nil, fmt.Errorf("lock of stack %s in table %s: %s: item %s has no Info", stack, r.opt.LockTable, r.opt.Region, r.lockID(stack))
	}
	var h LockInfo
	if err := json.Unmarshal([]byte(v.Value), &h); err != nil {
		return nil, fmt.Errorf("lock of stack %s in table %s: %s: unreadable Info: %w", stack, r.opt.LockTable, r.opt.Region, err)
	}
	return &h, nil
}

// unlock deletes the item only while it still carries lockID.
func (r *remoteStore) unlock(ctx context.Context, stack, lockID string) error {
	_, err := r.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(r.opt.LockTable),
		Key:                       map[string]ddbtypes.AttributeValue{"LockID": &ddbtypes.AttributeValueMemberS{Value: r.lockID(stack)}},
		ConditionExpression:       aws.String("ID = :id"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":id": &ddbtypes.AttributeValueMemberS{Value: lockID}},
	})
	if err == nil {
		return nil
	}
	var cf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &cf) {
		return fmt.Errorf("table %s: %s: %w", r.opt.LockTable, r.opt.Region, err)
	}
	cur, herr := r.Holder(ctx, stack)
	if herr != nil {
		return herr
	}
	return lockMismatch(stack, lockID, cur)
}

func (r *remoteStore) ForceUnlock(ctx context.Context, stack, lockID string) error {
	if err := refuseLive(ctx, r, stack, lockID); err != nil {
		return err
	}
	if err := r.unlock(ctx, stack, lockID); err != nil {
		return fmt.Errorf("force-unlock %s: %w", lockID, err)
	}
	return nil
}

// Close releases nothing: SDK clients hold no resources to free.
func (r *remoteStore) Close() error { return nil }
