package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pilotlight/pilotlight/internal/operation"
	"github.com/pilotlight/pilotlight/internal/s3sync"
)

// replicateVerifyOptions are replicate verify's flags.
type replicateVerifyOptions struct {
	Only string
	// SourceList is how the source's keys are read: auto (an S3 Inventory
	// when one covers the bucket, else a listing), inventory or list.
	SourceList string
}

func newReplicateVerifyCmd(app *App, only *string) *cobra.Command {
	var opts replicateVerifyOptions
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare source and replica; exit 1 unless converged",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Only = *only
			switch opts.SourceList {
			case s3sync.SourceListAuto, s3sync.SourceListInventory, s3sync.SourceListListing:
			default:
				return Exit(ExitUsage, fmt.Errorf("--source-list %q: want %s, %s or %s", opts.SourceList, s3sync.SourceListAuto, s3sync.SourceListInventory, s3sync.SourceListListing))
			}
			return runReplicateVerify(cmd.Context(), app, opts)
		},
	}
	cmd.Flags().StringVar(&opts.SourceList, "source-list", s3sync.SourceListAuto,
		"how to read the source's keys: auto (its S3 Inventory when one covers the bucket, else a listing), inventory (fail without one) or list")
	return cmd
}

func runReplicateVerify(ctx context.Context, app *App, opts replicateVerifyOptions) error {
	job, err := app.replicateJob(ctx, opts.Only)
	if err != nil {
		return err
	}
	defer job.close()
	res, errs, _ := operation.ReplicateVerify(ctx, job.deps, job.cfg, job.env, job.buckets, s3sync.VerifyOptions{Log: app.Log, SourceList: opts.SourceList})
	out := replicateResults[*s3sync.VerifyResult]{Buckets: nonNil(res)}
	for i, err := range errs {
		// A bucket that has not converged is an exit 1, not an error line.
		if err != nil && res[i] == nil {
			out.Errors = append(out.Errors, err.Error())
		}
	}
	perr := app.Print(out, func(w io.Writer) {
		for _, r := range out.Buckets {
			state := "converged"
			if !r.Converged {
				state = "NOT converged"
			}
			fmt.Fprintf(w, "%s (%s) -> %s (%s): %s: %d source objects, %d replica objects, compared by %s\n",
				r.Source, r.SourceRegion, r.Replica, r.ReplicaRegion, state, r.SourceObjects, r.ReplicaObjects, r.Compared)
			if r.SourceRead != "" {
				fmt.Fprintf(w, "  source read: %s\n", r.SourceRead)
			}
			if r.InventoryNote != "" {
				fmt.Fprintf(w, "  inventory not used: %s\n", r.InventoryNote)
			}
			if r.NotJudged > 0 || r.Gone > 0 {
				fmt.Fprintf(w, "  %d replica keys newer than the inventory not judged; %d keys deleted from the source since it was read\n", r.NotJudged, r.Gone)
			}
			replicateKeys(w, "missing", r.MissingCount, r.Missing)
			var diffs []string
			for _, d := range r.Different {
				diffs = append(diffs, d.Key+": "+d.Why)
			}
			replicateKeys(w, "different", r.DifferentCount, diffs)
			extra := "extra"
			if r.ExtraAllowed {
				extra = "extra (expected: delete markers are not replicated)"
			}
			replicateKeys(w, extra, r.ExtraCount, r.Extra)
			if r.StatusChecked > 0 {
				fmt.Fprintf(w, "  replication status of %d keys (%s): %d pending, %d failed", r.StatusChecked, r.StatusScope, r.Pending, r.Failed)
				if r.Pending > 0 {
					fmt.Fprintf(w, ", oldest pending %s", r.OldestPending.Round(time.Second))
				}
				fmt.Fprintln(w)
			}
		}
	})
	return Exit(ExitFailed, errors.Join(append(errs, perr)...))
}
