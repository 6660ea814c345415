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
		ReadFile: c.env.ReadFile, LocalFiles: !c.u.actions, Log: c.u,
	}
}
