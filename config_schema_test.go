package callbid

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/callbid/callbid/bidder"
	"github.com/callbid/callbid/configschema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite docs/config.schema.json from the config types")

const schemaFile = "docs/config.schema.json"

// configSchema generates the config file's JSON Schema from Config.
func configSchema(t *testing.T) []byte {
	t.Helper()
	b, err := configschema.Generate(reflect.TypeFor[Config](), configschema.Options{
		ID:    "https://github.com/callbid/callbid/docs/config.schema.json",
		Title: "callbid config file",
		Description: "Generated from the config types (go test . -run ConfigSchema -update-schema); " +
			"the loader checks more than this (ranges, references, field paths): go run ./cmd/callbid -check-config FILE.",
		Module: "github.com/callbid/callbid", Root: ".",
		Types: map[reflect.Type]map[string]any{
			reflect.TypeFor[bidder.Money](): {
				"type":        []any{"number", "string"},
				"pattern":     `^\s*-?[0-9]*(\.[0-9]{0,6})?\s*$`,
				"description": "An amount: 12.5 or \"12.50\", at most 6 decimals.",
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The committed schema is what the config types generate.
func TestConfigSchemaUpToDate(t *testing.T) {
	got := configSchema(t)
	if *updateSchema {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the config types generate: run go test . -run ConfigSchema -update-schema", schemaFile)
	}
	if !strings.Contains(string(got), `"calls_token"`) || !strings.Contains(string(got), `"auth_token"`) {
		t.Fatal("schema lacks numbers.calls_token or numbers.twilio.auth_token")
	}
}

func compileConfigSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("config.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlAsJSON decodes YAML into the JSON data model the validator reads.
func yamlAsJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(jsonModel(v))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jsonModel turns YAML's map[any]any (integer keys) into JSON objects.
func jsonModel(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonModel(e)
		}
		return m
	case map[string]any:
		for k, e := range x {
			x[k] = jsonModel(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonModel(e)
		}
	}
	return v
}

// Every example config validates against the schema and names it on its
// first line for editors (yaml-language-server).
func TestConfigsMatchSchema(t *testing.T) {
	s := compileConfigSchema(t)
	for _, name := range []string{"callbid.yaml", "production.yaml", "bench.yaml"} {
		path := filepath.Join("configs", name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := bytes.Cut(data, []byte("\n"))
		if string(first) != "# yaml-language-server: $schema=../docs/config.schema.json" {
			t.Errorf("%s: first line %q does not name the schema", path, first)
		}
		if err := s.Validate(yamlAsJSON(t, data)); err != nil {
			t.Errorf("%s does not match %s: %v", path, schemaFile, err)
		}
	}
	// and the schema is not vacuous: a misspelt key and a wrong type fail
	for _, bad := range []string{"numbers: {calls_tokn: x}", "server: {read_timeout: [1]}", "campaigns: [{max_cpm: twelve}]"} {
		if s.Validate(yamlAsJSON(t, []byte(bad))) == nil {
			t.Errorf("%q passed the schema", bad)
		}
	}
}
