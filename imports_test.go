package callbid

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The import rule (README, "HTTP is in httpapi/"): fasthttp and fastjson
// are imported only by the HTTP package (httpapi and its bridge), openrtb
// and the load tool (bench); no other library package reaches them through
// its imports, so only programs (package main) depend on them. capacity
// depends on neither.
func TestImportRule(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-json=ImportPath,Name,Imports,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/callbid/callbid"
	mayImport := map[string]bool{mod + "/httpapi": true, mod + "/httpapi/bridge": true, mod + "/openrtb": true, mod + "/bench": true}
	fast := func(path string) bool {
		return strings.HasPrefix(path, "github.com/valyala/fasthttp") || strings.HasPrefix(path, "github.com/valyala/fastjson")
	}
	seen, capacity := 0, false
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p struct {
			ImportPath, Name string
			Imports, Deps    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		for _, imp := range p.Imports {
			if fast(imp) && !mayImport[p.ImportPath] {
				t.Errorf("%s imports %s: only the HTTP package, openrtb and bench may", p.ImportPath, imp)
			}
		}
		for _, dep := range p.Deps {
			if fast(dep) && !mayImport[p.ImportPath] && p.Name != "main" {
				t.Errorf("%s depends on %s through its imports (go list -deps)", p.ImportPath, dep)
				break
			}
		}
		if p.ImportPath == mod+"/capacity" {
			capacity = len(p.Deps) > 0
		}
	}
	if seen < 10 || !capacity {
		t.Fatalf("go list listed %d packages, capacity with its dependencies: %v", seen, capacity)
	}
}
