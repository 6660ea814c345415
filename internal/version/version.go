// Package version says which build of preview-access is running.
package version

import "runtime/debug"

// String is the binary's version: the one the build stamped
// (-ldflags "-X main.version=…", as the Dockerfile and the release do), else
// the module version go install recorded, else "(devel)"; with the commit
// the build recorded, and "+dirty" for a build of a modified tree.
func String(v string) string {
	bi, ok := debug.ReadBuildInfo()
	if v == "" && ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if !ok {
		return v
	}
	var rev string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		v += " (commit " + rev
		if dirty {
			v += "+dirty"
		}
		v += ")"
	}
	return v
}
