// Package docs owns callbid's event spec: events.md (every Kafka topic with
// its key, cleanup policy, partitioning, fields and examples) and a JSON
// Schema per record type under schemas/, both embedded here so that tests of
// the producing packages can check their real output against the spec with
// Validate. Only tests import it; nothing in it runs in production.
//
// Schemas are validated with santhosh-tekuri/jsonschema/v6 (draft 2020-12,
// formats asserted). It is safe for concurrent use.
package docs

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Files holds events.md and schemas/*.schema.json.
//
//go:embed events.md schemas/*.schema.json
var Files embed.FS

// Schemas lists the record types with a schema (the NAME of
// schemas/NAME.schema.json), sorted.
func Schemas() []string {
	ents, _ := fs.ReadDir(Files, "schemas")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".schema.json"))
	}
	sort.Strings(out)
	return out
}

type compiled struct{ open, strict *jsonschema.Schema }

var (
	once    sync.Once
	schemas map[string]compiled
	loadErr error
)

func load() {
	schemas = map[string]compiled{}
	for _, name := range Schemas() {
		b, err := Files.ReadFile(path.Join("schemas", name+".schema.json"))
		if err != nil {
			loadErr = err
			return
		}
		var c compiled
		for _, strict := range []bool{false, true} {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				loadErr = fmt.Errorf("schemas/%s.schema.json: %w", name, err)
				return
			}
			url := "file:///schemas/" + name + ".schema.json"
			if strict {
				closeObjects(doc)
				url = "file:///strict/" + name + ".schema.json"
			}
			comp := jsonschema.NewCompiler()
			comp.AssertFormat()
			if err := comp.AddResource(url, doc); err != nil {
				loadErr = fmt.Errorf("schemas/%s.schema.json: %w", name, err)
				return
			}
			sch, err := comp.Compile(url)
			if err != nil {
				loadErr = fmt.Errorf("schemas/%s.schema.json: %w", name, err)
				return
			}
			if strict {
				c.strict = sch
			} else {
				c.open = sch
			}
		}
		schemas[name] = c
	}
}

// closeObjects forbids undeclared properties in every object schema (a node
// with "type": "object" and "properties"), for StrictValidate.
func closeObjects(v any) {
	switch n := v.(type) {
	case map[string]any:
		if n["type"] == "object" && n["properties"] != nil && n["additionalProperties"] == nil {
			n["additionalProperties"] = false
		}
		for _, c := range n {
			closeObjects(c)
		}
	case []any:
		for _, c := range n {
			closeObjects(c)
		}
	}
}

func validate(name string, value []byte, strict bool) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	c, ok := schemas[name]
	if !ok {
		return fmt.Errorf("no schema %q (have %s)", name, strings.Join(Schemas(), ", "))
	}
	if !json.Valid(value) {
		return fmt.Errorf("%s: value is not JSON: %.200s", name, value)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value)) // numbers as json.Number: uint64 hashes stay exact
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	sch := c.open
	if strict {
		sch = c.strict
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s: %s does not match its schema: %w", name, value, err)
	}
	return nil
}

// Validate checks one record value against schemas/name.schema.json, as a
// consumer would: unknown fields are allowed.
func Validate(name string, value []byte) error { return validate(name, value, false) }

// StrictValidate is Validate that also refuses fields the schema does not
// declare: for callbid's own producers, so a field added or renamed in code
// but not in the spec fails a test.
func StrictValidate(name string, value []byte) error { return validate(name, value, true) }
