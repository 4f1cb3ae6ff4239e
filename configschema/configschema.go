// Package configschema derives a JSON Schema (draft 2020-12) of a YAML config
// from its Go types: one property per field, named by its yaml tag (inline
// structs merged, `yaml:"-"` left out), described by the field's doc comment
// read from the package source, and closed (additionalProperties: false)
// as the strict decoder is. Types with their own YAML decoding need a schema
// from the caller (Options.Types); without one Generate fails rather than
// guess. It runs at build or test time only; no goroutines.
package configschema

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Options says how to find doc comments and which types have a fixed schema.
type Options struct {
	ID, Title, Description string
	// Module and Root map a package path under the module to its directory,
	// where the doc comments are read (packages outside get none).
	Module, Root string
	// Types are schemas of types that decode themselves (yaml.Unmarshaler).
	Types map[reflect.Type]map[string]any
}

// DurationSchema is time.Duration as yaml.v3 takes it: "15s", "20ms", or
// an integer count of nanoseconds.
var DurationSchema = map[string]any{
	"type":    []any{"string", "integer"},
	"pattern": `^-?([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$|^0$`,
}

type gen struct {
	opt  Options
	docs map[string]string // "pkg.Type" and "pkg.Type.Field" → comment
	read map[string]bool   // package paths whose source was read
	defs map[string]any
	errs []string
}

var unmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// Generate returns the schema of root, indented, with a trailing newline.
func Generate(root reflect.Type, opt Options) ([]byte, error) {
	g := &gen{opt: opt, docs: map[string]string{}, read: map[string]bool{}, defs: map[string]any{}}
	for root.Kind() == reflect.Pointer {
		root = root.Elem()
	}
	var s map[string]any
	if root.Kind() == reflect.Struct {
		s = g.object(root, "") // the root inline: editors read its properties directly
	} else {
		s = g.schema(root, "")
	}
	if len(g.errs) > 0 {
		return nil, fmt.Errorf("configschema: %s", strings.Join(g.errs, "; "))
	}
	out := map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema"}
	if opt.ID != "" {
		out["$id"] = opt.ID
	}
	if opt.Title != "" {
		out["title"] = opt.Title
	}
	if opt.Description != "" {
		out["description"] = opt.Description
	}
	for k, v := range s {
		if k != "description" || opt.Description == "" {
			out[k] = v
		}
	}
	if len(g.defs) > 0 {
		out["$defs"] = g.defs
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func defName(t reflect.Type) string {
	return strings.ReplaceAll(t.PkgPath(), "/", ".") + "." + t.Name()
}

func (g *gen) schema(t reflect.Type, path string) map[string]any {
	if s, ok := g.opt.Types[t]; ok {
		return clone(s)
	}
	if t == reflect.TypeFor[time.Duration]() {
		return clone(DurationSchema)
	}
	if t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		g.errs = append(g.errs, fmt.Sprintf("%s (%s) decodes itself: give its schema in Options.Types", path, t))
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem(), path)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), path+"[]")}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), path+"[]"), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		m := map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem(), path+".*")}
		switch t.Key().Kind() {
		case reflect.String:
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			// YAML's integer keys are strings in the JSON data model
			m["propertyNames"] = map[string]any{"pattern": "^-?[0-9]+$"}
		default:
			g.errs = append(g.errs, fmt.Sprintf("%s: map keys of %s are neither strings nor integers", path, t))
		}
		return m
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t, path)
		}
		name := defName(t)
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = map[string]any{} // placeholder: recursion refers to it
			g.defs[name] = g.object(t, path)
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	}
	g.errs = append(g.errs, fmt.Sprintf("%s: %s has no YAML form", path, t))
	return map[string]any{}
}

// object is a struct's closed object schema.
func (g *gen) object(t reflect.Type, path string) map[string]any {
	props := map[string]any{}
	g.fields(t, path, props)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if t.Name() != "" {
		if d := g.doc(t.PkgPath(), t.Name()); d != "" {
			s["description"] = d
		}
	}
	return s
}

func (g *gen) fields(t reflect.Type, path string, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if strings.Contains(","+opts+",", ",inline,") {
			if ft.Kind() != reflect.Struct {
				g.errs = append(g.errs, fmt.Sprintf("%s.%s: inline of a non-struct", path, f.Name))
				continue
			}
			g.fields(ft, path, props)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default key
		}
		fp := strings.TrimPrefix(path+"."+name, ".")
		s := g.schema(f.Type, fp)
		if d := g.doc(t.PkgPath(), t.Name()+"."+f.Name); d != "" {
			if _, ref := s["$ref"]; ref {
				s = map[string]any{"$ref": s["$ref"], "description": d} // 2020-12: siblings of $ref apply
			} else {
				s["description"] = d
			}
		}
		props[name] = s
	}
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// doc returns the doc comment of pkg's key ("Type" or "Type.Field"), read
// from the package's source on first use, as one paragraph.
func (g *gen) doc(pkg, key string) string {
	if pkg == "" || g.opt.Module == "" {
		return ""
	}
	if !g.read[pkg] {
		g.read[pkg] = true
		g.readPackage(pkg)
	}
	return g.docs[pkg+"."+key]
}

func (g *gen) readPackage(pkg string) {
	if pkg != g.opt.Module && !strings.HasPrefix(pkg, g.opt.Module+"/") {
		return
	}
	dir := filepath.Join(g.opt.Root, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(pkg, g.opt.Module), "/")))
	ents, err := os.ReadDir(dir)
	if err != nil {
		g.errs = append(g.errs, fmt.Sprintf("cannot read the source of %s: %v", pkg, err))
		return
	}
	fset := token.NewFileSet()
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".go") { // tests too: their types can be documented
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			g.errs = append(g.errs, err.Error())
			continue
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, sp := range gd.Specs {
				ts := sp.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				g.docs[pkg+"."+ts.Name.Name] = text(doc, nil)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fl := range st.Fields.List {
					for _, id := range fl.Names {
						g.docs[pkg+"."+ts.Name.Name+"."+id.Name] = text(fl.Doc, fl.Comment)
					}
				}
			}
		}
	}
}

// text joins a doc comment (or else the line comment) into one paragraph.
func text(doc, line *ast.CommentGroup) string {
	s := doc.Text()
	if s == "" {
		s = line.Text()
	}
	return strings.Join(strings.Fields(s), " ")
}
