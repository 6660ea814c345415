package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileDriver keeps one document in one file for a later step to deliver. A
// file holding another preview's document counts as absent for Get and is
// left alone by Delete.
type fileDriver struct{ path string }

func (d *fileDriver) read(id string) ([]byte, bool, error) {
	b, err := os.ReadFile(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("file: read gateway policy: %w", err)
	}
	var head struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &head) != nil || head.ID != id {
		return b, false, nil
	}
	return b, true, nil
}

func (d *fileDriver) Get(ctx context.Context, id string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	b, found, err := d.read(id)
	if !found {
		return nil, false, err
	}
	return b, true, nil
}

// Put writes a temporary file beside the target and renames it over, so a
// reader sees the old document or the new one, never half of one.
func (d *fileDriver) Put(ctx context.Context, id string, doc []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	if !json.Valid(doc) {
		return fmt.Errorf("file: document for %s is not JSON", id)
	}
	dir := filepath.Dir(d.path)
	tmp, err := os.CreateTemp(dir, ".preview-access-*.tmp")
	if err != nil {
		return fmt.Errorf("file: write gateway policy: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	// Readable by all: the action's container runs as root, and the steps
	// after it, which deliver the document, as the runner's user. The
	// document holds no secret (who may open the preview, and its URL).
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("file: write gateway policy: %w", err)
	}
	if _, err := tmp.Write(doc); err != nil {
		tmp.Close()
		return fmt.Errorf("file: write gateway policy: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("file: write gateway policy: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("file: write gateway policy: %w", err)
	}
	if err := os.Rename(tmp.Name(), d.path); err != nil {
		return fmt.Errorf("file: write gateway policy: %w", err)
	}
	return nil
}

func (d *fileDriver) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, found, err := d.read(id)
	if err != nil || !found {
		return err
	}
	if err := os.Remove(d.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file: delete gateway policy: %w", err)
	}
	return nil
}

func (d *fileDriver) List(context.Context) ([]string, error) { return nil, ErrListUnsupported }
