package s3sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pilotlight/pilotlight/internal/state"
)

// CheckpointStore is where a verify that runs out of time leaves its
// position for the next run; state.Store is one.
type CheckpointStore interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, data []byte) error
	Delete(ctx context.Context, key string) error
}

// DefaultCheckpointMargin is how long before the context's deadline a
// verify with a checkpoint store stops and saves its position: enough to
// drain the HEADs in flight and write one small value.
const DefaultCheckpointMargin = 30 * time.Second

// maxCheckpointAge bounds how old a position a verify resumes from: the
// buckets keep changing, and counts gathered a day ago describe neither
// their past nor their present.
const maxCheckpointAge = 24 * time.Hour

// CheckpointKey is the state-store key of the verify position of one
// direction (failback verifies the other way and keeps its own).
func CheckpointKey(source, dest string) string {
	return "verify/" + source + "--" + dest + ".checkpoint.json"
}

// checkpoint is a verify stopped part-way: every key up to and including
// After was compared on both sides, and Partial holds what was found.
type checkpoint struct {
	After   string        `json:"after"`
	Started time.Time     `json:"started"`
	Saved   time.Time     `json:"saved"`
	Passes  int           `json:"passes"`
	Partial *VerifyResult `json:"partial"`
}

// loadCheckpoint returns the saved position of key, or nil to start afresh.
func loadCheckpoint(ctx context.Context, store CheckpointStore, key string, now time.Time) (*checkpoint, error) {
	data, err := store.Get(ctx, key)
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read verify checkpoint %s: %w", key, err)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil || cp.Partial == nil || cp.After == "" {
		// A checkpoint we cannot read costs one full listing, not a failed verify.
		return nil, nil
	}
	if now.Sub(cp.Started) > maxCheckpointAge {
		return nil, nil
	}
	return &cp, nil
}

func saveCheckpoint(ctx context.Context, store CheckpointStore, key string, cp *checkpoint) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	// The deadline that stopped the verify may be the caller's context's:
	// the position is worth more than its cancellation.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := store.Put(wctx, key, data); err != nil {
		return fmt.Errorf("save verify checkpoint %s: %w", key, err)
	}
	return nil
}
