package s3sync

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"
)

// S3 refuses a COPY of an object in an archive tier with
// ObjectNotInActiveTierError (and of a Glacier object, on some paths, with
// InvalidObjectState). An Intelligent-Tiering archive tier shows in no
// listing, so the refusal is the only sign: it must count as archived
// (reported, restorable on request), never as a failed object.
func TestCopyRefusalOfAnArchivedObjectCountsAsArchived(t *testing.T) {
	c := &copier{srcBucket: "src", srcRegion: "us-east-1", dstBucket: "dst", dstRegion: "us-west-2"}
	for _, code := range []string{"InvalidObjectState", "ObjectNotInActiveTierError"} {
		err := c.copyErr("k", &smithy.GenericAPIError{Code: code, Message: "refused"})
		if !errors.Is(err, errArchived) {
			t.Errorf("%s: %v is not errArchived", code, err)
		}
	}
	if err := c.copyErr("k", &smithy.GenericAPIError{Code: "AccessDenied"}); errors.Is(err, errArchived) {
		t.Errorf("AccessDenied counted as archived: %v", err)
	}
}
