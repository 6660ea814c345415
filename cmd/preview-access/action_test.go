package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/preview-access/preview-access/internal/bootstrap"
	"github.com/preview-access/preview-access/internal/config"
)

// The -update flag is looked up rather than held in a package variable, so
// that another test file of this package may declare its own
// `var update = flag.Bool("update", …)` (package variables are initialised
// before init functions run, so this init then finds it and adds nothing).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite action.yml and the README's inputs and outputs tables from config.Inputs")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	v, ok := f.Value.(flag.Getter).Get().(bool)
	return ok && v
}

const (
	actionPath = "../../action.yml"
	readmePath = "../../README.md"
)

// actionHeader is the hand-written part of action.yml; the inputs and
// outputs below it are generated from config.Inputs and config.Outputs.
const actionHeader = `# Generated from internal/config/inputs.go (config.Inputs, config.Outputs).
# Edit the inputs there, then regenerate with:
#   go test ./cmd/preview-access -run TestActionYAML -update
name: preview-access
description: Give each pull request's preview its own short-lived AWS IAM role and gateway access; revoke both when it closes.
branding:
  icon: lock
  color: purple
`

// actionFooter: a Docker action built from the repository's Dockerfile. The
// runner hands every input to the container as INPUT_<NAME> (the name upper-
// cased, spaces as underscores, hyphens kept), which is what run.lookupFor
// reads.
const actionFooter = `runs:
  using: docker
  image: Dockerfile
`

// renderActionYAML is the whole of action.yml as -update writes it.
func renderActionYAML(t *testing.T) []byte {
	t.Helper()
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	add := func(m *yaml.Node, key string, val *yaml.Node) { m.Content = append(m.Content, str(key), val) }

	inputs := &yaml.Node{Kind: yaml.MappingNode}
	for _, in := range config.Inputs {
		m := &yaml.Node{Kind: yaml.MappingNode}
		add(m, "description", str(in.Description))
		add(m, "required", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
		if in.Default != "" {
			add(m, "default", str(in.Default))
		}
		add(inputs, in.Name, m)
	}
	outputs := &yaml.Node{Kind: yaml.MappingNode}
	for _, out := range config.Outputs {
		m := &yaml.Node{Kind: yaml.MappingNode}
		add(m, "description", str(out.Description))
		add(outputs, out.Name, m)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode}
	add(doc, "inputs", inputs)
	add(doc, "outputs", outputs)

	var b bytes.Buffer
	b.WriteString(actionHeader)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		t.Fatalf("encode action.yml: %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("encode action.yml: %v", err)
	}
	b.WriteString(actionFooter)
	return b.Bytes()
}

// actionMetadata is what the tests read back from action.yml. Inputs and
// outputs stay nodes so that their order can be checked.
type actionMetadata struct {
	Name        string    `yaml:"name"`
	Description string    `yaml:"description"`
	Inputs      yaml.Node `yaml:"inputs"`
	Outputs     yaml.Node `yaml:"outputs"`
	Runs        struct {
		Using string `yaml:"using"`
		Image string `yaml:"image"`
	} `yaml:"runs"`
}

type actionInput struct {
	Description string  `yaml:"description"`
	Required    *bool   `yaml:"required"`
	Default     *string `yaml:"default"`
}

func TestActionYAML(t *testing.T) {
	want := renderActionYAML(t)
	if updating() {
		if err := os.WriteFile(actionPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(actionPath)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./cmd/preview-access -run TestActionYAML -update)", err)
	}
	var md actionMetadata
	if err := yaml.Unmarshal(data, &md); err != nil {
		t.Fatalf("parse action.yml: %v", err)
	}

	if md.Name == "" || md.Description == "" {
		t.Errorf("action.yml: name %q, description %q; want both set", md.Name, md.Description)
	}
	if md.Runs.Using != "docker" || md.Runs.Image != "Dockerfile" {
		t.Errorf("action.yml runs: using %q, image %q; want docker, Dockerfile", md.Runs.Using, md.Runs.Image)
	}

	var gotNames, wantNames []string
	for _, in := range config.Inputs {
		wantNames = append(wantNames, in.Name)
	}
	pairs, err := mappingPairs(&md.Inputs)
	if err != nil {
		t.Fatalf("action.yml inputs: %v", err)
	}
	byName := map[string]actionInput{}
	for _, p := range pairs {
		var in actionInput
		if err := p.val.Decode(&in); err != nil {
			t.Fatalf("action.yml input %s: %v", p.key, err)
		}
		gotNames = append(gotNames, p.key)
		byName[p.key] = in
	}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("action.yml input names differ from config.Inputs (-want +got):\n%s", diff)
	}
	for _, want := range config.Inputs {
		got, ok := byName[want.Name]
		if !ok {
			continue
		}
		if got.Description != want.Description {
			t.Errorf("input %s: description %q; want %q", want.Name, got.Description, want.Description)
		}
		if got.Required == nil || *got.Required {
			t.Errorf("input %s: required is not false; every input is optional (defaults come from config.Inputs)", want.Name)
		}
		switch {
		case want.Default == "" && got.Default != nil:
			t.Errorf("input %s: default %q; want no default", want.Name, *got.Default)
		case want.Default != "" && got.Default == nil:
			t.Errorf("input %s: no default; want %q", want.Name, want.Default)
		case want.Default != "" && *got.Default != want.Default:
			t.Errorf("input %s: default %q; want %q", want.Name, *got.Default, want.Default)
		}
	}

	pairs, err = mappingPairs(&md.Outputs)
	if err != nil {
		t.Fatalf("action.yml outputs: %v", err)
	}
	var gotOutputs, wantOutputs []config.Input
	for _, p := range pairs {
		var out struct {
			Description string `yaml:"description"`
		}
		if err := p.val.Decode(&out); err != nil {
			t.Fatalf("action.yml output %s: %v", p.key, err)
		}
		gotOutputs = append(gotOutputs, config.Input{Name: p.key, Description: out.Description})
	}
	for _, out := range config.Outputs {
		wantOutputs = append(wantOutputs, config.Input{Name: out.Name, Description: out.Description})
	}
	if diff := cmp.Diff(wantOutputs, gotOutputs); diff != "" {
		t.Errorf("action.yml outputs differ from config.Outputs (-want +got):\n%s", diff)
	}

	// Last, the exact text: the header, quoting and layout are generated too.
	if diff := cmp.Diff(string(want), string(data)); diff != "" {
		t.Errorf("action.yml is not what config.Inputs generates; run go test ./cmd/preview-access -run TestActionYAML -update (-want +got):\n%s", diff)
	}
}

// TestInputNames keeps names in the shape for which the runner's environment
// variable (INPUT_ + name with spaces as underscores, upper-cased: the
// runner's Handler.AddInputsToEnvironment) is exactly what run.lookupFor
// reads (INPUT_ + strings.ToUpper(name)), and the CLI flag of the same name
// is a valid flag.
func TestInputNames(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	for _, list := range [][]config.Input{config.Inputs, config.Outputs} {
		seen := map[string]bool{}
		for _, in := range list {
			if !valid.MatchString(in.Name) {
				t.Errorf("name %q: want lowercase words joined by single hyphens", in.Name)
			}
			if seen[in.Name] {
				t.Errorf("name %q is listed twice", in.Name)
			}
			seen[in.Name] = true
			if strings.TrimSpace(in.Description) == "" {
				t.Errorf("%s: empty description", in.Name)
			}
			if strings.ContainsAny(in.Description, "\n|") {
				t.Errorf("%s: description has a newline or |, which break the README table", in.Name)
			}
		}
	}
}

type pair struct {
	key string
	val *yaml.Node
}

func mappingPairs(n *yaml.Node) ([]pair, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: not a mapping", n.Line)
	}
	var ps []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		ps = append(ps, pair{key: n.Content[i].Value, val: n.Content[i+1]})
	}
	return ps, nil
}

// README tables.

const (
	inputsStart  = "<!-- inputs:start -->"
	inputsEnd    = "<!-- inputs:end -->"
	outputsStart = "<!-- outputs:start -->"
	outputsEnd   = "<!-- outputs:end -->"
	callsStart   = "<!-- provisioner-calls:start -->"
	callsEnd     = "<!-- provisioner-calls:end -->"
)

// renderProvisionerCalls is the README's list of the provisioner's calls,
// from bootstrap.ProvisionerCalls, which its tests keep equal to what the
// policy allows.
func renderProvisionerCalls() string {
	calls := make([]string, len(bootstrap.ProvisionerCalls))
	for i, c := range bootstrap.ProvisionerCalls {
		calls[i] = "`" + c + "`"
	}
	return "The calls the action makes with the provisioner's credentials, and all that its policy allows: " + strings.Join(calls, ", ") + ".\n"
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func renderInputsTable() string {
	var b strings.Builder
	b.WriteString("| input | default | description |\n|---|---|---|\n")
	for _, in := range config.Inputs {
		def := "—"
		if in.Default != "" {
			def = "`" + in.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", in.Name, mdCell(def), mdCell(in.Description))
	}
	return b.String()
}

func renderOutputsTable() string {
	var b strings.Builder
	b.WriteString("| output | description |\n|---|---|\n")
	for _, out := range config.Outputs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", out.Name, mdCell(out.Description))
	}
	return b.String()
}

// readmeSection is the text -update puts between a pair of markers,
// markers included.
func readmeSection(start, table, end string) string {
	return start + "\n" + table + end
}

// replaceBetween replaces the text from start to end (markers included) in
// doc; ok is false when the markers are missing, repeated or out of order.
func replaceBetween(doc, start, end, section string) (string, string, bool) {
	i := strings.Index(doc, start)
	j := strings.Index(doc, end)
	if i < 0 || j < i || strings.Count(doc, start) != 1 || strings.Count(doc, end) != 1 {
		return doc, "", false
	}
	inner := doc[i+len(start) : j]
	return doc[:i] + section + doc[j+len(end):], inner, true
}

func TestREADMETables(t *testing.T) {
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatalf("%v: the README must exist and hold the inputs and outputs tables between %s/%s and %s/%s markers", err, inputsStart, inputsEnd, outputsStart, outputsEnd)
	}
	doc := string(data)
	updated := doc
	for _, s := range []struct{ start, end, table string }{
		{inputsStart, inputsEnd, renderInputsTable()},
		{outputsStart, outputsEnd, renderOutputsTable()},
		{callsStart, callsEnd, renderProvisionerCalls()},
	} {
		next, inner, ok := replaceBetween(updated, s.start, s.end, readmeSection(s.start, s.table, s.end))
		if !ok {
			t.Errorf("README.md needs exactly one %s and one %s marker, in that order: add them (the text between may be empty) and run go test ./cmd/preview-access -run TestREADMETables -update to fill them", s.start, s.end)
			continue
		}
		updated = next
		if updating() {
			continue
		}
		if diff := cmp.Diff(strings.TrimSpace(s.table), strings.TrimSpace(inner)); diff != "" {
			t.Errorf("README.md between %s and %s is not what config.Inputs, config.Outputs and bootstrap.ProvisionerCalls give; run go test ./cmd/preview-access -run TestREADMETables -update (-want +got):\n%s", s.start, s.end, diff)
		}
	}
	if updating() && updated != doc && !t.Failed() {
		if err := os.WriteFile(readmePath, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplaceBetween(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, want string
		ok              bool
	}{
		{name: "empty", doc: "a\n<!-- s -->\n<!-- e -->\nb", want: "a\n<!-- s -->\nX\n<!-- e -->\nb", ok: true},
		{name: "filled", doc: "a<!-- s -->old\nrows\n<!-- e -->b", want: "a<!-- s -->\nX\n<!-- e -->b", ok: true},
		{name: "missing", doc: "a b", want: "a b"},
		{name: "reversed", doc: "<!-- e --><!-- s -->", want: "<!-- e --><!-- s -->"},
		{name: "twice", doc: "<!-- s --><!-- e --><!-- s --><!-- e -->", want: "<!-- s --><!-- e --><!-- s --><!-- e -->"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _, ok := replaceBetween(tc.doc, "<!-- s -->", "<!-- e -->", readmeSection("<!-- s -->", "X\n", "<!-- e -->"))
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
