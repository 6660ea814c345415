package run

import (
	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/engine"
)

// command is what a run is wired with: its configuration, where it
// reports, and the clients, each built once and passed on as interfaces.
type command struct {
	env    Env
	u      *ui
	cfg    config.Config
	output string
	// sample: planning the built-in sample, whose account is not the
	// caller's: neither AWS nor GitHub is read.
	sample bool
	// yes: the person confirmed taking an open PR's preview down (--yes).
	yes     bool
	clients engine.Clients
}

// engineEnv is what the engine takes from the process.
func (c *command) engineEnv() engine.Env {
	return engine.Env{
		Now: c.env.Now, HTTPClient: c.env.HTTPClient, LoadAWS: c.env.LoadAWS,
		ReadFile: c.env.ReadFile, LocalFiles: !c.u.actions, Log: uiLog{c.u},
	}
}

// uiLog is the ui as the engine's Log.
type uiLog struct{ u *ui }

func (l uiLog) Info(format string, args ...any)    { l.u.info(format, args...) }
func (l uiLog) Notice(format string, args ...any)  { l.u.notice(format, args...) }
func (l uiLog) Warning(format string, args ...any) { l.u.warning(format, args...) }
