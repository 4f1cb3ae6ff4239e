package configschema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// inner is an inlined section.
type inner struct {
	// Depth is documented.
	Depth int `yaml:"depth"`
}

// sample is a config.
type sample struct {
	inner   `yaml:",inline"`
	Name    string            `yaml:"name"` // a line comment
	Wait    time.Duration     `yaml:"wait"`
	Hours   map[int]float64   `yaml:"hours"`
	Tags    map[string]string `yaml:"tags"`
	Skipped string            `yaml:"-"`
	Lower   bool
	Next    *sample `yaml:"next"`
}

type selfDecoding int

func (s *selfDecoding) UnmarshalYAML(*yaml.Node) error { return nil }

func TestGenerate(t *testing.T) {
	b, err := Generate(reflect.TypeFor[sample](), Options{Module: "github.com/callbid/callbid/configschema", Root: "."})
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Description string
		Properties  map[string]map[string]any
		Additional  *bool `json:"additionalProperties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range s.Properties {
		keys = append(keys, k)
	}
	want := "depth hours lower name next tags wait"
	if got := strings.Join(sorted(keys), " "); got != want {
		t.Fatalf("properties %s, want %s", got, want)
	}
	if s.Additional == nil || *s.Additional || s.Description != "sample is a config." {
		t.Fatalf("root: additionalProperties %v, description %q", s.Additional, s.Description)
	}
	if d := s.Properties["depth"]["description"]; d != "Depth is documented." {
		t.Fatalf("depth description %v", d)
	}
	if d := s.Properties["name"]["description"]; d != "a line comment" {
		t.Fatalf("name description %v", d)
	}
	if s.Properties["next"]["$ref"] != "#/$defs/github.com.callbid.callbid.configschema.sample" {
		t.Fatalf("recursive field %v", s.Properties["next"])
	}
	if !strings.Contains(string(b), `"propertyNames"`) {
		t.Fatal("integer map keys are not constrained")
	}

	type bad struct {
		X selfDecoding `yaml:"x"`
	}
	if _, err := Generate(reflect.TypeFor[bad](), Options{}); err == nil || !strings.Contains(err.Error(), "x (") {
		t.Fatalf("a self-decoding type without a schema: %v", err)
	}
	if _, err := Generate(reflect.TypeFor[bad](), Options{Types: map[reflect.Type]map[string]any{
		reflect.TypeFor[selfDecoding](): {"type": "integer"}}}); err != nil {
		t.Fatal(err)
	}
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}
