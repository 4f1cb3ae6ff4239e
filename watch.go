package callbid

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// Watch calls reload when the file at path changes, until ctx is done. It
// watches the file's directory rather than the file: editors and Kubernetes
// ConfigMaps replace a config by renaming a new file over it, which ends a
// watch on the old inode. Bursts of events within settle are coalesced into
// one reload.
func Watch(ctx context.Context, path string, settle time.Duration, reload func(), log zerolog.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		w.Close()
		return err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return err
	}
	go func() {
		defer w.Close()
		var timer *time.Timer
		var fire <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) != abs && filepath.Base(ev.Name) != "..data" {
					continue
				}
				if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) == 0 {
					continue
				}
				if timer == nil {
					timer = time.NewTimer(settle)
				} else {
					timer.Reset(settle)
				}
				fire = timer.C
			case <-fire:
				fire = nil
				reload()
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn().Err(err).Str("file", abs).Msg("config watch error")
			}
		}
	}()
	return nil
}
