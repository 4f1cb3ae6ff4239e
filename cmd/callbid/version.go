package main

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// version is set at build time for release images:
//
//	go build -ldflags "-X main.version=1.4.0 -X main.revision=$(git rev-parse HEAD)" ./cmd/callbid
//
// Without them, the build info's module version ("(devel)" for a build from
// a checkout) and VCS revision (absent with -buildvcs=false, or when the
// build context has no .git, as in a container build) are used.
var version, revision string

// buildIdentity is what `callbid -version`, the start log and
// callbid_build_info say about this binary.
type buildIdentity struct {
	Version   string
	Revision  string // VCS revision, "unknown" when built with -buildvcs=false
	Modified  bool   // built from a checkout with uncommitted changes
	GoVersion string
}

func identity() buildIdentity {
	id := buildIdentity{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if id.Version == "" {
			id.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && id.Revision == "":
				id.Revision = s.Value
			case s.Key == "vcs.modified":
				id.Modified = s.Value == "true"
			}
		}
	}
	if id.Version == "" {
		id.Version = "(devel)"
	}
	if id.Revision == "" {
		id.Revision = "unknown"
	}
	return id
}

func (id buildIdentity) String() string {
	rev := id.Revision
	if id.Modified {
		rev += "-dirty"
	}
	return "callbid " + id.Version + " (revision " + rev + ", " + id.GoVersion + ")"
}

// buildInfoCollector is callbid_build_info: a constant 1 whose labels say
// which build runs, so dashboards can join any series with the version.
func buildInfoCollector(id buildIdentity) prometheus.Collector {
	rev := id.Revision
	if id.Modified {
		rev += "-dirty"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "callbid_build_info",
		Help:        "Always 1; the labels identify the running build.",
		ConstLabels: prometheus.Labels{"version": id.Version, "revision": rev, "goversion": id.GoVersion},
	})
	g.Set(1)
	return g
}
