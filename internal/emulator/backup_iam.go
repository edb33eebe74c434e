package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
)

// AWS Backup's managed policies. The emulator starts moto without AWS's
// managed policies (MOTO_IAM_LOAD_MANAGED_POLICIES=false: loading them
// for every account is slow), so attaching the ones AWS Backup's service
// role needs answers NoSuchEntity on moto and not on AWS. With
// SimulateBackupJobs the proxy keeps those two attachments itself, and
// refuses DeleteRole while they hold, as IAM does.

var backupManagedPolicy = regexp.MustCompile(`^arn:aws(-cn)?:iam::aws:policy/service-role/AWSBackupServiceRolePolicyFor(Backup|Restores)$`)

// serveIAM answers an IAM call that touches AWS Backup's managed policies;
// handled is false for every other call, which moto answers.
func (b *backupSim) serveIAM(w http.ResponseWriter, r *http.Request, region, action string, body []byte) (status int, handled bool) {
	form := formOf(r, body)
	role, pol := form.Get("RoleName"), form.Get("PolicyArn")
	b.mu.Lock()
	attached := slices.Clone(b.attached[role])
	b.mu.Unlock()
	switch {
	case (action == "AttachRolePolicy" || action == "DetachRolePolicy") && backupManagedPolicy.MatchString(pol):
	case action == "ListAttachedRolePolicies" && len(attached) > 0:
	case action == "DeleteRole" && len(attached) > 0:
		return iamError(w, 409, "DeleteConflict", "Cannot delete entity, must detach all policies first."), true
	default:
		return 0, false
	}
	switch action {
	case "AttachRolePolicy":
		if err := b.roleExists(r.Context(), region, role); err != nil {
			return iamError(w, 404, "NoSuchEntity", err.Error()), true
		}
		b.mu.Lock()
		if !slices.Contains(b.attached[role], pol) {
			b.attached[role] = append(b.attached[role], pol)
		}
		b.mu.Unlock()
	case "DetachRolePolicy":
		b.mu.Lock()
		i := slices.Index(b.attached[role], pol)
		if i >= 0 {
			b.attached[role] = slices.Delete(b.attached[role], i, i+1)
		}
		b.mu.Unlock()
		if i < 0 {
			return iamError(w, 404, "NoSuchEntity", fmt.Sprintf("Policy %s was not found attached to role %s.", pol, role)), true
		}
	case "ListAttachedRolePolicies":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `<ListAttachedRolePoliciesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListAttachedRolePoliciesResult><IsTruncated>false</IsTruncated><AttachedPolicies>`)
		for _, a := range attached {
			fmt.Fprintf(w, `<member><PolicyName>%s</PolicyName><PolicyArn>%s</PolicyArn></member>`, policyName(a), a)
		}
		fmt.Fprint(w, `</AttachedPolicies></ListAttachedRolePoliciesResult><ResponseMetadata><RequestId>backup-sim</RequestId></ResponseMetadata></ListAttachedRolePoliciesResponse>`)
		return http.StatusOK, true
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<%sResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>backup-sim</RequestId></ResponseMetadata></%sResponse>`, action, action)
	return http.StatusOK, true
}

func policyName(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return arn
}

func (b *backupSim) roleExists(ctx context.Context, region, role string) error {
	// region is IAM's home in the partition: moto keeps IAM per partition.
	c := iam.New(iam.Options{Region: region, BaseEndpoint: aws.String(b.proxy.URL), Credentials: simCreds, RetryMaxAttempts: 1})
	_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchEntity" {
		return fmt.Errorf("The role with name %s cannot be found.", role)
	}
	return err
}

func iamError(w http.ResponseWriter, status int, code, msg string) int {
	writeAWSError(w, "iam", status, code, msg)
	return status
}
